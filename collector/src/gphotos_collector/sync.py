"""The three stages together: list new items, download them, place them.

One browser context on the profile; the lister walks the grid in one page
while N worker pages download what it finds. Items that fail are retried with
backoff, then remembered and retried on the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import google_site, page_state
from gphotos_collector.account import (
    LIBRARY_SIGNS,
    SIGNED_IN,
    Account,
    open_library,
    signed_out,
)
from gphotos_collector.browser import Browser, check_profile_dir, find_browser, open_context
from gphotos_collector.downloader import (
    FetchFailed,
    ItemGone,
    ItemProcessing,
    SignedOutDuringRun,
    fetch_item,
)
from gphotos_collector.errors import (
    CollectorError,
    ExitCode,
    LockedError,
    NotMountedError,
    SignedOutError,
    TemporaryError,
    UsageError,
)
from gphotos_collector.events import EventSink
from gphotos_collector.lister import ListedItem, list_items
from gphotos_collector.lock import RunLock
from gphotos_collector.placer import IncompleteDownload, Placer, clean_tmp
from gphotos_collector.state import (
    FAILED,
    GONE,
    LISTING_COMPLETE,
    PROCESSING,
    State,
    state_dir,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

DEFAULT_BASE_URL = google_site.DEFAULT_BASE_URL
ITEM_ATTEMPTS = 3
RETRY_BACKOFF = (1.0, 4.0)  # seconds before the 2nd and the 3rd attempt, plus jitter
PAGE_RECYCLE_EVERY = 200  # a fresh page now and then keeps the browser's memory flat
DELETION_GUARD_MIN = 50  # a full scan missing more items than this and ...
DELETION_GUARD_SHARE = 0.05  # ... this share of the backup reports no deletions
BATCH_SIZE = 10  # neighbours in the grid given to one worker, which steps between them
LISTING_EVENT_EVERY = 2.0  # seconds between two `listing` progress events
LOCK_FILE_NAME = "lock"
DOWNLOADS_DIR_NAME = "downloads"
TMP_DIR_NAME = "tmp"


@dataclass(frozen=True)
class SyncOptions:
    profile: Path
    dest: Path
    workers: int = 2
    account_index: int = 0
    since: date | None = None
    until: date | None = None
    full_scan: bool = False
    base_url: str = DEFAULT_BASE_URL
    browser: str = "auto"  # chrome, chromium, auto or a path
    stall_timeout: float = google_site.DOWNLOAD_STALL_TIMEOUT
    full_scan_every: float = 0.0  # days between automatic full scans; 0: never
    require_mount: Path | None = None  # DEST lives on this mount: refuse if it is not mounted

    @property
    def windowed(self) -> bool:
        """Limited to capture dates (--since/--until): such a run never sees the whole grid."""
        return self.since is not None or self.until is not None


@dataclass
class SyncSummary:
    account: str = ""
    new: int = 0  # items downloaded in this run
    skipped: int = 0  # items Google cannot give yet (processing) or any more (deleted)
    failed: int = 0  # items that failed after their retries: retried next run
    bytes: int = 0
    seconds: float = 0.0
    known: int = 0  # items met while listing that were already backed up
    deleted_on_google: int = 0  # found by --full-scan; local files are kept

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.ITEMS_FAILED if self.failed else ExitCode.OK


@dataclass(frozen=True)
class _Job:
    id: str
    kind: str | None
    label_time: datetime | None = None


@dataclass
class _Tab:
    """A worker's page, replaced when it crashes or has served enough items."""

    page: Page
    served: int = 0


def prepare_dest(dest: Path) -> None:
    """DEST must be a writable folder (created if only the last part is missing)."""
    if not dest.exists():
        if not dest.parent.is_dir():
            raise UsageError(
                f"--dest {dest}: its parent folder does not exist (is a disk not mounted?)"
            )
        try:
            dest.mkdir(mode=0o750)
        except OSError as error:
            raise UsageError(f"--dest {dest} cannot be created: {error.strerror}") from None
    if not dest.is_dir():
        raise UsageError(f"--dest {dest} is not a folder.")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise UsageError(f"--dest {dest} is not writable by this user: fix its owner or mode.")


@contextlib.contextmanager
def dest_lock(dest: Path) -> Iterator[None]:
    """Only one sync writes into a DEST at a time."""
    folder = state_dir(dest)
    folder.mkdir(mode=0o700, exist_ok=True)
    lock = RunLock(folder / LOCK_FILE_NAME)
    try:
        lock.acquire()
    except LockedError:
        raise LockedError(f"another sync is writing into {dest}: try again later.") from None
    try:
        yield
    finally:
        lock.release()


def check_mount(dest: Path, mount: Path) -> None:
    """DEST is on a share: refuse to fill the local disk when the share is not mounted."""
    if not dest.resolve().is_relative_to(mount.resolve()):
        raise UsageError(f"--dest {dest} is not inside --require-mount {mount}.")
    if not os.path.ismount(mount):
        raise NotMountedError(
            f"the share {mount} is not mounted, and {dest} is on it: nothing was touched; "
            "mount it (or fix /etc/fstab) and the next run carries on."
        )


def run_sync(options: SyncOptions, events: EventSink) -> SyncSummary:
    """Back up new items of the library into options.dest; raises CollectorError."""
    check_profile_dir(options.profile)
    browser = find_browser(options.browser)
    if options.require_mount is not None:
        check_mount(options.dest, options.require_mount)
    prepare_dest(options.dest)
    with dest_lock(options.dest):
        state = State.open(options.dest)
        try:
            options = _with_due_full_scan(options, state, events)
            return asyncio.run(_Sync(options, browser, state, events).run())
        finally:
            state.close()


def _with_due_full_scan(options: SyncOptions, state: State, events: EventSink) -> SyncOptions:
    """Turn a run into a full scan when the last one is older than full_scan_every days."""
    if options.full_scan or options.full_scan_every <= 0 or options.windowed:
        return options
    last = state.last_full_scan()
    if last is not None and datetime.now(timezone.utc) - last < timedelta(
        days=options.full_scan_every
    ):
        return options
    events.emit(
        "full-scan-due",
        last=last.isoformat() if last else None,
        every_days=options.full_scan_every,
    )
    return replace(options, full_scan=True)


class _Sync:
    def __init__(
        self, options: SyncOptions, browser: Browser, state: State, events: EventSink
    ) -> None:
        self.options = options
        self.browser = browser
        self.state = state
        self.events = events
        folder = state_dir(options.dest)
        self.downloads_dir = folder / DOWNLOADS_DIR_NAME
        self.tmp_dir = folder / TMP_DIR_NAME
        self.placer = Placer(options.dest, self.tmp_dir, state.is_claimed)
        self.summary = SyncSummary()
        # Batches of jobs: neighbours in the grid, so a worker's viewer can step along.
        self.queue: asyncio.Queue[list[_Job] | None] = asyncio.Queue()
        self._batch: list[_Job] = []
        self.queued = 0
        self.queued_ids: set[str] = set()
        self.known = state.known_ids()
        self._last_listing_event = 0.0
        self._signed_out = False

    # --- the run ------------------------------------------------------------
    async def run(self) -> SyncSummary:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright

        started = time.monotonic()
        clean_tmp(self.tmp_dir)
        clean_tmp(self.downloads_dir)
        run_id = self.state.start_run(self.options.full_scan)
        exit_code: int = ExitCode.UNEXPECTED
        try:
            async with async_playwright() as playwright:
                context = await open_context(
                    playwright, self.browser, self.options.profile, self.downloads_dir
                )
                try:
                    await self._run_in(context)
                finally:
                    with contextlib.suppress(Exception):
                        await context.close()
            exit_code = self.summary.exit_code
        except CollectorError as error:
            exit_code = error.exit_code
            if isinstance(error, SignedOutError) and not error.account:
                error.account = self.state.get_meta("account_email")
            raise
        except PlaywrightError as error:  # the browser crashed or went away
            exit_code = ExitCode.TEMPORARY
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise TemporaryError(f"the browser failed: {first_line}") from None
        finally:
            self.summary.seconds = round(time.monotonic() - started, 3)
            clean_tmp(self.tmp_dir)
            clean_tmp(self.downloads_dir)
            self.state.finish_run(
                run_id,
                exit_code=int(exit_code),
                new=self.summary.new,
                skipped=self.summary.skipped,
                failed=self.summary.failed,
                size=self.summary.bytes,
                seconds=self.summary.seconds,
            )
        self.events.emit("summary", **asdict(self.summary), dest=str(self.options.dest))
        return self.summary

    async def _run_in(self, context: BrowserContext) -> None:
        page = context.pages[0] if context.pages else await context.new_page()
        account = await open_library(
            page, self.options.base_url, self.options.account_index, self.options.profile
        )
        self._bind_account(account)
        self.summary.account = account.email
        self.events.emit(
            "sync-start",
            account=account.email,
            dest=str(self.options.dest),
            workers=self.options.workers,
            full_scan=self.options.full_scan,
        )
        workers = [
            asyncio.ensure_future(self._worker(context)) for _ in range(self.options.workers)
        ]
        lister = asyncio.ensure_future(self._list(page))
        tasks = [lister, *workers]
        try:
            await self._wait_all(tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._signed_out:
            raise signed_out(self.options.profile, self.options.account_index, "during the run")

    @staticmethod
    async def _wait_all(tasks: Sequence[asyncio.Future[None]]) -> None:
        """Wait for every task; the first failure cancels the others and is raised."""
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    def _bind_account(self, account: Account) -> None:
        """A DEST holds one account's library: refuse to mix two."""
        recorded = self.state.get_meta("account_email")
        if recorded is None:
            self.state.set_meta("account_email", account.email)
        elif recorded != account.email:
            raise UsageError(
                f"{self.options.dest} holds the backup of {recorded}, but this profile "
                f"(account #{account.index}) is signed in as {account.email}: "
                "use another --dest or the right --account-index."
            )

    # --- list ---------------------------------------------------------------
    async def _list(self, page: Page) -> None:
        options = self.options
        # Stopping at known ids is only safe when an earlier listing saw everything
        # down to them: not after a run killed while listing, nor a date-window run.
        walk_all = options.full_scan or self.state.get_meta(LISTING_COMPLETE) != "1"
        self.state.set_meta(LISTING_COMPLETE, "0")
        try:
            try:
                result = await list_items(
                    page,
                    is_known=self.known.__contains__,
                    on_new=self._enqueue_new,
                    stop_after_known=None if walk_all else google_site.KNOWN_RUN_TO_STOP,
                    settle_time=google_site.FULL_SCAN_SETTLE_TIME
                    if options.full_scan
                    else google_site.GRID_SETTLE_TIME,
                    since=options.since,
                    until=options.until,
                    on_progress=self._listing_progress,
                )
            except TimeoutError as error:
                if not await still_signed_in(page):
                    self._signed_out = True
                    return
                raise TemporaryError(f"listing the library failed: {error}") from None
            # A grid that ended because the session did must not report deletions.
            if not await still_signed_in(page):
                self._signed_out = True
                return
            self.summary.known = result.known
            await self._flush()
            if not options.windowed:
                self.state.set_meta(LISTING_COMPLETE, "1")
            if options.full_scan and result.reached_end:
                for job in self._after_full_scan(result.seen):
                    await self._put(job)
            self.events.emit(
                "listed",
                seen=len(result.seen),
                new=result.new,
                reached_end=result.reached_end,
                walked_all=walk_all,
            )
            for pending in self.state.pending():
                if pending.id not in self.queued_ids:
                    await self._put(_Job(pending.id, pending.kind, pending.taken))
        finally:
            for _ in range(options.workers):
                self.queue.put_nowait(None)

    async def _enqueue_new(self, item: ListedItem, follows_previous: bool) -> None:
        if not follows_previous or len(self._batch) >= BATCH_SIZE:
            await self._flush()
        self._count(item.id)
        self._batch.append(_Job(item.id, item.kind, item.label_time))

    async def _flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            # Remembered before they are fetched: a run killed now leaves them pending.
            self.state.mark_listed((job.id, job.kind, job.label_time) for job in batch)
            await self.queue.put(batch)

    async def _put(self, job: _Job) -> None:
        """A job on its own (a retry, a repair): no neighbour to step from."""
        self._count(job.id)
        await self.queue.put([job])

    def _count(self, item_id: str) -> None:
        self.queued_ids.add(item_id)
        self.queued += 1
        self.events.emit("queued", id=item_id, total=self.queued)

    def _listing_progress(self, seen: int) -> None:
        now = time.monotonic()
        if now - self._last_listing_event >= LISTING_EVENT_EVERY:
            self._last_listing_event = now
            self.events.emit("listing", seen=seen, queued=self.queued)

    def _after_full_scan(self, seen: list[str]) -> list[_Job]:
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
        self.summary.deleted_on_google = len(deleted)
        if deleted:
            self.events.emit("deleted-on-google", count=len(deleted), ids=deleted[:1000])
        again = [
            _Job(item_id, None, self.state.item_taken(item_id))
            for item_id in sorted(self.state.ids_with_status(GONE) & seen_set)
        ]  # back on Google (restored from the bin, say)
        for item_id in sorted(done & seen_set):
            files = self.state.files_of(item_id)
            if not all((self.options.dest / f.path).is_file() for f in files):
                again.append(_Job(item_id, None, self.state.item_taken(item_id)))
                self.state.forget_files(item_id)
                self.events.emit("item-missing", id=item_id, files=[f.path for f in files])
        return again

    # --- download and place -------------------------------------------------
    async def _worker(self, context: BrowserContext) -> None:
        tab = _Tab(await context.new_page())
        try:
            while True:
                batch = await self.queue.get()
                if batch is None:
                    return
                showing: str | None = None  # the item the viewer shows now
                for job in batch:
                    if self._signed_out:
                        return
                    if tab.served >= PAGE_RECYCLE_EVERY or tab.page.is_closed():
                        with contextlib.suppress(Exception):
                            await tab.page.close()
                        tab = _Tab(await context.new_page())
                        showing = None
                    tab.served += 1
                    showing = job.id if await self._handle(context, tab, job, showing) else None
        finally:
            with contextlib.suppress(Exception):
                await tab.page.close()

    async def _handle(
        self, context: BrowserContext, tab: _Tab, job: _Job, showing: str | None
    ) -> bool:
        """Fetch and place one item, with retries; True if the viewer now shows it."""
        error = ""
        for attempt in range(1, ITEM_ATTEMPTS + 1):
            try:
                # A retry loads the item afresh rather than stepping to it.
                await self._fetch_and_place(tab.page, job, showing if attempt == 1 else None)
                return True
            except ItemProcessing as why:
                self._remember(job, PROCESSING, str(why), "item-skipped")
                return True
            except ItemGone as why:
                self._remember(job, GONE, str(why), "item-skipped")
                return False
            except SignedOutDuringRun:
                self._signed_out = True
                return False
            except (FetchFailed, IncompleteDownload) as why:
                error = str(why)
            except OSError as why:
                if why.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise TemporaryError(f"{self.options.dest} is full: free some space") from None
                error = f"{why.strerror or why}: {why.filename or ''}".rstrip(": ")
            except Exception as why:  # Playwright's errors: timeouts, a crashed page
                error = str(why).splitlines()[0] if str(why) else type(why).__name__
                if tab.page.is_closed() or "has been closed" in str(why):
                    try:
                        tab.page, tab.served = await context.new_page(), 0
                    except Exception:  # no page at all: the browser itself is gone
                        raise TemporaryError(f"the browser went away: {error}") from None
            if attempt < ITEM_ATTEMPTS:
                self.events.emit("item-retry", id=job.id, attempt=attempt, error=error)
                delay = RETRY_BACKOFF[attempt - 1] * (1 + random.random())  # noqa: S311
                await asyncio.sleep(delay)
        self._remember(job, FAILED, error, "item-failed")
        return False

    async def _fetch_and_place(self, page: Page, job: _Job, showing: str | None) -> None:
        fetched = await fetch_item(
            page,
            base_url=self.options.base_url,
            account_index=self.options.account_index,
            item_id=job.id,
            downloads_dir=self.downloads_dir,
            stall_timeout=self.options.stall_timeout,
            after=showing,
        )
        taken = google_site.combine_taken(fetched.taken, job.label_time)
        staged = await asyncio.to_thread(
            self.placer.stage, job.id, fetched.path, fetched.suggested_name
        )
        placed = []
        try:
            for file in staged:
                placed.append(self.placer.place(file, taken))
            self.state.mark_done(job.id, job.kind, taken, placed)
        finally:
            self.placer.discard(staged[len(placed) :])
            # Recorded, or left for a retry to adopt as an identical unclaimed file.
            self.placer.release(placed)
        self.known.add(job.id)
        size = sum(f.size for f in placed)
        self.summary.new += 1
        self.summary.bytes += size
        self.events.emit(
            "item-done",
            id=job.id,
            files=[f.path for f in placed],
            bytes=size,
            taken=taken.isoformat() if taken else None,
        )

    def _remember(self, job: _Job, status: str, error: str, event: str) -> None:
        self.state.mark_unfinished(job.id, job.kind, job.label_time, status, error)
        self.known.add(job.id)
        if status == FAILED:
            self.summary.failed += 1
        else:
            self.summary.skipped += 1
        self.events.emit(event, id=job.id, reason=status, error=error)


async def still_signed_in(page: Page) -> bool:
    """Is the library page still showing a signed-in account?"""
    return await page_state.probe(page, LIBRARY_SIGNS) == SIGNED_IN
