"""The stages together, one run: list (listing.py), then per item (workers.py):
download (downloader.py), place (placer.py), sidecars (sidecars.py).

One browser context on the profile; the listing walks its views in one page
while N worker pages take what it queues (jobs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import google_site
from gphotos_collector.account import Account, open_library, signed_out
from gphotos_collector.albums import AlbumPass
from gphotos_collector.browser import Browser, check_profile_dir, find_browser, open_context
from gphotos_collector.debug_bundle import save_bundle
from gphotos_collector.dest import (
    DEST_UNWRITABLE_ERRNOS,
    check_mount,
    dest_lock,
    dest_trouble,
    dest_unwritable,
    prepare_dest,
)
from gphotos_collector.downloader import SignedOutDuringRun
from gphotos_collector.errors import (
    CollectorError,
    ExitCode,
    PageChangedError,
    SignedOutError,
    TemporaryError,
    UsageError,
)
from gphotos_collector.events import EventSink
from gphotos_collector.jobs import JobQueue
from gphotos_collector.lister import ListingError
from gphotos_collector.listing import Listing, listing_failed
from gphotos_collector.placer import Placer, clean_tmp
from gphotos_collector.sidecars import Sidecars
from gphotos_collector.sidecars import unavailable as sidecars_unavailable
from gphotos_collector.state import (
    State,
    state_dir,
)
from gphotos_collector.workers import Workers

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

DEFAULT_BASE_URL = google_site.DEFAULT_BASE_URL
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
    albums: bool = False  # the album pass: DEST/albums/<title>/ links (albums.py)
    shared_albums: bool = False  # ... and keep others' items of shared albums under shared/

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
    sidecars: int = 0  # XMP sidecars written (new, or a value changed) in this run
    details_changed: int = 0  # backed-up items whose caption, people or albums changed
    details_unread: int = 0  # items whose info panel did not show: read again next run
    details_to_refresh: int = 0  # backed-up items whose details are due to be read again
    sidecars_unavailable: str | None = None  # why no sidecar could be written here
    albums: dict[str, object] | None = None  # the album pass (albums.AlbumsReport), if run
    # Failed items that failed on FAILING_FOR_GOOD_NIGHTS nights or more: {id, nights, error}.
    failing_for_good: list[dict[str, object]] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """4 only for failures that may still pass; failing for good is reported, not retried."""
        return ExitCode.ITEMS_FAILED if self.failed > len(self.failing_for_good) else ExitCode.OK


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
        self.summary = SyncSummary()
        self.jobs = JobQueue(state, events, options.workers)
        self.listing = Listing(options, state, events, self.jobs)
        self.workers = Workers(
            options,
            state,
            events,
            self.jobs,
            self.listing.known,
            self.summary,
            self.downloads_dir,
            Placer(options.dest, self.tmp_dir, state.is_claimed),
            self._sidecars(),
            self._page_changed,
        )
        self._account: Account | None = None
        self._evidence: asyncio.Future[None] | None = None  # the debug bundle being saved

    def _sidecars(self) -> Sidecars | None:
        """The sidecar stage, or None (said once) where XMP cannot be written."""
        problem = sidecars_unavailable()
        if problem is None:
            return Sidecars(self.options.dest, self.tmp_dir)
        self.summary.sidecars_unavailable = problem
        self.events.emit("sidecars-unavailable", error=problem)
        return None

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
        self.summary.details_to_refresh = report.details_to_refresh
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
            asyncio.ensure_future(self.workers.work(context)) for _ in range(self.options.workers)
        ]
        lister = asyncio.ensure_future(self._list(page))
        tasks = [lister, *workers]
        try:
            await self._wait_all(tasks)
            if (
                (self.options.albums or self.options.shared_albums)
                and self.workers.signed_out_at is None
                and self.listing.report.changed is None
            ):
                album_pass = AlbumPass(
                    self.options,
                    self.state,
                    self.events,
                    self.downloads_dir,
                    self.tmp_dir,
                    self.workers.sidecars,
                )
                try:
                    self.summary.albums = asdict(await album_pass.run(page))
                except SignedOutDuringRun:
                    self.workers.signed_out_at = page.url
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._evidence is not None:  # finish writing it, whoever was cancelled
                await asyncio.gather(self._evidence, return_exceptions=True)
            if self.options.debug_dir is not None:
                await self._save_bundle(page, "on demand (--debug-dir)", "", "")
        if self.workers.signed_out_at is not None:
            raise signed_out(
                self.options.profile,
                self.options.account_index,
                "during the run",
                self.workers.signed_out_at,
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
