"""List stage: walk one view's grid from the top and find item ids.

Each view (the library by date taken, Recently added by upload time, the
Archive) is a grid of the same structure, so one lister serves them all. The
grid is virtualised (only a window of anchors is in the DOM), so ids are
collected while scrolling the visible `role=main` container (the app keeps
earlier copies hidden in the page: they never count). An incremental run stops
at the first run of already-known ids; otherwise a listing ends only for a
positive reason: the visible container is at its bottom and stays there after
the app had time to load more. Anything else is an error naming the view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gphotos_collector import google_site

if TYPE_CHECKING:
    from playwright.async_api import Page

POLL_INTERVAL = 0.1
SCROLL_FRACTION = 0.8  # of a viewport per step: consecutive windows overlap

# The visible scroll container, preferably one holding an item: hidden stale copies of
# earlier pages never count.
_VISIBLE_MAIN_JS = f"""
(mainSelector, itemSelector) => {{
  const shown = {google_site.IS_SHOWN_JS};
  const all = [...document.querySelectorAll(mainSelector)].filter(shown);
  return all.filter((e) => e.querySelector(itemSelector)).pop() || all.pop() || null;
}}
"""

# The visible container's anchors in DOM order, how many are in view, and where
# the scroller stands; found=false when no visible container exists (yet).
_SNAPSHOT_JS = f"""
([mainSelector, itemSelector, dialogCancel, daySelector, withText]) => {{
  ({google_site.DISMISS_DIALOGS_JS})(dialogCancel);
  const main = ({_VISIBLE_MAIN_JS})(mainSelector, itemSelector);
  if (!main) return {{items: [], visible: 0, top: 0, height: 0, view: 0, found: false, days: 0}};
  const shown = {google_site.IS_SHOWN_JS};
  const anchors = Array.from(main.querySelectorAll(itemSelector)).filter(shown);
  const box = main.getBoundingClientRect();
  let visible = 0;
  for (const a of anchors) {{
    const r = a.getBoundingClientRect();
    if (r.bottom > box.top && r.top < box.bottom && r.height > 0) visible++;
  }}
  return {{
    items: anchors.map(a => [
      a.href, (withText ? a.innerText : a.getAttribute("aria-label")) || "",
    ]),
    visible: visible,
    top: main.scrollTop,
    height: main.scrollHeight,
    view: main.clientHeight,
    found: true,
    days: main.querySelectorAll(daySelector).length,
  }};
}}
"""

_SCROLL_JS = f"""
([mainSelector, itemSelector, fraction]) => {{
  const main = ({_VISIBLE_MAIN_JS})(mainSelector, itemSelector);
  if (!main) return;
  main.scrollTop = main.scrollTop + Math.max(1, main.clientHeight * fraction);
  main.dispatchEvent(new Event("scroll"));
}}
"""


class ListingError(Exception):
    """A view's listing stopped for no positive reason: it cannot be trusted as whole."""

    def __init__(self, view: str, why: str, *, target: str, empty: bool) -> None:
        super().__init__(f"listing {view} stopped: {why}")
        self.view = view
        self.target = target  # the selector that found nothing more
        self.empty = empty  # not one item (or no container) seen: the page changed?


@dataclass(frozen=True)
class ListedItem:
    id: str
    kind: str  # photo or video
    label_time: datetime | None  # naive local capture time from the grid label


@dataclass
class ListResult:
    view: str = google_site.VIEW_GRID
    seen: list[str] = field(default_factory=list)  # every id met, in grid order
    new: int = 0
    known: int = 0  # already-known ids met in the date window
    reached_end: bool = False  # walked the whole grid


@dataclass
class _Snapshot:
    items: list[tuple[str, str]]
    visible: int  # anchors in view: 0 means the view is still loading
    top: float
    height: float
    view: float
    found: bool  # a visible container exists
    days: int  # day headers in it

    @property
    def at_bottom(self) -> bool:
        return self.top + self.view >= self.height - 2


async def _snapshot(
    page: Page,
    container: str = google_site.SCROLL_CONTAINER_SELECTOR,
    item_selector: str = google_site.GRID_ITEM_SELECTOR,
    *,
    with_text: bool = False,
) -> _Snapshot:
    raw: dict[str, Any] = await page.evaluate(
        _SNAPSHOT_JS,
        [
            container,
            item_selector,
            google_site.DIALOG_CANCEL_SELECTOR,
            google_site.DAY_HEADER_SELECTOR,
            with_text,
        ],
    )
    return _Snapshot(
        items=[(str(h), str(lbl)) for h, lbl in raw["items"]],
        visible=int(raw["visible"]),
        top=float(raw["top"]),
        height=float(raw["height"]),
        view=float(raw["view"]),
        found=bool(raw["found"]),
        days=int(raw["days"]),
    )


def _in_window(item: ListedItem, since: date | None, until: date | None) -> bool:
    if item.label_time is None:
        return True
    day = item.label_time.date()
    return (since is None or day >= since) and (until is None or day <= until)


async def list_items(
    page: Page,
    *,
    is_known: Callable[[str], bool],
    on_new: Callable[[ListedItem, bool], Awaitable[None]],
    view: str = google_site.VIEW_GRID,
    stop_after_known: int | None = google_site.KNOWN_RUN_TO_STOP,
    settle_time: float = google_site.GRID_SETTLE_TIME,
    since: date | None = None,
    until: date | None = None,
    max_seen: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    container: str = google_site.SCROLL_CONTAINER_SELECTOR,
) -> ListResult:
    """Walk the open grid of `view` from its top, calling on_new for each new item.

    on_new's second argument says whether the item directly follows the
    previous new one in the grid (a viewer can step from one to the other).
    The walk stops after `stop_after_known` known ids in a row (None: never),
    after `max_seen` ids, or at the end of the grid: the bottom of the visible
    container, with nothing new for `settle_time`. A grid that stops loading
    raises ListingError. `since` stops at older items only in date-ordered views.
    """
    result = ListResult(view=view)
    date_ordered = view != google_site.VIEW_RECENT
    seen: set[str] = set()
    known_run = 0
    follows = False  # the previous grid item was new
    last_change = time.monotonic()
    last_height = -1.0
    while True:
        snap = await _snapshot(page, container)
        changed = snap.height != last_height
        last_height = snap.height
        for href, label in snap.items:
            match = google_site.ITEM_ID_IN_URL.search(href)
            if not match or match.group(1) in seen:
                continue
            changed = True
            item_id = match.group(1)
            seen.add(item_id)
            result.seen.append(item_id)
            kind, label_time = google_site.parse_grid_label(label)
            item = ListedItem(item_id, kind, label_time)
            if date_ordered and since and label_time and label_time.date() < since:
                return result  # the grid is newest first: the rest is older still
            if not _in_window(item, since, until):
                follows = False
                continue
            if is_known(item_id):
                follows = False
                result.known += 1
                known_run += 1
                if stop_after_known is not None and known_run >= stop_after_known:
                    return result
                continue
            known_run = 0
            result.new += 1
            await on_new(item, follows)
            follows = True
            if max_seen is not None and len(result.seen) >= max_seen:
                return result
        if max_seen is not None and len(result.seen) >= max_seen:
            return result
        if on_progress is not None:
            on_progress(len(result.seen))
        now = time.monotonic()
        if changed:
            last_change = now
        if snap.found and snap.at_bottom:
            # Nothing below: wait a little for the app to load more, else it is the end.
            if now - last_change >= settle_time:
                if not result.seen and snap.days:  # days shown, no item: not an empty view
                    raise ListingError(
                        view,
                        f"the grid shows {snap.days} days but no item matches",
                        target=google_site.GRID_ITEM_SELECTOR,
                        empty=True,
                    )
                result.reached_end = True
                return result
        elif snap.found and snap.visible:
            await page.evaluate(
                _SCROLL_JS, [container, google_site.GRID_ITEM_SELECTOR, SCROLL_FRACTION]
            )
        elif now - last_change >= google_site.GRID_STEP_TIMEOUT:
            if snap.found:
                why = f"the grid stopped loading after {len(result.seen)} items"
                target = google_site.GRID_ITEM_SELECTOR
            else:
                why = f"no visible grid ({container}) on {page.url}"
                target = container
            raise ListingError(view, why, target=target, empty=not result.seen)
        await asyncio.sleep(POLL_INTERVAL)


async def list_links(
    page: Page,
    view: str,
    *,
    container: str,
    link_selector: str,
    settle_time: float = google_site.GRID_SETTLE_TIME,
) -> list[tuple[str, str]]:
    """Every link of a virtualised list that is not a grid of items (the albums list):
    (href, text) in list order, walked to its proven end like a grid."""
    found: dict[str, str] = {}
    last_change = time.monotonic()
    last_height = -1.0
    while True:
        snap = await _snapshot(page, container, link_selector, with_text=True)
        changed = snap.height != last_height
        last_height = snap.height
        for href, text in snap.items:
            if href not in found:
                found[href] = text
                changed = True
        now = time.monotonic()
        if changed:
            last_change = now
        if snap.found and snap.at_bottom:
            if now - last_change >= settle_time:
                return list(found.items())
        elif snap.found and (snap.visible or found):
            await page.evaluate(_SCROLL_JS, [container, link_selector, SCROLL_FRACTION])
        elif now - last_change >= google_site.GRID_STEP_TIMEOUT:
            why = (
                f"the list stopped loading after {len(found)} entries"
                if snap.found
                else f"no visible list ({container}) on {page.url}"
            )
            raise ListingError(view, why, target=link_selector, empty=not found)
        await asyncio.sleep(POLL_INTERVAL)
