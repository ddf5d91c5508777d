"""`doctor`: walk every step of Google's web app the backup relies on, one by one.

Headless and read-only: nothing is written into a backup, and the one download
it starts (to see that `Shift+D` still downloads) goes to a private temporary
folder, is cancelled as soon as it starts, and the folder is removed. Each step
is bounded in time, so a broken page gives a report in well under a minute
instead of a run that hangs. Every selector, URL, key and wait comes from
`google_site`, by name: a failed row names the one to fix there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gphotos_collector import google_site, page_state
from gphotos_collector.account import Account, goto, open_library, signed_out
from gphotos_collector.browser import Browser, check_profile_dir, find_browser, open_context
from gphotos_collector.downloader import (
    FetchFailed,
    ItemGone,
    SignedOutDuringRun,
    open_item,
    step_to,
)
from gphotos_collector.errors import (
    ExitCode,
    PageChangedError,
    SignedOutError,
    TemporaryError,
    UsageError,
)
from gphotos_collector.info_panel import read_taken
from gphotos_collector.lister import ListedItem, ListingError, list_items

if TYPE_CHECKING:
    from playwright.async_api import Page

PASSED = "pass"
FAILED = "fail"
NOT_REACHED = "not reached"  # a step it depends on failed: counted as failed
SKIPPED = "skipped"  # not used by this release: not a failure

STEP_LIMIT = 15.0  # seconds: no step may take longer, whatever the page does
STEP_MARGIN = 1.0  # of a step's time, kept for reporting what a bounded wait saw
LIST_LIMIT = 300  # ids listed per view at most: enough to see scrolling work
MENU_WAIT = 5.0  # for the menu and its entries to show (or go)
ALBUMS_PATH = "/albums"  # the contract's albums page; the collector does not walk it yet

# The visible scroll container and its shown anchors (href, aria-label), or null
# when no container is shown; `all` counts the hidden stale copies too.
_GRID_JS = f"""
([mainSelector, itemSelector]) => {{
  const shown = {google_site.IS_SHOWN_JS};
  const all = [...document.querySelectorAll(mainSelector)];
  const main = all.filter(shown).pop() || null;
  if (!main) return null;
  const anchors = [...main.querySelectorAll(itemSelector)].filter(shown);
  const items = anchors.map((a) => [a.href, a.getAttribute("aria-label") || ""]);
  return {{all: all.length, items: items}};
}}
"""

# The text of the item's first shown element for each selector (null: none), and
# the text of the div that follows the date (where the time and zone sit).
_INFO_FIELDS_JS = f"""
([itemScope, selectors, dateSelector]) => {{
  const shown = {google_site.IS_SHOWN_JS};
  const inItem = (selector) => {{
    for (const root of document.querySelectorAll(itemScope)) {{
      if (root.matches(selector) && shown(root)) return root;
      for (const found of root.querySelectorAll(selector)) if (shown(found)) return found;
    }}
    return null;
  }};
  const texts = selectors.map((s) => {{
    const found = inItem(s);
    return found ? found.textContent.trim() : null;
  }});
  const date = inItem(dateSelector);
  let next = date ? date.nextElementSibling : null;
  while (next && next.tagName !== "DIV") next = next.nextElementSibling;
  return [texts, next ? next.textContent.trim() : ""];
}}
"""


@dataclass(frozen=True)
class StepResult:
    """One row of the report."""

    step: str
    status: str  # PASSED, FAILED, NOT_REACHED or SKIPPED
    needed: bool  # the backup needs this step (informational rows are not)
    target: str  # the google_site selector, URL or key the step relies on
    ms: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.status in (PASSED, SKIPPED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "ok": self.ok,
            "status": self.status,
            "needed": self.needed,
            "target": self.target,
            "ms": self.ms,
            "detail": self.detail,
        }


@dataclass
class DoctorReport:
    account: Account | None
    steps: list[StepResult]
    seconds: float

    @property
    def failed(self) -> list[StepResult]:
        """The steps the backup needs that failed or were not reached."""
        return [s for s in self.steps if s.needed and not s.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.PAGE_CHANGED

    def error(self) -> PageChangedError:
        """The sentence that ends a failed report (exit code 8)."""
        failed = [s for s in self.failed if s.status == FAILED]
        unreached = [s for s in self.failed if s.status == NOT_REACHED]
        named = "; ".join(f"{s.step} ({s.target})" for s in failed) or "none"
        text = f"{len(failed)} of the steps the backup needs fail: {named}"
        if unreached:
            text += f"; {len(unreached)} more could not be tried after them: " + ", ".join(
                s.step for s in unreached
            )
        text += (
            ". The cause is most likely a change on Google's side: its page no longer "
            "matches google_site.py, the collector's one module of selectors, URLs and keys."
        )
        first = failed[0] if failed else self.failed[0]
        return PageChangedError(text, step=first.step, target=first.target)

    def as_dict(self) -> dict[str, Any]:
        account = self.account
        return {
            "account": None
            if account is None
            else {"name": account.name, "email": account.email, "account_index": account.index},
            "steps": [s.as_dict() for s in self.steps],
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
        }


class StepFailed(Exception):
    """The step saw the page differ from the contract; the message says how."""


@dataclass
class Walk:
    """What the steps share: the page, and what earlier steps found."""

    page: Page
    base_url: str
    account_index: int
    profile: Path
    account: Account | None = None
    showing: str | None = None  # the view the page shows, once opened
    grid: list[ListedItem] = field(default_factory=list)
    grid_ended: bool = False
    pair: tuple[str, str] | None = None  # the viewer's first item and the one after it
    shown: str | None = None  # the item the viewer shows
    menu_open: bool = False


class _Budget:
    """The time left of one step."""

    def __init__(self, limit: float) -> None:
        # A margin, so a bounded wait inside ends (and says so) before the step's limit.
        self.deadline = time.monotonic() + limit - STEP_MARGIN

    def left(self, at_most: float = STEP_LIMIT) -> float:
        return max(0.1, min(at_most, self.deadline - time.monotonic()))


async def _run_step(
    step: str,
    target: str,
    body: Callable[[_Budget], Awaitable[str]],
    *,
    needed: bool = True,
    limit: float = STEP_LIMIT,
) -> StepResult:
    """Time one step; its failure is a row, except a signed-out profile or an unreachable site."""
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(body(_Budget(limit)), limit)
        status = PASSED
    except (SignedOutError, TemporaryError, UsageError, SignedOutDuringRun):
        raise
    except StepFailed as failure:
        status, detail = FAILED, str(failure)
    except asyncio.TimeoutError:
        status, detail = FAILED, f"no answer within {limit:g} s"
    except Exception as error:  # Playwright's errors: the page did not do what the step needs
        status, detail = FAILED, _first_line(error)
    ms = round((time.monotonic() - started) * 1000)
    return StepResult(step, status, needed, target, ms, detail)


def _not_reached(step: str, target: str, after: str, needed: bool = True) -> StepResult:
    return StepResult(step, NOT_REACHED, needed, target, 0, f"needs {after}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- 1. signed in ---------------------------------------------------------------------


async def check_signed_in(walk: Walk) -> StepResult:
    """Open the library grid and read the account label (signed out: SignedOutError)."""
    url = google_site.view_url(walk.base_url, walk.account_index, google_site.VIEW_GRID)

    async def body(budget: _Budget) -> str:
        # An unreachable site is not a changed page: goto's TemporaryError ends the walk.
        await goto(walk.page, url, "the Google Photos library")
        try:
            walk.account = await asyncio.wait_for(
                open_library(walk.page, walk.base_url, walk.account_index, walk.profile),
                budget.left(),
            )
        except asyncio.TimeoutError:
            raise StepFailed(
                f"no element matches {google_site.ACCOUNT_LABEL_SELECTOR} on {walk.page.url}"
            ) from None
        except TemporaryError as error:  # the label is there but reads differently
            raise StepFailed(error.message) from None
        finally:
            walk.showing = google_site.VIEW_GRID
        return str(walk.account)

    return await _run_step("signed in", google_site.ACCOUNT_LABEL_SELECTOR, body)


async def _open_view(walk: Walk, view: str, budget: _Budget) -> None:
    """Show a view's grid, as the listing does (by URL when the account label is unreadable)."""
    if walk.showing == view:
        return
    walk.showing = None
    if walk.account is not None:
        try:
            await asyncio.wait_for(
                open_library(walk.page, walk.base_url, walk.account_index, walk.profile, view),
                budget.left(),
            )
        except TemporaryError as error:
            raise StepFailed(error.message) from None
    else:
        url = google_site.view_url(walk.base_url, walk.account_index, view)
        await goto(walk.page, url, f"the Google Photos {view} page")
        if google_site.is_signed_out_url(walk.page.url):
            raise signed_out(walk.profile, walk.account_index, url=walk.page.url)
    walk.showing = view


# --- 2. the grid ----------------------------------------------------------------------


async def _grid_snapshot(page: Page) -> dict[str, Any] | None:
    snapshot: dict[str, Any] | None = await page.evaluate(
        _GRID_JS, [google_site.SCROLL_CONTAINER_SELECTOR, google_site.GRID_ITEM_SELECTOR]
    )
    return snapshot


async def _poll_grid(
    page: Page, ready: Callable[[dict[str, Any] | None], bool], timeout: float
) -> dict[str, Any] | None:
    """Poll the grid until `ready` says so or the time is up; the last snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        await page_state.dismiss_dialogs(page)
        snapshot = await _grid_snapshot(page)
        if ready(snapshot) or time.monotonic() >= deadline:
            return snapshot
        await asyncio.sleep(page_state.POLL_INTERVAL)


async def check_grid_container(walk: Walk) -> StepResult:
    """A visible scroll container (hidden stale copies never count)."""

    async def body(budget: _Budget) -> str:
        await _open_view(walk, google_site.VIEW_GRID, budget)
        wait = budget.left(google_site.GRID_STEP_TIMEOUT)
        snapshot = await _poll_grid(walk.page, lambda s: s is not None, wait)
        if snapshot is None:
            raise StepFailed(f"no visible element matches it within {wait:g} s on {walk.page.url}")
        hidden = int(snapshot["all"]) - 1
        return (
            f"found ({hidden} hidden stale {'copy' if hidden == 1 else 'copies'} ignored)"
            if hidden
            else "found"
        )

    return await _run_step("grid container", google_site.SCROLL_CONTAINER_SELECTOR, body)


def _ids_of(items: list[list[str]]) -> list[str]:
    found = (google_site.ITEM_ID_IN_URL.search(href) for href, _ in items)
    return [m.group(1) for m in found if m]


async def check_grid_items(walk: Walk) -> StepResult:
    """Item anchors with ids in the visible container."""

    async def body(budget: _Budget) -> str:
        wait = budget.left(google_site.GRID_STEP_TIMEOUT)
        snapshot = await _poll_grid(
            walk.page, lambda s: s is not None and bool(_ids_of(s["items"])), wait
        )
        if snapshot is None:
            raise StepFailed("no visible grid container")
        ids = _ids_of(snapshot["items"])
        if not ids:
            raise StepFailed(
                f"no shown anchor with an item id in the visible container within {wait:g} s "
                f"({len(snapshot['items'])} anchors match)"
            )
        return f"{len(ids)} in the DOM, e.g. {ids[0]}"

    return await _run_step("grid items", google_site.GRID_ITEM_SELECTOR, body)


def _label_target() -> str:
    return f"aria-label of {google_site.GRID_ITEM_SELECTOR}"


async def check_grid_labels(walk: Walk) -> StepResult:
    """The anchors' aria-labels give the kind and the capture time."""

    async def body(budget: _Budget) -> str:
        snapshot = await _grid_snapshot(walk.page)
        labels = [label for _, label in (snapshot or {"items": []})["items"]]
        if not labels:
            raise StepFailed("no anchor to read")
        unread = [label for label in labels if google_site.parse_grid_label(label)[1] is None]
        if unread:
            raise StepFailed(
                f"{len(unread)} of {len(labels)} labels do not parse, e.g. {unread[0]!r}"
            )
        return f"{len(labels)} of {len(labels)} parse, e.g. {labels[0]!r}"

    return await _run_step("grid labels", _label_target(), body)


def _grid_url(walk: Walk) -> str:
    return google_site.view_url(walk.base_url, walk.account_index, google_site.VIEW_GRID)


def _ids(count: int) -> str:
    return f"{count} id" if count == 1 else f"{count} ids"


async def _list_view(walk: Walk, view: str, budget: _Budget) -> tuple[list[ListedItem], bool, str]:
    """List a view from its top, bounded in ids and in time: the ids, ended?, and how."""
    await _open_view(walk, view, budget)
    listed: list[ListedItem] = []

    async def collect(item: ListedItem, follows: bool) -> None:
        listed.append(item)

    wait = budget.left()
    try:
        result = await asyncio.wait_for(
            list_items(
                walk.page,
                view=view,
                is_known=lambda item_id: False,
                on_new=collect,
                stop_after_known=None,
                max_seen=LIST_LIMIT,
            ),
            wait,
        )
    except asyncio.TimeoutError:
        if not listed:
            raise StepFailed(f"no id listed within {wait:.0f} s") from None
        return listed, False, f"stopped after {_ids(len(listed))} at the time limit (bounded)"
    except ListingError as error:
        if google_site.is_signed_out_url(walk.page.url):
            raise signed_out(
                walk.profile, walk.account_index, "during doctor", walk.page.url
            ) from None
        raise StepFailed(str(error)) from None
    finally:
        walk.showing = None  # scrolled away from the top
    if result.reached_end:
        how = f"end detected after {_ids(len(listed))}" if listed else "empty, end detected"
        return listed, True, how
    return listed, False, f"stopped after {_ids(len(listed))} (bounded)"


async def check_grid_scrolling(walk: Walk) -> StepResult:
    """Scrolling the grid lists ids down to its end (or to the bound)."""

    async def body(budget: _Budget) -> str:
        walk.grid, walk.grid_ended, how = await _list_view(walk, google_site.VIEW_GRID, budget)
        if not walk.grid:
            raise StepFailed(f"the grid lists no item ({how})")
        return how

    return await _run_step("grid scrolling", _grid_url(walk), body)


async def check_grid(walk: Walk) -> list[StepResult]:
    """The grid's rows; without a visible container the others cannot pass."""
    container = await check_grid_container(walk)
    if not container.ok:
        after = "the grid container"
        return [
            container,
            _not_reached("grid items", google_site.GRID_ITEM_SELECTOR, after),
            _not_reached("grid labels", _label_target(), after),
            _not_reached("grid scrolling", _grid_url(walk), after),
        ]
    items = await check_grid_items(walk)
    labels = (
        await check_grid_labels(walk)
        if items.ok
        else _not_reached("grid labels", _label_target(), "grid items")
    )
    return [container, items, labels, await check_grid_scrolling(walk)]


# --- 3., 4. Recently added and the Archive --------------------------------------------


async def check_view(walk: Walk, view: str, step: str, empty_ok: bool) -> StepResult:
    """Another view's grid lists ids the same way (the Archive may be empty)."""
    url = google_site.view_url(walk.base_url, walk.account_index, view)

    async def body(budget: _Budget) -> str:
        listed, _, how = await _list_view(walk, view, budget)
        if not listed and not empty_ok:
            raise StepFailed(f"it lists no item ({how})")
        if listed and walk.grid_ended and view == google_site.VIEW_RECENT:
            in_grid = len({i.id for i in listed} & {i.id for i in walk.grid})
            how += f"; {in_grid} of them in the grid"
        return how

    return await _run_step(step, url, body)


# --- 5., 6. the viewer ----------------------------------------------------------------


def _viewer_pair(grid: list[ListedItem]) -> tuple[str, str] | None:
    """Two neighbours of the grid, photos if possible (a video may still be processing)."""
    if len(grid) < 2:
        return None
    for first, second in itertools.pairwise(grid):
        if first.kind == second.kind == "photo":
            return first.id, second.id
    return grid[0].id, grid[1].id


async def _open_viewer(walk: Walk, item_id: str, wait: float) -> None:
    url = google_site.item_url(walk.base_url, walk.account_index, item_id)
    walk.showing = walk.shown = None
    try:
        await asyncio.wait_for(open_item(walk.page, url, item_id), wait)
    except asyncio.TimeoutError:
        viewer = google_site.VIEWER_SELECTOR.format(item_id=item_id)
        raise StepFailed(f"no element matches {viewer} within {wait:.0f} s") from None
    except SignedOutDuringRun:
        raise signed_out(walk.profile, walk.account_index, "during doctor", walk.page.url) from None
    except (ItemGone, FetchFailed) as error:
        raise StepFailed(str(error)) from None
    walk.shown = item_id


async def check_viewer_opens(walk: Walk) -> StepResult:
    target = google_site.VIEWER_SELECTOR
    walk.pair = _viewer_pair(walk.grid)
    if walk.pair is None:
        return _not_reached("viewer opens", target, "two ids from the grid")
    first = walk.pair[0]

    async def body(budget: _Budget) -> str:
        await _open_viewer(walk, first, budget.left())
        return f"item {first}"

    return await _run_step("viewer opens", target, body)


async def check_next_item(walk: Walk) -> StepResult:
    target = google_site.NEXT_ITEM_KEY
    if walk.pair is None or walk.shown != walk.pair[0]:
        return _not_reached("next item", target, "the viewer")
    second = walk.pair[1]

    async def body(budget: _Budget) -> str:
        try:
            stepped = await step_to(walk.page, second)
        except SignedOutDuringRun:
            raise signed_out(
                walk.profile, walk.account_index, "during doctor", walk.page.url
            ) from None
        except ItemGone as error:
            raise StepFailed(str(error)) from None
        again = ""
        if not stepped and walk.pair is not None and walk.pair[0] in walk.page.url:
            # A key pressed before the item's data arrived can be lost: press it once more.
            stepped, again = await step_to(walk.page, second), " (at the second press)"
        if not stepped:
            raise StepFailed(f"the viewer did not step to {second} (it shows {walk.page.url})")
        walk.shown = second
        return f"item {second}{again}"

    result = await _run_step("next item", target, body)
    if not result.ok:
        # The info panel and the menu are still worth a look: back to the first item.
        with contextlib.suppress(StepFailed):
            await _open_viewer(walk, walk.pair[0], STEP_LIMIT - STEP_MARGIN)
    return result


# --- 7. the info panel ----------------------------------------------------------------


async def check_info_panel(walk: Walk) -> list[StepResult]:
    """Date taken, Time taken (and zone) through read_taken; the file name as shown."""
    date_target = google_site.INFO_DATE_SELECTOR
    time_target = google_site.INFO_TIME_SELECTOR
    name_target = google_site.INFO_FILENAME_SELECTOR
    item_id = walk.shown
    if item_id is None:
        return [
            _not_reached("date taken", date_target, "the viewer"),
            _not_reached("time taken", time_target, "the viewer"),
            _not_reached("filename", name_target, "the viewer", needed=False),
        ]
    fields: dict[str, Any] = {}

    async def read_date(budget: _Budget) -> str:
        fields["taken"] = await read_taken(walk.page, item_id)
        texts, after_date = await walk.page.evaluate(
            _INFO_FIELDS_JS,
            [google_site.item_scope(item_id), [date_target, time_target, name_target], date_target],
        )
        fields["date"], fields["time"], fields["name"] = texts
        # The time and the zone sit together in the div after the date, as read_taken reads.
        together = after_date if texts[1] and texts[1] in after_date else None
        fields["time_and_zone"] = together or " ".join(t for t in (texts[1], after_date) if t)
        date_text = fields["date"]
        if date_text is None:
            opener = google_site.OPEN_INFO_SELECTOR
            if not await walk.page.locator(opener).locator("visible=true").count():
                raise StepFailed(f"no shown element matches it, nor the Open info button {opener}")
            raise StepFailed(f"no shown element of item {item_id} matches it")
        # A time that always reads tells whether the date alone parses.
        if google_site.parse_info_taken(date_text, "12:00 PM") is None:
            raise StepFailed(f"{date_text!r} does not read as a date")
        return repr(date_text)

    async def read_time(budget: _Budget) -> str:
        time_text = fields.get("time")
        if time_text is None:
            raise StepFailed(f"no shown element of item {item_id} matches it")
        taken = fields.get("taken")
        if taken is None or not google_site.INFO_TIME.search(time_text):
            raise StepFailed(f"{time_text!r} does not read as a time")
        zone = "no GMT zone shown" if taken.tzinfo is None else f"zone {taken.tzinfo}"
        return f"{fields['time_and_zone']!r}: {taken:%H:%M}, {zone}"

    async def read_name(budget: _Budget) -> str:
        name = fields.get("name")
        if not name:
            raise StepFailed(f"no shown element of item {item_id} matches it")
        return repr(name)

    return [
        await _run_step("date taken", date_target, read_date),
        await _run_step("time taken", time_target, read_time),
        # This release names files after the download, not the panel.
        await _run_step("filename", name_target, read_name, needed=False),
    ]


# --- 8. the More options menu ---------------------------------------------------------


async def check_menu(walk: Walk) -> list[StepResult]:
    """The menu opens, holds Download (and maybe Download original), and closes."""
    more = google_site.MORE_OPTIONS_SELECTOR
    entry_target = google_site.DOWNLOAD_MENU_ITEM_SELECTOR
    original_target = google_site.DOWNLOAD_ORIGINAL_MENU_ITEM_SELECTOR
    close_key = google_site.MENU_CLOSE_KEY
    item_id = walk.shown
    if item_id is None:
        return [
            _not_reached("More options menu", more, "the viewer"),
            _not_reached("Download entry", entry_target, "the viewer"),
            _not_reached("Download original entry", original_target, "the viewer", needed=False),
            _not_reached("menu closes", close_key, "the viewer"),
        ]
    page = walk.page
    entry = page.locator(entry_target).locator("visible=true")

    async def open_menu(budget: _Budget) -> str:
        await page_state.dismiss_dialogs(page)
        # As the downloader does: the item's own button, else the last one on show.
        scoped = page.locator(f"{google_site.item_scope(item_id)} {more}")
        where = "the item's"
        if not await scoped.count():
            scoped = page.locator(more).locator("visible=true")
            where = "the page's"
        if not await scoped.count():
            raise StepFailed("no element matches it")
        await scoped.last.click(timeout=budget.left(MENU_WAIT) * 1000)
        walk.menu_open = True
        return f"{where} button opens a menu"

    async def find_entry(budget: _Budget) -> str:
        try:
            await entry.first.wait_for(timeout=budget.left(MENU_WAIT) * 1000)
        except Exception:
            raise StepFailed("the open menu holds no shown entry matching it") from None
        return "present"

    async def find_original(budget: _Budget) -> str:
        if await page.locator(original_target).locator("visible=true").count():
            return "present: this item is edited"
        return "absent: this item is not edited (informational)"

    async def close_menu(budget: _Budget) -> str:
        await page.keyboard.press(close_key)
        walk.menu_open = False
        try:
            await entry.first.wait_for(state="hidden", timeout=budget.left(MENU_WAIT) * 1000)
        except Exception:
            walk.menu_open = True
            raise StepFailed("the menu is still open") from None
        return "closed"

    opened = await _run_step("More options menu", more, open_menu)
    if not opened.ok:
        return [
            opened,
            _not_reached("Download entry", entry_target, "the menu"),
            _not_reached("Download original entry", original_target, "the menu", needed=False),
            _not_reached("menu closes", close_key, "the menu"),
        ]
    return [
        opened,
        await _run_step("Download entry", entry_target, find_entry),
        await _run_step("Download original entry", original_target, find_original, needed=False),
        await _run_step("menu closes", close_key, close_menu),
    ]


# --- 9. Shift+D -----------------------------------------------------------------------


async def check_download_key(walk: Walk) -> StepResult:
    """The key starts a download; it is cancelled at once and its file deleted."""
    target = google_site.DOWNLOAD_KEY
    item_id = walk.shown
    if item_id is None:
        return _not_reached("download key", target, "the viewer")
    page = walk.page

    async def body(budget: _Budget) -> str:
        if walk.menu_open:  # an open menu would take the key
            await page.keyboard.press(google_site.MENU_CLOSE_KEY)
        await page_state.dismiss_dialogs(page)
        wait = budget.left(google_site.DOWNLOAD_START_TIMEOUT) - 1
        try:
            async with page.expect_download(timeout=wait * 1000) as started:
                await page.keyboard.press(target)
            download = await started.value
        except Exception:
            processing = page_state.Signs(
                texts=(("processing", google_site.PROCESSING_TEXT),),
                text_scope=google_site.item_scope(item_id),
            )
            if await page_state.probe(page, processing):
                raise StepFailed(
                    f"no download: item {item_id} is a video Google is still processing"
                ) from None
            raise StepFailed(f"no download started within {wait:.0f} s") from None
        name = download.suggested_filename
        try:
            await download.cancel()
            cancelled = bool(await download.failure())
        finally:
            # A cancelled download has no file (delete says "canceled"); a finished one has.
            with contextlib.suppress(Exception):
                await download.delete()
        how = "cancelled" if cancelled else "done before the cancel (a small file), deleted"
        return f"started {name!r}, {how}"

    return await _run_step("download key", target, body)


# --- 10. albums -----------------------------------------------------------------------


def check_albums() -> StepResult:
    return StepResult("albums", SKIPPED, False, ALBUMS_PATH, 0, "not used by this release")


# --- the walk -------------------------------------------------------------------------


async def walk_contract(walk: Walk) -> list[StepResult]:
    """Every step, in order; a failed step stops only the steps that depend on it."""
    steps = [await check_signed_in(walk)]
    steps.extend(await check_grid(walk))
    steps.append(await check_view(walk, google_site.VIEW_RECENT, "recently added", False))
    steps.append(await check_view(walk, google_site.VIEW_ARCHIVE, "archive", True))
    steps.append(await check_viewer_opens(walk))
    steps.append(await check_next_item(walk))
    steps.extend(await check_info_panel(walk))
    steps.extend(await check_menu(walk))
    steps.append(await check_download_key(walk))
    steps.append(check_albums())
    return steps


_MISSING = object()


@contextlib.contextmanager
def site_overrides(overrides: Mapping[str, object] | None) -> Iterator[None]:
    """Replace names of google_site for one walk: a changed page simulated, or a fix tried.

    The collector's functions read google_site's names when they run, so they
    see the replacements too; names other modules copied at import (the account
    signs of account.py) keep their value. Restored afterwards.
    """
    overrides = dict(overrides or {})
    for name, value in overrides.items():
        current = getattr(google_site, name, _MISSING)
        if not name.isupper() or current is _MISSING:
            raise UsageError(f"google_site has no name {name}")
        if type(value) is not type(current):
            raise UsageError(f"google_site.{name} is a {type(current).__name__}")
    saved = {name: getattr(google_site, name) for name in overrides}
    try:
        for name, value in overrides.items():
            setattr(google_site, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(google_site, name, value)


async def _doctor(
    profile: Path, account_index: int, base_url: str, browser: Browser
) -> DoctorReport:
    from playwright.async_api import async_playwright

    started = time.monotonic()
    # The one download goes here, never into a backup; removed with what is in it.
    with tempfile.TemporaryDirectory(prefix="gphotos-doctor-") as downloads:
        async with async_playwright() as playwright:
            context = await open_context(playwright, browser, profile, Path(downloads))
            try:
                context.set_default_timeout(STEP_LIMIT * 1000)
                page = context.pages[0] if context.pages else await context.new_page()
                walk = Walk(page, base_url, account_index, profile)
                steps = await walk_contract(walk)
            finally:
                await context.close()
    return DoctorReport(walk.account, steps, time.monotonic() - started)


def run_doctor(
    profile: Path,
    account_index: int,
    base_url: str,
    browser_choice: str,
    site: Mapping[str, object] | None = None,
) -> DoctorReport:
    """Walk the contract headless; raises SignedOutError (exit 3) if nobody is signed in.

    `site` replaces google_site names for this walk, e.g.
    `{"MORE_OPTIONS_SELECTOR": '[aria-label="Options"]'}`.
    """
    check_profile_dir(profile)
    browser = find_browser(browser_choice)
    with site_overrides(site):
        return asyncio.run(_doctor(profile, account_index, base_url, browser))
