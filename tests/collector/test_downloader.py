"""A download is judged by progress, not by a fixed timeout: real Chromium, real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from gphotos_collector.browser import find_browser, open_context
from gphotos_collector.downloader import FetchFailed, finish_download
from playwright.async_api import async_playwright

from tests.conftest import CHROMIUM

CHUNK = b"x" * 4096
STALL_TIMEOUT = 1.5
TRICKLE_CHUNKS = 16  # one every 0.4 s: 6.4 s in all, far longer than the stall timeout
TRICKLE_PAUSE = 0.4


class Handler(BaseHTTPRequestHandler):
    """/trickle sends slowly but steadily; /stall sends one chunk and then nothing."""

    def do_GET(self) -> None:
        if self.path == "/":
            page = b'<a id="trickle" href="/trickle">t</a> <a id="stall" href="/stall">s</a>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        chunks = TRICKLE_CHUNKS if self.path == "/trickle" else 1
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Disposition", f'attachment; filename="{self.path[1:]}.jpg"')
        self.send_header("Content-Length", str(len(CHUNK) * TRICKLE_CHUNKS))
        self.end_headers()
        try:
            for _ in range(chunks):
                self.wfile.write(CHUNK)
                self.wfile.flush()
                time.sleep(TRICKLE_PAUSE)
            if self.path == "/stall":
                time.sleep(30)  # the rest never comes (the client gives up first)
        except OSError:
            pass  # the browser cancelled

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def download(base_url: str, link: str, tmp_path: Path) -> tuple[bytes | None, str, float]:
    """Click a link in real Chromium and wait as the collector does."""
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        context = await open_context(
            playwright, find_browser(CHROMIUM), tmp_path / "profile", downloads
        )
        try:
            page = await context.new_page()
            await page.goto(base_url + "/")
            async with page.expect_download() as info:
                await page.click(f"#{link}")
            started = time.monotonic()
            try:
                path = await finish_download(await info.value, downloads, STALL_TIMEOUT)
            except FetchFailed as error:
                return None, str(error), time.monotonic() - started
            return path.read_bytes(), "", time.monotonic() - started  # gone once closed
        finally:
            await context.close()


def test_a_slow_download_that_keeps_moving_is_not_a_stall(server: str, tmp_path: Path) -> None:
    data, error, seconds = asyncio.run(download(server, "trickle", tmp_path))
    assert error == ""
    assert data == CHUNK * TRICKLE_CHUNKS
    assert seconds > 3 * STALL_TIMEOUT  # it really outlived the stall timeout


def test_a_download_that_stops_moving_fails_as_stalled(server: str, tmp_path: Path) -> None:
    data, error, seconds = asyncio.run(download(server, "stall", tmp_path))
    assert data is None
    assert "stalled" in error
    assert seconds < 15  # the stall was noticed, not waited out
