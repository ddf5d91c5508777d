"""The live display on a terminal: sync's events drawn by rich, read back as text."""

from __future__ import annotations

import io
import os
import pty
import re
import time
from inspect import signature
from pathlib import Path

import pytest
from gphotos_collector.progress import ProgressDisplay, human_bytes, human_seconds
from rich.console import Console
from rich.text import Text

from fakes.photos import FakePhotos
from tests.collector.test_sync import sync_args
from tests.conftest import collector_command

ALICE = "alice@example.com"
ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def terminal() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, force_terminal=True, width=100), output


def frame(display: ProgressDisplay) -> str:
    """One frame of the display, as the terminal shows it (without colours)."""
    console, output = terminal()
    console.print(display)
    return Text.from_ansi(output.getvalue()).plain


def test_listing_shows_the_view_and_counts_from_the_start() -> None:
    display = ProgressDisplay(terminal()[0], clock=Clock())
    assert "Opening the library" in frame(display)
    display.emit("sync-start", account="alice@example.com", full_scan=False)
    assert "Opening the library of alice@example.com" in frame(display)

    display.emit("listing", view="recently-added", seen=40, queued=0)
    shown = frame(display)
    assert "Listing recently-added: 40 seen, 0 queued" in shown
    assert "items" not in shown  # nothing queued yet: no download line
    display.emit("listed", view="recently-added", seen=42, new=0, reached_end=True)
    display.emit("listing", view="grid", seen=1234, queued=0)
    shown = frame(display)
    assert "Listed recently-added: 42 seen, 0 new" in shown
    assert "Listing grid: 1,234 seen, 0 queued" in shown


def test_downloads_show_as_soon_as_the_first_item_is_queued() -> None:
    clock = Clock()
    display = ProgressDisplay(terminal()[0], clock=clock)
    display.emit("listing", view="grid", seen=300, queued=0)
    for number in range(1, 11):
        display.emit("queued", id=f"id{number}", total=number)
    assert "0/10 items" in frame(display)
    clock.now += 10
    for number in range(1, 5):
        display.emit("item-done", id=f"id{number}", files=1, bytes=2_500_000)
    display.emit("item-failed", id="id5", error="stalled")
    display.emit("item-skipped", id="id6", reason="processing")
    display.emit("item-retry", id="id7", attempt=1, error="reset")
    shown = frame(display)
    assert "Listing grid: 300 seen, 10 queued" in shown
    assert "6/10 items" in shown
    assert "10.0 MB" in shown
    assert "0.4 items/s, 1.0 MB/s" in shown
    assert "ETA 10s (more to list)" in shown  # 4 left at 0.4 items/s, listing goes on
    assert "1 failed" in shown and "1 skipped" in shown and "1 retried" in shown

    display.emit("listed", view="grid", seen=310, new=10, reached_end=True)
    shown = frame(display)
    assert "Listed grid: 310 seen, 10 new" in shown
    assert "ETA 10s" in shown and "more to list" not in shown


def test_events_without_a_view_still_show() -> None:
    display = ProgressDisplay(terminal()[0], clock=Clock())
    display.emit("listing", seen=77, queued=5)
    assert "Listing library: 77 seen, 5 queued" in frame(display)
    display.emit("listed", seen=80, new=6, reached_end=False)
    assert "Listed library: 80 seen, 6 new, stopped early" in frame(display)


def test_the_summary_ends_the_live_display() -> None:
    console, output = terminal()
    with ProgressDisplay(console, refresh_per_second=20) as display:
        display.emit("sync-start", account="alice@example.com", full_scan=True)
        display.emit("listing", view="grid", seen=12, queued=3)
        display.emit("queued", id="a", total=3)
        display.emit("item-done", id="a", files=2, bytes=1500)
        time.sleep(0.2)
        display.emit("summary", new=1, skipped=0, failed=0, bytes=1500, seconds=1.0)
        display.emit("item-done", id="late", files=1, bytes=1)  # after the end: ignored
    text = Text.from_ansi(output.getvalue()).plain
    assert "Listing grid (full scan): 12 seen, 3 queued" in text
    assert "1/3 items" in text
    assert "\x1b[?25h" in output.getvalue()  # the cursor is shown again
    assert not display._live.is_started


def test_an_error_mid_run_stops_the_display_too() -> None:
    console, output = terminal()
    with pytest.raises(RuntimeError), ProgressDisplay(console) as display:
        display.emit("listing", view="grid", seen=1, queued=0)
        raise RuntimeError("boom")
    assert not display._live.is_started
    assert "\x1b[?25h" in output.getvalue()


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (2_500_000_000, "2.5 GB")]
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (65, "1m05s"), (3720, "1h02m")])
def test_human_seconds(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text


def test_a_real_sync_on_a_terminal(tmp_path: Path) -> None:
    """A real sync on a pseudo-terminal: the live display, then the summary sentence."""
    stale = {"stale_copies": False} if "stale_copies" in signature(FakePhotos).parameters else {}
    with FakePhotos(items=12, seed=5, accounts=[ALICE], media_scale=0.02, **stale) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        command = collector_command(*sync_args(fake, profile, dest))
        output = bytearray()

        def read(fd: int) -> bytes:
            data = os.read(fd, 65536)
            output.extend(data)
            return data

        status = pty.spawn(command, read)
    raw = output.decode("utf-8", "replace")
    text = ANSI_CODE.sub("", raw)
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Opening the library" in text
    assert "Listed grid: " in text
    assert re.search(r"\d+/\d+ items", text), text
    assert "items/s" in text
    assert f"Photos are in {dest}" in text
    assert '"event"' not in text
    assert "\x1b[?25h" in raw  # the display stopped: the cursor is back
