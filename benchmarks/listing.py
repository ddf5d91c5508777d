"""2. Listing: items/s of each view, and the full scan of a backed-up DEST.

- Per view: the collector's own lister (`gphotos_collector.lister.list_items`)
  walks the whole of the date grid, Recently added and the Archive in one
  headless browser on the collector's profile, with every id treated as new and
  nothing queued: listing alone, timed from the view's top to its end (the end
  includes the lister's settle time at the bottom, as in a real run).
- Full scan: a real `sync --full-scan` on a DEST whose state already holds
  every item (built, not downloaded): the whole grid and Archive walked,
  deletions checked, nothing to fetch. Its projection to 50,000 items: the
  run's fixed start (process start to the first view open), plus 50,000 items
  at the walk's measured rate (to the last view listed), plus what followed the
  walk, which does not grow with the library (the details of at most 300 items
  read again, the end).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gphotos_collector import google_site
from gphotos_collector.account import open_library
from gphotos_collector.browser import find_browser, open_context
from gphotos_collector.lister import ListedItem, list_items

from benchmarks.collector import BROWSER, run_sync
from benchmarks.fake import ACCOUNT, FakeServer
from benchmarks.state_builder import build_backed_up

LISTING_SEED = 45
PROJECTED_ITEMS = 50_000
VIEWS = (google_site.VIEW_GRID, google_site.VIEW_RECENT, google_site.VIEW_ARCHIVE)


async def _ignore(item: ListedItem, follows: bool) -> None:
    """Listing alone: nothing is queued."""


async def _walk_views(base_url: str, profile: Path) -> dict[str, dict[str, Any]]:
    from playwright.async_api import async_playwright

    browser = find_browser(BROWSER)
    walked: dict[str, dict[str, Any]] = {}
    async with async_playwright() as playwright:
        context = await open_context(playwright, browser, profile)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            for view in VIEWS:
                await open_library(page, base_url, 0, profile, view)
                started = time.monotonic()
                result = await list_items(
                    page,
                    view=view,
                    is_known=lambda _: False,
                    on_new=_ignore,
                    stop_after_known=None,
                )
                seconds = time.monotonic() - started
                walked[view] = {
                    "items": len(result.seen),
                    "seconds": round(seconds, 2),
                    "items_per_s": round(len(result.seen) / seconds, 1),
                    "reached_end": result.reached_end,
                }
        finally:
            await context.close()
    return walked


def listing(work: Path, items: int) -> dict[str, Any]:
    with FakeServer(work, items, seed=LISTING_SEED, media_scale=0.001) as fake:
        profile = work / "profile-listing"
        fake.make_profile(profile, BROWSER)
        alive = fake.alive()
        cpu = fake.cpu()
        views = asyncio.run(_walk_views(fake.base_url, profile))
        dest = work / "listing"
        build_backed_up(dest, ACCOUNT, alive)
        scan = run_sync(fake.base_url, profile, dest, workers=4, extra=("--full-scan",))
        share = cpu.share()
    if scan.new:
        raise RuntimeError(f"the full scan fetched {scan.new} items: the state was incomplete")
    listed = scan.summary.get("listed", {})
    walked_items = sum(int(n) for n in listed.values())
    # Three parts: the fixed start (Python, Chromium, the first page), the walk of the views
    # (sync-start to the last view listed), which grows with the library, and what follows
    # it, which does not: the details read again of at most 300 items, the end.
    sync_start = scan.first("sync-start")
    fixed = (sync_start - scan.started) if sync_start is not None else 0.0
    views_done = scan.times_of("listed")
    walked_until = max(views_done) - scan.started if views_done else scan.seconds
    walk_seconds = walked_until - fixed
    after_walk = scan.seconds - walked_until
    rate = walked_items / walk_seconds if walk_seconds > 0 else 0.0
    projected = fixed + PROJECTED_ITEMS / rate + after_walk if rate else 0.0
    return {
        "library_items": items,
        "views": views,
        "full_scan": {
            "items": walked_items,
            "listed": listed,
            "seconds": round(scan.seconds, 1),
            "fixed_seconds": round(fixed, 1),
            "walk_seconds": round(walk_seconds, 1),
            "after_walk_seconds": round(after_walk, 1),
            "items_per_s": round(rate, 1),
            "projected_seconds_50000": round(projected),
            "projection": "fixed start + 50,000 items at the measured walk rate + after the walk",
            "state": "built, not downloaded",
            "collector_cpu_share": round(scan.cpu_share, 2),
        },
        "fake_cpu_share": round(share, 2),
    }
