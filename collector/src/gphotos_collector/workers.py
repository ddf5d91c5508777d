"""The download workers: each takes batches of jobs from the queue and, for each item,
runs the stages after the listing in order:

1. download (downloader.py): open the item's viewer, read its info panel
   (info_panel.py), download it, and an edited photo's original;
2. place (placer.py): stage, then link into DEST/YYYY/MM, and record in the state;
3. sidecars (sidecars.py): `<file>.xmp` beside each placed file.

A revisit (an item backed up already) reads the info panel again, looks for an
original if release 0.1 never did, and refreshes the sidecars when a value changed.
Items that fail are retried with backoff, then remembered and retried next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import google_site
from gphotos_collector.dest import DEST_UNWRITABLE_ERRNOS, dest_trouble, dest_unwritable
from gphotos_collector.downloader import (
    FetchFailed,
    ItemGone,
    ItemProcessing,
    SignedOutDuringRun,
    StepFailed,
    fetch_item,
    fetch_original,
    show_item,
)
from gphotos_collector.errors import CollectorError, PageChangedError, TemporaryError
from gphotos_collector.events import EventSink
from gphotos_collector.info_panel import InfoPanel
from gphotos_collector.jobs import Job, JobQueue
from gphotos_collector.page_watch import PageWatch
from gphotos_collector.placer import IncompleteDownload, Placer, StagedFile
from gphotos_collector.sidecars import Sidecars
from gphotos_collector.state import (
    EDITED,
    FAILED,
    GONE,
    ORIGINAL,
    PROCESSING,
    PlacedFile,
    State,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from gphotos_collector.sync import SyncOptions, SyncSummary

ITEM_ATTEMPTS = 3
RETRY_BACKOFF = (1.0, 4.0)  # seconds before the 2nd and the 3rd attempt, plus jitter
PAGE_RECYCLE_EVERY = 200  # a fresh page now and then keeps the browser's memory flat

PageChanged = Callable[["Page", PageChangedError], Awaitable[None]]


@dataclass
class _Tab:
    """A worker's page, replaced when it crashes or has served enough items."""

    page: Page
    served: int = 0


class Workers:
    """What every worker shares: the stages, the state, the summary and the page watch."""

    def __init__(
        self,
        options: SyncOptions,
        state: State,
        events: EventSink,
        jobs: JobQueue,
        known: set[str],
        summary: SyncSummary,
        downloads_dir: Path,
        placer: Placer,
        sidecars: Sidecars | None,
        page_changed: PageChanged,
    ) -> None:
        self.options = options
        self.state = state
        self.events = events
        self.jobs = jobs
        self.known = known  # ids the listing need not queue again
        self.summary = summary
        self.downloads_dir = downloads_dir
        self.placer = placer
        self.sidecars = sidecars  # None: this machine cannot write XMP (said once a run)
        self.page_changed = page_changed
        self.watch = PageWatch()
        self.signed_out_at: str | None = None  # the URL a worker saw the session end on

    async def work(self, context: BrowserContext) -> None:
        """One worker: batches until the queue is closed (or the session ended)."""
        tab = _Tab(await context.new_page())
        try:
            while True:
                batch = await self.jobs.queue.get()
                if batch is None:
                    return
                showing: str | None = None  # the item the viewer shows now
                for job in batch:
                    if self.signed_out_at is not None:
                        return
                    if tab.served >= PAGE_RECYCLE_EVERY or tab.page.is_closed():
                        await self._fresh_page(context, tab)
                        showing = None
                    tab.served += 1
                    try:
                        handled = await self._handle(context, tab, job, showing)
                    except PageChangedError as error:
                        await self.page_changed(tab.page, error)
                        raise
                    showing = job.id if handled else None
        finally:
            with contextlib.suppress(Exception):
                await tab.page.close()

    @staticmethod
    async def _fresh_page(context: BrowserContext, tab: _Tab) -> None:
        with contextlib.suppress(Exception):
            await tab.page.close()
        tab.page, tab.served = await context.new_page(), 0

    async def _handle(
        self, context: BrowserContext, tab: _Tab, job: Job, showing: str | None
    ) -> bool:
        """Fetch and place one item, with retries; True if the viewer now shows it."""
        error = ""
        for attempt in range(1, ITEM_ATTEMPTS + 1):
            try:
                # A retry loads the item afresh rather than stepping to it.
                after = showing if attempt == 1 else None
                if job.revisit:
                    await self._revisit(tab.page, job, after)
                else:
                    await self._fetch_and_place(tab.page, job, after)
                return True
            except ItemProcessing as why:
                self._remember(job, PROCESSING, str(why), "item-skipped")
                return True
            except ItemGone as why:
                self._remember(job, GONE, str(why), "item-skipped")
                # Chrome's own error page may still interrupt this page's next load.
                await self._fresh_page(context, tab)
                return False
            except SignedOutDuringRun:
                self.signed_out_at = tab.page.url
                return False
            except CollectorError:
                raise
            except StepFailed as why:
                error = str(why)
                self.watch.failed(why.step, why.target, job.id, error)
                if self.watch.suspect(why.step):  # failing elsewhere too: no retry helps
                    break
            except (FetchFailed, IncompleteDownload) as why:
                error = str(why)
            except OSError as why:
                if why.errno in DEST_UNWRITABLE_ERRNOS:
                    raise dest_unwritable(self.options.dest, why) from None
                error = f"{why.strerror or why}: {why.filename or ''}".rstrip(": ")
            except Exception as why:  # Playwright's errors: timeouts, a crashed page
                error = str(why).splitlines()[0] if str(why) else type(why).__name__
                if tab.page.is_closed() or "has been closed" in str(why):
                    try:
                        tab.page, tab.served = await context.new_page(), 0
                    except Exception:  # no page at all: the browser itself is gone
                        raise TemporaryError(f"the browser went away: {error}") from None
            # Chrome reports a full disk only as "canceled", SQLite as its own error.
            if (trouble := dest_trouble(self.options.dest)) is not None:
                raise trouble
            if attempt < ITEM_ATTEMPTS:
                self.events.emit("item-retry", id=job.id, attempt=attempt, error=error)
                delay = RETRY_BACKOFF[attempt - 1] * (1 + random.random())  # noqa: S311
                await asyncio.sleep(delay)
        self._remember(job, FAILED, error, "item-failed")
        return False

    # --- a new item: download, place, sidecars ------------------------------------
    async def _fetch_and_place(self, page: Page, job: Job, showing: str | None) -> None:
        fetched = await fetch_item(
            page,
            base_url=self.options.base_url,
            account_index=self.options.account_index,
            item_id=job.id,
            downloads_dir=self.downloads_dir,
            stall_timeout=self.options.stall_timeout,
            view=job.view,
            after=showing,
        )
        taken = google_site.combine_taken(fetched.info.taken, job.label_time)
        main, original = fetched.main, fetched.original
        if original is None:
            staged = await asyncio.to_thread(
                self.placer.stage, job.id, main.path, main.suggested_name
            )
        else:  # an edited photo: the original keeps its name, the edited one is <stem>-edited
            staged = await asyncio.to_thread(
                self.placer.stage_edited,
                job.id,
                main.path,
                main.suggested_name,
                original.path,
                original.suggested_name,
            )
        # Not looked at for an original (its menu failed): None, so a later run looks again.
        edited = None if fetched.original_failure else original is not None
        placed = self._place(
            staged,
            taken,
            lambda files: self.state.mark_done(job.id, job.kind, taken, files, edited=edited),
        )
        self.known.add(job.id)
        size = sum(f.size for f in placed)
        self.summary.new += 1
        self.summary.bytes += size
        if original is not None:
            self.summary.originals += 1
        self.events.emit(
            "item-done",
            id=job.id,
            files=[f.path for f in placed],
            bytes=size,
            taken=taken.isoformat() if taken else None,
            edited=edited,
        )
        self._keep_details(job.id, fetched.info)
        self._write_sidecars(job.id)
        self._watch_item(job.id, fetched.info.taken, fetched.original_failure)

    def _watch_item(self, item_id: str, taken: datetime | None, menu: StepFailed | None) -> None:
        """The steps a placed item passed, and the two that may fail without losing it."""
        self.watch.passed(google_site.STEP_VIEWER, google_site.STEP_DOWNLOAD)
        if taken is not None:
            self.watch.passed(google_site.STEP_INFO)
        else:
            self.watch.failed(
                google_site.STEP_INFO,
                google_site.INFO_DATE_SELECTOR,
                item_id,
                "the info panel showed no date taken",
            )
        if menu is None:
            self.watch.passed(google_site.STEP_MENU)
        else:
            self.events.emit("item-original-later", id=item_id, error=str(menu))
            self.watch.failed(menu.step, menu.target, item_id, str(menu))

    def _place(
        self,
        staged: list[StagedFile],
        taken: datetime | None,
        record: Callable[[list[PlacedFile]], None],
    ) -> list[PlacedFile]:
        """Place staged files and record them; what was not placed is discarded."""
        placed: list[PlacedFile] = []
        try:
            for file in staged:
                placed.append(self.placer.place(file, taken))
            record(placed)
        finally:
            self.placer.discard(staged[len(placed) :])
            # Recorded, or left for a retry to adopt as an identical unclaimed file.
            self.placer.release(placed)
        return placed

    # --- after placement: details and sidecars --------------------------------------
    def _keep_details(self, item_id: str, info: InfoPanel) -> bool:
        """Record what the info panel showed; True if it changed. Nothing shown: the item
        stays due, and a later run reads it again."""
        if info.details is None:
            self.summary.details_unread += 1
            self.events.emit("item-details-unread", id=item_id)
            return False
        return self.state.set_details(item_id, info.details)

    def _write_sidecars(self, item_id: str) -> None:
        if self.sidecars is None:
            return
        url = google_site.item_url(
            self.options.base_url, self.options.account_index, item_id, google_site.VIEW_GRID
        )
        written = self.sidecars.refresh(self.state, item_id, url)
        if written:
            self.summary.sidecars += len(written)
            self.events.emit("sidecars", id=item_id, files=written)

    # --- an item backed up already -------------------------------------------------
    async def _revisit(self, page: Page, job: Job, showing: str | None) -> None:
        """Read the item's details again; for release 0.1's items, look for an original."""
        info = await show_item(
            page,
            base_url=self.options.base_url,
            account_index=self.options.account_index,
            item_id=job.id,
            view=job.view,
            after=showing,
        )
        self.watch.passed(google_site.STEP_VIEWER)
        if self.state.item_facts(job.id).edited is None:
            await self._add_original(page, job, info)
        if self._keep_details(job.id, info):
            self.summary.details_changed += 1
        self._write_sidecars(job.id)

    async def _add_original(self, page: Page, job: Job, info: InfoPanel) -> None:
        """An item of release 0.1: if it is an edited photo, fetch and keep its original."""
        original = await fetch_original(
            page,
            job.id,
            self.downloads_dir,
            self.options.stall_timeout,
            data_loaded=info.taken is not None,
        )
        self.watch.passed(google_site.STEP_MENU)
        if original is None:
            self.state.set_edited(job.id, False)
            return
        staged = await asyncio.to_thread(
            self.placer.stage, job.id, original.path, original.suggested_name, ORIGINAL
        )
        recorded_taken = self.state.item_taken(job.id) or job.label_time
        if len(staged) == 1:
            placed = [
                self.placer.split_edited(
                    self.state.files_of(job.id),
                    staged[0],
                    recorded_taken,
                    lambda old, new: self.state.move_file(job.id, old, new, EDITED),
                )
            ]
            self.state.add_original(job.id, placed)
            self.placer.release(placed)
        else:  # not a single file: placed beside what the item has
            placed = self._place(
                staged, recorded_taken, lambda files: self.state.add_original(job.id, files)
            )
        size = sum(f.size for f in placed)
        self.summary.originals += 1
        self.summary.bytes += size
        self.events.emit("item-original", id=job.id, files=[f.path for f in placed], bytes=size)

    def _remember(self, job: Job, status: str, error: str, event: str) -> None:
        if job.revisit:  # the item itself is backed up; look again next run
            self.events.emit("item-retry-later", id=job.id, reason=status, error=error)
            return
        self.state.mark_unfinished(job.id, job.kind, job.label_time, status, error)
        self.known.add(job.id)
        if status == FAILED:
            self.summary.failed += 1
        else:
            self.summary.skipped += 1
        self.events.emit(event, id=job.id, reason=status, error=error)
