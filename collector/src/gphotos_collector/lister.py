"""List stage: walk the library grid from the newest item and find item ids.

The grid is virtualised (only a window of anchors is in the DOM), so ids are
collected while scrolling the `role=main` container, in grid order. An
incremental run stops at the first run of already-known ids; a full scan goes
to the end, which is detected by the grid no longer growing at the bottom.
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

# The anchors in DOM order, how many are in view, and where the scroller stands.
_SNAPSHOT_JS = """
([mainSelector, itemSelector]) => {
  const main = document.querySelector(mainSelector);
  const root = main || document;
  const anchors = Array.from(root.querySelectorAll(itemSelector));
  const scroller = main || document.scrollingElement;
  const box = main ? main.getBoundingClientRect() : {top: 0, bottom: window.innerHeight};
  let visible = 0;
  for (const a of anchors) {
    const r = a.getBoundingClientRect();
    if (r.bottom > box.top && r.top < box.bottom && r.height > 0) visible++;
  }
  return {
    items: anchors.map(a => [a.href, a.getAttribute("aria-label") || ""]),
    visible: visible,
    top: scroller ? scroller.scrollTop : 0,
    height: scroller ? scroller.scrollHeight : 0,
    view: scroller ? scroller.clientHeight : 0,
  };
}
"""

_SCROLL_JS = """
([mainSelector, fraction]) => {
  const scroller = document.querySelector(mainSelector) || document.scrollingElement;
  if (!scroller) return;
  scroller.scrollTop = scroller.scrollTop + Math.max(1, scroller.clientHeight * fraction);
  scroller.dispatchEvent(new Event("scroll"));
}
"""


@dataclass(frozen=True)
class ListedItem:
    id: str
    kind: str  # photo or video
    label_time: datetime | None  # naive local capture time from the grid label


@dataclass
class ListResult:
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

    @property
    def at_bottom(self) -> bool:
        return self.top + self.view >= self.height - 2


async def _snapshot(page: Page) -> _Snapshot:
    raw: dict[str, Any] = await page.evaluate(
        _SNAPSHOT_JS, [google_site.SCROLL_CONTAINER_SELECTOR, google_site.GRID_ITEM_SELECTOR]
    )
    return _Snapshot(
        items=[(str(h), str(lbl)) for h, lbl in raw["items"]],
        visible=int(raw["visible"]),
        top=float(raw["top"]),
        height=float(raw["height"]),
        view=float(raw["view"]),
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
    stop_after_known: int | None = google_site.KNOWN_RUN_TO_STOP,
    settle_time: float = google_site.GRID_SETTLE_TIME,
    since: date | None = None,
    until: date | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ListResult:
    """Walk the open library grid newest first, calling on_new for each new item.

    on_new's second argument says whether the item directly follows the
    previous new one in the grid (a viewer can step from one to the other).
    The walk stops after `stop_after_known` known ids in a row (None: never),
    or at the end of the grid: the bottom, with nothing new for `settle_time`.
    """
    result = ListResult()
    seen: set[str] = set()
    known_run = 0
    follows = False  # the previous grid item was new
    last_change = time.monotonic()
    last_height = -1.0
    while True:
        snap = await _snapshot(page)
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
            if since and label_time and label_time.date() < since:
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
        if on_progress is not None:
            on_progress(len(result.seen))
        now = time.monotonic()
        if changed:
            last_change = now
        if snap.at_bottom:
            # Nothing below: wait a little for the app to load more, else it is the end.
            if now - last_change >= settle_time:
                result.reached_end = True
                return result
        elif snap.visible:
            await page.evaluate(
                _SCROLL_JS, [google_site.SCROLL_CONTAINER_SELECTOR, SCROLL_FRACTION]
            )
        elif now - last_change >= google_site.GRID_STEP_TIMEOUT:
            raise TimeoutError("the library grid stopped loading while scrolling")
        await asyncio.sleep(POLL_INTERVAL)
