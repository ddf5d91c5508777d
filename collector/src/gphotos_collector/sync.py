"""The stages together: list (listing.py), download (downloader.py), place (placer.py).

One browser context on the profile; the listing walks its views in one page
while N worker pages download what it queues (jobs.py). Items that fail are
retried with backoff, then remembered and retried on the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import google_site
from gphotos_collector.account import Account, open_library, signed_out
from gphotos_collector.browser import Browser, check_profile_dir, find_browser, open_context
from gphotos_collector.debug_bundle import save_bundle
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
from gphotos_collector.errors import (
    CollectorError,
    DestUnwritableError,
    ExitCode,
    LockedError,
    NotMountedError,
    PageChangedError,
    SignedOutError,
    TemporaryError,
    UsageError,
)
from gphotos_collector.events import EventSink
from gphotos_collector.jobs import Job, JobQueue
from gphotos_collector.lister import ListingError
from gphotos_collector.listing import Listing, listing_failed
from gphotos_collector.lock import RunLock
from gphotos_collector.page_watch import PageWatch
from gphotos_collector.placer import IncompleteDownload, Placer, StagedFile, clean_tmp
from gphotos_collector.state import (
    EDITED,
    FAILED,
    GONE,
    ORIGINAL,
    PROCESSING,
    PlacedFile,
    State,
    real_state_dir,
    state_dir,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

DEFAULT_BASE_URL = google_site.DEFAULT_BASE_URL
ITEM_ATTEMPTS = 3
RETRY_BACKOFF = (1.0, 4.0)  # seconds before the 2nd and the 3rd attempt, plus jitter
PAGE_RECYCLE_EVERY = 200  # a fresh page now and then keeps the browser's memory flat
LOCK_FILE_NAME = "lock"
FAILING_FOR_GOOD_NIGHTS = 3  # an item failing on this many nights is reported, not retried
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
    debug_dir: Path | None = None  # save a debug bundle here at the end of the run

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
    listed: dict[str, int] = field(default_factory=dict)  # ids seen per view
    originals: int = 0  # edited photos whose camera original was saved in this run
    originals_to_check: int = 0  # items of release 0.1 still to look at for an original
    fallback: str | None = None  # why Recently added was not trusted (the library was listed)
    # Failed items that failed on FAILING_FOR_GOOD_NIGHTS nights or more: {id, nights, error}.
    failing_for_good: list[dict[str, object]] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """4 only for failures that may still pass; failing for good is reported, not retried."""
        return ExitCode.ITEMS_FAILED if self.failed > len(self.failing_for_good) else ExitCode.OK


@dataclass
class _Tab:
    """A worker's page, replaced when it crashes or has served enough items."""

    page: Page
    served: int = 0


# Below this much free space on DEST, a failing download or write is a full disk.
MIN_FREE_BYTES = 8 * 1024 * 1024
DEST_UNWRITABLE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
WRITE_PROBE_NAME = "write-probe"


def dest_trouble(dest: Path) -> DestUnwritableError | None:
    """DEST's filesystem is read-only or full (then writes fail whatever raised)."""
    try:
        stats = os.statvfs(dest)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return DestUnwritableError(
            f"{dest} is on a read-only filesystem (remounted read-only after a disk error?): "
            "the run stopped and nothing was lost; check the disk (`dmesg`), remount it "
            "read-write, and the next run carries on."
        )
    free = stats.f_bavail * stats.f_frsize
    probe = _write_probe(dest)
    if probe == errno.EROFS:  # ext4's errors=remount-ro shows only here, not in statvfs
        return DestUnwritableError(
            f"{dest} became read-only (a disk error? see `dmesg`): the run stopped and "
            "nothing was lost; check the disk, mount it read-write again, and the next run "
            "carries on."
        )
    if free < MIN_FREE_BYTES or stats.f_favail == 0 or probe in (errno.ENOSPC, errno.EDQUOT):
        return DestUnwritableError(
            f"the disk of {dest} is full ({free / 1e6:.1f} MB free): the run stopped and "
            "nothing was lost; free some space or grow the disk, and the next run carries on "
            "where this one stopped."
        )
    return None


def _write_probe(dest: Path) -> int | None:
    """The errno of creating a small file in DEST's state folder (None: it worked)."""
    folder = state_dir(dest)
    if folder.is_symlink() or not folder.is_dir():
        return None
    probe = folder / WRITE_PROBE_NAME
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as error:
        with contextlib.suppress(OSError):
            probe.unlink()
        return error.errno
    return None


def dest_unwritable(dest: Path, error: OSError) -> DestUnwritableError:
    """The sentence for a write DEST refused (ENOSPC, EDQUOT, EROFS)."""
    found = dest_trouble(dest)
    if found is not None:
        return found
    if error.errno == errno.EROFS:
        return DestUnwritableError(
            f"{dest} refused a write as read-only: the run stopped and nothing was lost; "
            "remount it read-write, and the next run carries on."
        )
    what = "this user's disk quota" if error.errno == errno.EDQUOT else "the disk"
    return DestUnwritableError(
        f"{what} of {dest} is full ({error.strerror}): the run stopped and nothing was lost; "
        "free some space, and the next run carries on where this one stopped."
    )


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
    if (trouble := dest_trouble(dest)) is not None:
        raise trouble
    if not os.access(dest, os.W_OK | os.X_OK):
        raise UsageError(f"--dest {dest} is not writable by this user: fix its owner or mode.")
    real_state_dir(dest)  # a link planted in its place is refused, never followed


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
    try:
        with dest_lock(options.dest):
            state = State.open(options.dest)
            try:
                _report_set_aside(state, events)
                options = _with_due_full_scan(options, state, events)
                return asyncio.run(_Sync(options, browser, state, events).run())
            finally:
                state.close()
    except (OSError, sqlite3.OperationalError) as error:
        # A disk that filled up or went read-only under SQLite or a file: not a bug.
        if (trouble := dest_trouble(options.dest)) is not None:
            raise trouble from None
        if isinstance(error, OSError) and error.errno in DEST_UNWRITABLE_ERRNOS:
            raise dest_unwritable(options.dest, error) from None
        raise


def _report_set_aside(state: State, events: EventSink) -> None:
    if state.set_aside is None:
        return
    events.emit(
        "state-set-aside",
        path=str(state.set_aside),
        reason=state.set_aside_reason,
        message=(
            f"the state file could not be read ({state.set_aside_reason}): it was kept as "
            f"{state.set_aside} and a new one is built; files already in DEST are taken "
            "back, not duplicated. Nothing to do."
        ),
    )


def _judge_failures(summary: SyncSummary, state: State, events: EventSink) -> None:
    """Items failing night after night are named, and no longer fail the whole run."""
    if not summary.failed:
        return
    for item_id, nights, error in state.failing_for_good(FAILING_FOR_GOOD_NIGHTS):
        summary.failing_for_good.append({"id": item_id, "nights": nights, "error": error})
        events.emit("item-failing-for-good", id=item_id, nights=nights, error=error)


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
        self.jobs = JobQueue(state, events, options.workers)
        self.listing = Listing(options, state, events, self.jobs)
        self.watch = PageWatch()
        self._signed_out_at: str | None = None  # the URL a worker saw the session end on
        self._account: Account | None = None
        self._evidence: asyncio.Future[None] | None = None  # the debug bundle being saved

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
                    playwright, self.browser, self.options.profile, self.downloads_dir, self.events
                )
                try:
                    await self._run_in(context)
                finally:
                    with contextlib.suppress(Exception):
                        await context.close()
            _judge_failures(self.summary, self.state, self.events)
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
            self._take_report()
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
            # Also when the run failed: what it did before is worth telling.
            self.events.emit(
                "summary",
                **asdict(self.summary),
                dest=str(self.options.dest),
                exit_code=int(exit_code),
            )
        return self.summary

    def _take_report(self) -> None:
        report = self.listing.report
        self.summary.listed = dict(report.listed)
        self.summary.known = report.known
        self.summary.fallback = report.fallback
        self.summary.deleted_on_google = report.deleted_on_google
        self.summary.originals_to_check = report.originals_to_check
        with contextlib.suppress(sqlite3.Error):  # what is left after this run's checks
            self.summary.originals_to_check = self.state.count_unchecked_originals()

    async def _run_in(self, context: BrowserContext) -> None:
        page = context.pages[0] if context.pages else await context.new_page()
        first_view = self.listing.first_view
        try:
            account = await open_library(
                page,
                self.options.base_url,
                self.options.account_index,
                self.options.profile,
                first_view,
            )
        except PageChangedError as error:  # Recently added is gone: the library grid is not
            if first_view == google_site.VIEW_GRID:
                raise
            await self._page_changed(page, error)
            self.listing.view_unavailable(error)
            first_view = google_site.VIEW_GRID
            account = await open_library(
                page,
                self.options.base_url,
                self.options.account_index,
                self.options.profile,
                first_view,
            )
        self.listing.showing(first_view)
        self._account = account
        self._bind_account(account)
        self.summary.account = account.email
        self.events.emit(
            "sync-start",
            account=account.email,
            dest=str(self.options.dest),
            workers=self.options.workers,
            full_scan=self.options.full_scan,
            incremental=self.listing.incremental,
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
            if self._evidence is not None:  # finish writing it, whoever was cancelled
                await asyncio.gather(self._evidence, return_exceptions=True)
            if self.options.debug_dir is not None:
                await self._save_bundle(page, "on demand (--debug-dir)", "", "")
        if self._signed_out_at is not None:
            raise signed_out(
                self.options.profile,
                self.options.account_index,
                "during the run",
                self._signed_out_at,
            )
        if self.listing.report.changed is not None:  # all saved through the grid; still say it
            raise self.listing.report.changed

    async def _save_bundle(self, page: Page, step: str, target: str, error: str) -> None:
        folder = self.options.debug_dir or state_dir(self.options.dest) / "debug"
        try:
            bundle = await save_bundle(
                page,
                folder,
                step=step,
                target=target,
                error=error,
                browser_version=self.browser.version,
                email=self._account.email if self._account else None,
                name=self._account.name if self._account else None,
            )
        except OSError as why:  # evidence is a bonus: never hide the real failure
            self.events.emit("debug-bundle-failed", error=str(why))
            return
        self.events.emit("debug-bundle", path=str(bundle), step=step)

    async def _page_changed(self, page: Page, error: PageChangedError) -> None:
        """Keep the evidence, once a run: workers meeting the change together wait for it."""
        if self._evidence is None:
            self._evidence = asyncio.ensure_future(
                self._save_bundle(page, error.step, error.target, error.message)
            )
        await asyncio.shield(self._evidence)

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
        self.listing.on_changed = self._page_changed
        try:
            await self.listing.run(page)
        except ListingError as error:
            raise listing_failed(error) from None
        except PageChangedError as error:
            await self._page_changed(page, error)
            raise
        finally:
            self.jobs.close()

    # --- download and place -------------------------------------------------
    async def _worker(self, context: BrowserContext) -> None:
        tab = _Tab(await context.new_page())
        try:
            while True:
                batch = await self.jobs.queue.get()
                if batch is None:
                    return
                showing: str | None = None  # the item the viewer shows now
                for job in batch:
                    if self._signed_out_at is not None:
                        return
                    if tab.served >= PAGE_RECYCLE_EVERY or tab.page.is_closed():
                        await self._fresh_page(context, tab)
                        showing = None
                    tab.served += 1
                    try:
                        handled = await self._handle(context, tab, job, showing)
                    except PageChangedError as error:
                        await self._page_changed(tab.page, error)
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
                if job.original_only:
                    await self._add_original(tab.page, job, after)
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
                self._signed_out_at = tab.page.url
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
        taken = google_site.combine_taken(fetched.taken, job.label_time)
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
        self.listing.known.add(job.id)
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
        self._watch_item(job.id, fetched.taken, fetched.original_failure)

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

    async def _add_original(self, page: Page, job: Job, showing: str | None) -> None:
        """An item of release 0.1: if it is an edited photo, fetch and keep its original."""
        taken = await show_item(
            page,
            base_url=self.options.base_url,
            account_index=self.options.account_index,
            item_id=job.id,
            view=job.view,
            after=showing,
        )
        original = await fetch_original(
            page,
            job.id,
            self.downloads_dir,
            self.options.stall_timeout,
            data_loaded=taken is not None,
        )
        self.watch.passed(google_site.STEP_VIEWER, google_site.STEP_MENU)
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
        if job.original_only:  # the item itself is backed up; look again next run
            self.events.emit("item-retry-later", id=job.id, reason=status, error=error)
            return
        self.state.mark_unfinished(job.id, job.kind, job.label_time, status, error)
        self.listing.known.add(job.id)
        if status == FAILED:
            self.summary.failed += 1
        else:
            self.summary.skipped += 1
        self.events.emit(event, id=job.id, reason=status, error=error)
