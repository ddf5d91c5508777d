"""List stage, the plan: which views a run walks, and what a whole listing proves.

- An incremental run walks Recently added (upload order, newest first) down to
  a run of known ids, so a photo uploaded today but taken in 2009 is backed up
  tonight. Its ids are believed to be the library's; if its newest items are
  all unknown while the library grid's newest are all backed up, it is not
  trusted: the run walks the whole library instead and says so.
- The first run, a run after an interrupted or date-limited listing, and a
  full scan walk the library grid (date taken) and the Archive, which the grid
  does not show. A full scan that saw both views end reports items deleted on
  Google and fetches again files missing on disk.
- Then come items to retry, and backed-up items to look at again (a bounded
  number a run): those of release 0.1 for an edited photo's original, then those
  whose details (caption, people, albums) were never read or are the oldest read,
  so their sidecars follow what people change in Google Photos.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from gphotos_collector import google_site
from gphotos_collector.account import open_library, signed_out, still_signed_in
from gphotos_collector.downloader import FetchFailed, ItemGone, SignedOutDuringRun, open_item
from gphotos_collector.errors import PageChangedError, TemporaryError
from gphotos_collector.events import EventSink
from gphotos_collector.jobs import Job, JobQueue
from gphotos_collector.lister import ListedItem, ListingError, ListResult, list_items
from gphotos_collector.page_watch import DOCTOR_HINT
from gphotos_collector.state import GONE, LISTING_COMPLETE, State

if TYPE_CHECKING:
    from playwright.async_api import Page

    from gphotos_collector.sync import SyncOptions

GRID = google_site.VIEW_GRID
RECENT = google_site.VIEW_RECENT
ARCHIVE = google_site.VIEW_ARCHIVE
# meta key: "1" once the Archive was walked to its end (release 0.1 never did).
ARCHIVE_LISTED = "archive_listed"
# Recently added is suspect when this many of its newest ids are all unknown ...
RECENT_GUARD_SAMPLE = google_site.KNOWN_RUN_TO_STOP
DELETION_GUARD_MIN = 50  # a full scan missing more items than this and ...
DELETION_GUARD_SHARE = 0.05  # ... this share of the backup reports no deletions
REVISITS_PER_RUN = 300  # backed-up items looked at again per run (original, details)
FULL_SCAN_REVISITS = REVISITS_PER_RUN  # ... and on a full scan, the oldest read whatever their age
DETAILS_MAX_AGE = timedelta(days=28)  # details read longer ago than this are read again
LISTING_EVENT_EVERY = 2.0  # seconds between two `listing` progress events


@dataclass
class ListingReport:
    """What the listing tells the summary."""

    listed: dict[str, int] = field(default_factory=dict)  # ids seen per view
    known: int = 0  # already-known ids met
    fallback: str | None = None  # why Recently added was not trusted, if it was not
    changed: PageChangedError | None = None  # a view that no longer works (run doctor)
    deleted_on_google: int = 0
    originals_to_check: int = 0  # items of release 0.1 still to look at for an original
    details_to_refresh: int = 0  # items whose details were never read or are older than due


class Listing:
    """Walks the views a run needs and hands new items to the job queue."""

    def __init__(
        self, options: SyncOptions, state: State, events: EventSink, jobs: JobQueue
    ) -> None:
        self.options = options
        self.state = state
        self.events = events
        self.jobs = jobs
        self.known = state.known_ids()
        self.report = ListingReport()
        self._complete = state.get_meta(LISTING_COMPLETE) == "1"
        self._showing: str | None = None  # the view the listing page shows now
        self._last_event = 0.0
        self._started = datetime.now(timezone.utc)  # what this run reads is newer than this
        # Told of a view that no longer works while the listing carries on without it.
        self.on_changed: Callable[[Page, PageChangedError], Awaitable[None]] | None = None

    @property
    def incremental(self) -> bool:
        """Recently added down to known ids is enough: the state knows all older uploads."""
        options = self.options
        return (
            self._complete
            and not options.full_scan
            and not options.windowed
            and self.report.changed is None
        )

    def view_unavailable(self, error: PageChangedError) -> None:
        """Recently added does not open: this run walks the whole library instead."""
        self.report.changed = error
        self._fall_back(f"Recently added could not be opened: {error.message}")

    @property
    def first_view(self) -> str:
        return RECENT if self.incremental else GRID

    def showing(self, view: str) -> None:
        """The listing page was opened on this view (by the caller)."""
        self._showing = view

    async def run(self, page: Page) -> None:
        options = self.options
        incremental = self.incremental
        # Until this listing ends normally, the next run must not stop at known ids.
        self.state.set_meta(LISTING_COMPLETE, "0")
        if incremental:
            if not await self._recently_added(page):
                await self._library(page, walk_all=True)
            elif self.state.get_meta(ARCHIVE_LISTED) != "1":
                await self._archive_once(page)
        else:
            fell_back = self.report.changed is not None  # Recently added did not open
            walk_all = options.full_scan or not self._complete or fell_back
            await self._library(page, walk_all=walk_all)
        if not options.windowed:
            self.state.set_meta(LISTING_COMPLETE, "1")
        await self._retries()
        await self._revisits()

    # --- the views ------------------------------------------------------------
    async def _recently_added(self, page: Page) -> bool:
        """New uploads, newest first; False if Recently added cannot be trusted."""
        held: list[tuple[ListedItem, bool]] = []

        async def hold(item: ListedItem, follows: bool) -> None:
            held.append((item, follows))

        try:
            result = await self._walk(page, RECENT, google_site.KNOWN_RUN_TO_STOP, on_new=hold)
        except PageChangedError as error:  # the library grid still finds every new item
            self.report.changed = error
            if self.on_changed is not None:
                await self.on_changed(page, error)
            self._fall_back(f"Recently added could not be listed: {error.message}")
            return False
        except ListingError as error:
            self._fall_back(f"Recently added could not be listed: {error}")
            return False
        backed_up = len(self.state.done_ids())
        if (
            result.known == 0
            and len(held) >= RECENT_GUARD_SAMPLE
            and backed_up >= RECENT_GUARD_SAMPLE
        ):
            # Are these really new, or are they not the library's ids? The grid tells ...
            sample = await self._walk(
                page, GRID, None, on_new=_ignore, max_seen=RECENT_GUARD_SAMPLE, count=False
            )
            if sample.new == 0:
                self._fall_back(
                    f"the {len(held)} newest items of Recently added are all unknown while "
                    f"the library's {len(sample.seen)} newest are all backed up: its ids may "
                    "not be the library's, so the whole library was listed instead"
                )
                return False
            # ... and so does one of them opened as a library item.
            if not await self._opens_in_library(page, held[0][0].id):
                self._fall_back(
                    f"the newest item of Recently added ({held[0][0].id}) is not a library "
                    "item (its library page is a 404): its ids are not the library's, so the "
                    "whole library was listed instead"
                )
                return False
        for item, follows in held:
            await self.jobs.add_listed(item, follows, RECENT)
        await self.jobs.flush()
        return True

    async def _opens_in_library(self, page: Page, item_id: str) -> bool:
        """Does this id open as a library item? (ItemGone: not the library's.)"""
        self._showing = None
        url = google_site.item_url(self.options.base_url, self.options.account_index, item_id)
        try:
            await open_item(page, url, item_id)
        except ItemGone:
            return False
        except SignedOutDuringRun:
            self._check_signed_in_after(page, signed_in=False)
        except FetchFailed:  # could not tell: trust the contract's inference
            return True
        return True

    async def _library(self, page: Page, *, walk_all: bool) -> None:
        """The date grid and the Archive, whole (walk_all) or down to known ids."""
        stop = None if walk_all else google_site.KNOWN_RUN_TO_STOP
        grid = await self._walk(page, GRID, stop)
        archive = await self._walk(page, ARCHIVE, stop)
        self.state.set_archived(archive.seen, True)
        self.state.set_archived(grid.seen, False)
        if archive.reached_end and not self.options.windowed:
            self.state.set_meta(ARCHIVE_LISTED, "1")
        if self.options.full_scan and grid.reached_end and archive.reached_end:
            for job in self._after_full_scan(grid.seen + archive.seen):
                await self.jobs.put(job)

    async def _archive_once(self, page: Page) -> None:
        """A backup made before the Archive was listed: walk it whole once."""
        archive = await self._walk(page, ARCHIVE, None)
        self.state.set_archived(archive.seen, True)
        if archive.reached_end:
            self.state.set_meta(ARCHIVE_LISTED, "1")

    async def _walk(
        self,
        page: Page,
        view: str,
        stop_after_known: int | None,
        *,
        on_new: Callable[[ListedItem, bool], Awaitable[None]] | None = None,
        max_seen: int | None = None,
        count: bool = True,
    ) -> ListResult:
        """List one view; a listing that stops for no positive reason is an error."""
        if self._showing != view:
            await open_library(
                page, self.options.base_url, self.options.account_index, self.options.profile, view
            )
            self._showing = view

        async def enqueue(item: ListedItem, follows: bool) -> None:
            await self.jobs.add_listed(item, follows, view)

        full_scan = self.options.full_scan and stop_after_known is None
        try:
            result = await list_items(
                page,
                view=view,
                is_known=self._known_or_queued,
                on_new=on_new or enqueue,
                stop_after_known=stop_after_known,
                settle_time=google_site.FULL_SCAN_SETTLE_TIME
                if full_scan
                else google_site.GRID_SETTLE_TIME,
                since=self.options.since,
                until=self.options.until,
                max_seen=max_seen,
                on_progress=lambda seen: self._progress(view, seen),
            )
        except ListingError as error:
            self._check_signed_in_after(page, await still_signed_in(page))
            if error.empty:  # not one item in a view that had some: a changed page
                step = google_site.STEP_VIEW[view]
                raise PageChangedError(
                    f"the step '{step}' ({error.target}) found nothing: {error}. {DOCTOR_HINT}",
                    step=step,
                    target=error.target,
                ) from None
            raise
        finally:
            self._showing = None if max_seen is not None else self._showing
        # A grid that ended because the session did must not report deletions.
        self._check_signed_in_after(page, await still_signed_in(page))
        await self.jobs.flush()
        if count:
            self.report.listed[view] = self.report.listed.get(view, 0) + len(result.seen)
            self.report.known += result.known
        self.events.emit(
            "listed",
            view=view,
            seen=len(result.seen),
            new=result.new,
            reached_end=result.reached_end,
            walked_all=stop_after_known is None,
        )
        return result

    def _known_or_queued(self, item_id: str) -> bool:
        """Backed up, or already queued by this run (from another view): never fetched twice."""
        return item_id in self.known or item_id in self.jobs.queued_ids

    def _check_signed_in_after(self, page: Page, signed_in: bool) -> None:
        if not signed_in:
            raise signed_out(
                self.options.profile, self.options.account_index, "during the run", page.url
            )

    def _fall_back(self, why: str) -> None:
        self.report.fallback = why
        self.events.emit("listing-fallback", view=RECENT, why=why)

    def _progress(self, view: str, seen: int) -> None:
        now = time.monotonic()
        if now - self._last_event >= LISTING_EVENT_EVERY:
            self._last_event = now
            self.events.emit("listing", view=view, seen=seen, queued=self.jobs.queued)

    # --- what a whole listing proves ------------------------------------------
    def _after_full_scan(self, seen: list[str]) -> list[Job]:
        """Report items gone from Google (keep their files); list items whose files are gone."""
        seen_set = set(seen)
        done = self.state.done_ids()
        deleted = sorted(done - seen_set)
        if len(deleted) > max(DELETION_GUARD_MIN, DELETION_GUARD_SHARE * len(done)):
            # More likely a grid that did not load to the end than a mass deletion.
            self.events.emit(
                "deletions-not-reported",
                missing=len(deleted),
                backed_up=len(done),
                why="the scan missed too many items: run --full-scan again to confirm",
            )
            deleted = []
        self.state.mark_deleted_on_google(deleted)
        self.state.clear_deleted_on_google(done & seen_set)
        self.report.deleted_on_google = len(deleted)
        if deleted:
            self.events.emit("deleted-on-google", count=len(deleted), ids=deleted[:1000])
        archived = self.state.archived_ids()
        again = [
            self._job_for(item_id, item_id in archived)
            for item_id in sorted(self.state.ids_with_status(GONE) & seen_set)
        ]  # back on Google (restored from the bin, say)
        for item_id in sorted(done & seen_set):
            files = self.state.files_of(item_id)
            if not all((self.options.dest / f.path).is_file() for f in files):
                again.append(self._job_for(item_id, item_id in archived))
                self.state.forget_files(item_id)
                self.events.emit("item-missing", id=item_id, files=[f.path for f in files])
        return again

    def _job_for(self, item_id: str, archived: bool) -> Job:
        return Job(item_id, None, self.state.item_taken(item_id), ARCHIVE if archived else GRID)

    # --- after the listing ----------------------------------------------------
    async def _retries(self) -> None:
        """Items listed before but not fetched yet: failed, processing, interrupted."""
        for pending in self.state.pending():
            if pending.id not in self.jobs.queued_ids:
                view = ARCHIVE if pending.archived else GRID
                await self.jobs.put(Job(pending.id, pending.kind, pending.taken, view))

    async def _revisits(self) -> None:
        """Backed-up items looked at again, a bounded number a run (a full scan: more)."""
        # A full scan reads again every item's details not read by this run (bounded).
        if self.options.full_scan:
            stale_before, limit = self._started, FULL_SCAN_REVISITS
        else:
            stale_before, limit = self._started - DETAILS_MAX_AGE, REVISITS_PER_RUN
        due = [
            item
            for item in self.state.revisits(limit, stale_before)
            if item.id not in self.jobs.queued_ids
        ]
        self.report.originals_to_check = self.state.count_unchecked_originals()
        self.report.details_to_refresh = self.state.count_stale_details(
            self._started - DETAILS_MAX_AGE
        )
        if not due:
            return
        self.events.emit(
            "revisit",
            count=len(due),
            originals_left=self.report.originals_to_check,
            details_left=self.report.details_to_refresh,
        )
        await self.jobs.put_batches(
            Job(item.id, None, item.taken, ARCHIVE if item.archived else GRID, revisit=True)
            for item in due
        )


async def _ignore(item: ListedItem, follows: bool) -> None:
    """A sample of a view, not a listing: nothing is queued."""


def listing_failed(error: ListingError) -> TemporaryError:
    return TemporaryError(f"{error}; the items listed so far were kept, the next run lists again")
