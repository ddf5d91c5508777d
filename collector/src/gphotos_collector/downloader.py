"""Download stage: open one item in a page and fetch its original with Shift+D.

A download is judged by progress, not by a fixed timeout: a 2 GB video that
keeps arriving is fine, a download with no new byte for the stall timeout is
cancelled and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gphotos_collector import google_site, page_state
from gphotos_collector.info_panel import InfoPanel, read_info

if TYPE_CHECKING:
    from playwright.async_api import Download as BrowserDownload
    from playwright.async_api import Page, Response

PROGRESS_POLL = 0.25
VIEWER = "viewer"
NOT_FOUND = "not-found"
PROCESSING = "processing"


class ItemGone(Exception):
    """Google answers that the item does not exist (deleted)."""


class ItemProcessing(Exception):
    """A video Google is still processing: no download until later."""


class FetchFailed(Exception):
    """A failure worth retrying: server error, reset, stall, slow page."""


class StepFailed(FetchFailed):
    """A step of the contract failed for this item: a changed page, if it goes on."""

    def __init__(self, step: str, target: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.target = target


@dataclass(frozen=True)
class Download:
    """One finished download of an item."""

    path: Path  # on DEST's filesystem
    suggested_name: str  # from Content-Disposition: data, not a path


@dataclass(frozen=True)
class Fetched:
    main: Download  # what Download (Shift+D) gives: for an edited photo, the edited version
    original: Download | None  # an edited photo's camera original ("Download original")
    info: InfoPanel  # capture time (with its zone) and what people added
    # Looking for an original failed (the menu): the item is kept, and looked at again.
    original_failure: StepFailed | None = None

    @property
    def paths(self) -> list[Path]:
        return [self.main.path] + ([self.original.path] if self.original else [])


def _viewer_signs(item_id: str) -> page_state.Signs:
    return page_state.Signs(
        selectors=((VIEWER, google_site.VIEWER_SELECTOR.format(item_id=item_id)),),
        texts=((NOT_FOUND, google_site.NOT_FOUND_TEXT),),
    )


def _processing_signs(item_id: str) -> page_state.Signs:
    return page_state.Signs(
        texts=((PROCESSING, google_site.PROCESSING_TEXT),),
        text_scope=google_site.item_scope(item_id),
    )


class SignedOutDuringRun(Exception):
    """The session ended while the run was going on."""


def _gone(item_id: str) -> ItemGone:
    return ItemGone(f"Google Photos has no item {item_id} (deleted?)")


async def open_item(page: Page, url: str, item_id: str) -> None:
    """Open the item's viewer; raise ItemGone, SignedOutDuringRun or FetchFailed.

    A deleted id is a real HTTP 404 on Google (page.goto raises on the error
    page Chrome shows): that means gone, not "try again". The caller gives the
    next item a fresh page, since Chrome's error page may still interrupt this one.
    """
    statuses: list[int] = []

    def on_response(response: Response) -> None:
        with contextlib.suppress(Exception):
            if response.frame == page.main_frame and response.request.is_navigation_request():
                statuses.append(response.status)

    page.on("response", on_response)
    try:
        response = await page.goto(
            url, wait_until="domcontentloaded", timeout=google_site.PAGE_LOAD_TIMEOUT * 1000
        )
    except Exception as error:  # Playwright's Error or TimeoutError
        text = str(error)
        if google_site.HTTP_ERROR_PAGE in text and (
            not statuses or statuses[-1] in google_site.GONE_STATUSES
        ):
            raise _gone(item_id) from None
        first = text.splitlines()[0] if text else type(error).__name__
        raise FetchFailed(f"could not open item {item_id}: {first}") from None
    finally:
        page.remove_listener("response", on_response)
    if response is not None and response.status in google_site.GONE_STATUSES:
        raise _gone(item_id)
    if response is not None and response.status >= 500:
        raise FetchFailed(f"item {item_id} answered HTTP {response.status}")
    found = await page_state.wait_for(page, _viewer_signs(item_id), google_site.PAGE_LOAD_TIMEOUT)
    if found == NOT_FOUND:
        raise _gone(item_id)
    if found == page_state.SIGNED_OUT:
        raise SignedOutDuringRun()
    if found == page_state.TIMED_OUT:
        raise StepFailed(
            google_site.STEP_VIEWER,
            google_site.VIEWER_SELECTOR,
            f"the viewer of item {item_id} did not open",
        )


async def step_to(page: Page, item_id: str) -> bool:
    """From the open viewer, ArrowRight to the next (older) item: is it item_id?

    An in-app navigation is much cheaper than loading the app again; on any
    surprise the caller opens the item by its URL instead.
    """
    before = page.url
    await page.keyboard.press(google_site.NEXT_ITEM_KEY)
    deadline = time.monotonic() + google_site.NEXT_ITEM_TIMEOUT
    while page.url == before:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(page_state.POLL_INTERVAL)
    shown = google_site.ITEM_ID_IN_URL.search(page.url)
    if shown is None or shown.group(1) != item_id:
        return False
    found = await page_state.wait_for(page, _viewer_signs(item_id), google_site.NEXT_ITEM_TIMEOUT)
    if found == NOT_FOUND:
        raise _gone(item_id)
    if found == page_state.SIGNED_OUT:
        raise SignedOutDuringRun()
    return found == VIEWER


NOT_STARTED = "the download did not start"


async def _download_after(
    page: Page, item_id: str, trigger: Callable[[], Awaitable[None]], timeout: float
) -> BrowserDownload:
    """Run trigger (a key, a click) and wait for the download it starts, or its failure."""
    failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_response(response: Response) -> None:
        # A server error instead of a file replaces the page: no download will come.
        if response.status >= 400 and response.frame == page.main_frame and not failed.done():
            with contextlib.suppress(Exception):
                if response.request.is_navigation_request():
                    failed.set_result(f"the download answered HTTP {response.status}")

    page.on("response", on_response)
    download_task = asyncio.ensure_future(page.wait_for_event("download", timeout=timeout * 1000))
    processing_task: asyncio.Future[str] | None = None
    try:
        await asyncio.sleep(0)  # let the download listener register before the trigger
        await page_state.dismiss_dialogs(page)  # a modal dialog swallows the keys
        await trigger()
        processing_task = asyncio.ensure_future(
            page_state.wait_for(page, _processing_signs(item_id), timeout)
        )
        watched: set[asyncio.Future[Any]] = {download_task, processing_task, failed}
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if download_task in done and download_task.exception() is None:
            return download_task.result()
        if failed in done:
            raise FetchFailed(failed.result())
        if processing_task in done and processing_task.result() == PROCESSING:
            raise ItemProcessing("Google is still processing this video")
        if processing_task in done and processing_task.result() == page_state.SIGNED_OUT:
            raise SignedOutDuringRun()
        raise FetchFailed(NOT_STARTED)
    finally:
        page.remove_listener("response", on_response)
        tasks = [t for t in (download_task, processing_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not failed.done():
            failed.cancel()


async def open_more_options(page: Page, item_id: str) -> None:
    """Click the item's More options button (the last visible one if it is shared)."""
    scoped = page.locator(f"{google_site.item_scope(item_id)} {google_site.MORE_OPTIONS_SELECTOR}")
    try:
        if not await scoped.count():  # a button shared by all items: the one on show
            scoped = page.locator(google_site.MORE_OPTIONS_SELECTOR).locator("visible=true")
        await scoped.last.click(timeout=5_000)
    except Exception as error:
        raise StepFailed(
            google_site.STEP_MENU,
            google_site.MORE_OPTIONS_SELECTOR,
            f"the More options menu did not open ({str(error).splitlines()[0]})",
        ) from None


async def start_download(page: Page, item_id: str, timeout: float) -> BrowserDownload:
    """Shift+D, and the More options menu if the key did nothing."""

    async def press_key() -> None:
        await page.keyboard.press(google_site.DOWNLOAD_KEY)

    try:
        return await _download_after(page, item_id, press_key, timeout)
    except FetchFailed as error:
        if str(error) != NOT_STARTED:
            raise
    # The menu route: More options, then the Download entry.
    entry = page.locator(google_site.DOWNLOAD_MENU_ITEM_SELECTOR).first
    await open_more_options(page, item_id)
    try:
        await entry.wait_for(timeout=5_000)
    except Exception as error:  # no menu entry either: report what the key did not do
        with contextlib.suppress(Exception):
            await page.keyboard.press(google_site.MENU_CLOSE_KEY)
        raise StepFailed(
            google_site.STEP_DOWNLOAD,
            f"{google_site.DOWNLOAD_KEY}, {google_site.DOWNLOAD_MENU_ITEM_SELECTOR}",
            f"{NOT_STARTED} ({str(error).splitlines()[0]})",
        ) from None

    async def click_entry() -> None:
        await entry.click(timeout=5_000)

    return await _download_after(page, item_id, click_entry, timeout)


def _progress_file(download: BrowserDownload) -> Path | None:
    """Where Chrome writes this download while it arrives (<path>.crdownload)."""
    # Playwright names the final file after Chrome's download guid; it is not public API.
    impl: Any = getattr(download, "_impl_obj", None)
    artifact: Any = getattr(impl, "_artifact", None)
    initializer = getattr(artifact, "_initializer", None) or {}
    absolute = initializer.get("absolutePath") if isinstance(initializer, dict) else None
    return Path(str(absolute) + ".crdownload") if absolute else None


def _bytes_so_far(progress_file: Path | None, downloads_dir: Path) -> int:
    if progress_file is not None:
        for candidate in (progress_file, progress_file.with_suffix("")):
            with contextlib.suppress(OSError):
                return candidate.stat().st_size
        return 0
    # Without the file's name, any growth in the downloads folder counts as progress.
    total = 0
    with contextlib.suppress(OSError):
        for child in downloads_dir.iterdir():
            with contextlib.suppress(OSError):
                total += child.stat().st_size
    return total


async def finish_download(
    download: BrowserDownload, downloads_dir: Path, stall_timeout: float
) -> Path:
    """Wait while bytes keep arriving; cancel after stall_timeout without progress."""
    path_task = asyncio.ensure_future(download.path())
    progress_file = _progress_file(download)
    last_size = -1
    last_progress = time.monotonic()
    try:
        while not path_task.done():
            size = _bytes_so_far(progress_file, downloads_dir)
            now = time.monotonic()
            if size != last_size:
                last_size, last_progress = size, now
            elif now - last_progress >= stall_timeout:
                await download.cancel()
                raise FetchFailed(f"the download stalled at {size} bytes")
            await asyncio.wait({path_task}, timeout=PROGRESS_POLL)
        failure = await download.failure()
        if failure:
            raise FetchFailed(f"the download failed: {failure}")
        return Path(path_task.result())
    finally:
        if not path_task.done():
            path_task.cancel()
        # Collect its outcome either way (a cancelled download fails it: "canceled").
        await asyncio.gather(path_task, return_exceptions=True)


async def _finished(
    page: Page,
    item_id: str,
    downloads_dir: Path,
    stall_timeout: float,
    started: Awaitable[BrowserDownload],
) -> Download:
    """Wait for a started download to finish; delete what it left on any failure."""
    download = await started
    try:
        path = await finish_download(download, downloads_dir, stall_timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            await download.delete()
        raise
    return Download(path=path, suggested_name=download.suggested_filename)


async def download_shown(
    page: Page, item_id: str, downloads_dir: Path, stall_timeout: float
) -> Download:
    """Download (Shift+D) the item the viewer shows; the caller places or deletes the file."""
    started = start_download(page, item_id, google_site.DOWNLOAD_START_TIMEOUT)
    return await _finished(page, item_id, downloads_dir, stall_timeout, started)


async def fetch_original(
    page: Page, item_id: str, downloads_dir: Path, stall_timeout: float, data_loaded: bool
) -> Download | None:
    """An edited photo's camera original through More options, or None if not edited.

    The "Download original" entry exists only for edited items and only once
    the item's data has loaded (`data_loaded`: the info panel showed it has).
    """
    if not data_loaded:
        await asyncio.sleep(google_site.ITEM_DATA_WAIT)
    await page_state.dismiss_dialogs(page)
    await open_more_options(page, item_id)
    entry = page.locator(google_site.DOWNLOAD_ORIGINAL_MENU_ITEM_SELECTOR).locator("visible=true")
    if not await entry.count():
        await page.keyboard.press(google_site.MENU_CLOSE_KEY)
        return None

    async def click_entry() -> None:
        await entry.first.click(timeout=5_000)

    started = _download_after(page, item_id, click_entry, google_site.DOWNLOAD_START_TIMEOUT)
    return await _finished(page, item_id, downloads_dir, stall_timeout, started)


async def show_item(
    page: Page,
    *,
    base_url: str,
    account_index: int,
    item_id: str,
    view: str = google_site.VIEW_GRID,
    after: str | None = None,
) -> InfoPanel:
    """Show the item in the viewer; what its info panel shows (empty if it did not show).

    `after` is the item the page's viewer shows now, when item_id follows it in
    `view`: then the viewer steps to it instead of loading the app again.
    """
    if not (after and after in page.url and await step_to(page, item_id)):
        await open_item(page, google_site.item_url(base_url, account_index, item_id, view), item_id)
    return await read_info(page, item_id)


async def fetch_item(
    page: Page,
    *,
    base_url: str,
    account_index: int,
    item_id: str,
    downloads_dir: Path,
    stall_timeout: float,
    view: str = google_site.VIEW_GRID,
    after: str | None = None,
) -> Fetched:
    """Open one item and download it, and an edited photo's original; the caller places them."""
    info = await show_item(
        page,
        base_url=base_url,
        account_index=account_index,
        item_id=item_id,
        view=view,
        after=after,
    )
    main = await download_shown(page, item_id, downloads_dir, stall_timeout)
    try:
        original = await fetch_original(
            page, item_id, downloads_dir, stall_timeout, data_loaded=info.taken is not None
        )
    except StepFailed as failure:  # the download is safe; its original is looked for later
        return Fetched(main=main, original=None, info=info, original_failure=failure)
    except BaseException:
        main.path.unlink(missing_ok=True)
        raise
    return Fetched(main=main, original=original, info=info)
