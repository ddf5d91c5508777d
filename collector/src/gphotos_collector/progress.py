"""A progress bar on a terminal: items, bytes, rate and ETA, from sync's events."""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Any

BAR_WIDTH = 24
REDRAW_EVERY = 0.2  # seconds


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def human_seconds(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """An EventSink that redraws one status line on a terminal (stderr)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._queued = 0
        self._done = 0
        self._failed = 0
        self._skipped = 0
        self._bytes = 0
        self._seen = 0
        self._listing = True

    def emit(self, event: str, **fields: Any) -> None:
        if event == "queued":
            self._queued = int(fields.get("total", self._queued + 1))
        elif event == "listing":
            self._seen = int(fields.get("seen", self._seen))
        elif event == "listed":
            self._seen = int(fields.get("seen", self._seen))
            self._listing = False
        elif event == "item-done":
            self._done += 1
            self._bytes += int(fields.get("bytes", 0))
        elif event == "item-failed":
            self._failed += 1
        elif event == "item-skipped":
            self._skipped += 1
        elif event == "summary":
            self._draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
            return
        elif event == "item-retry":
            pass
        else:
            return
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_EVERY:
            return
        self._last_draw = now
        handled = self._done + self._failed + self._skipped
        total = max(self._queued, handled)
        elapsed = max(now - self._started, 1e-6)
        rate = self._done / elapsed
        filled = int(BAR_WIDTH * handled / total) if total else 0
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        if self._listing:
            eta = f"listing ({self._seen} seen)"
        elif rate > 0 and total > handled:
            eta = f"ETA {human_seconds((total - handled) / rate)}"
        else:
            eta = ""
        line = (
            f"[{bar}] {handled}/{total} items  {human_bytes(self._bytes)}  "
            f"{rate:.1f} items/s  {human_bytes(self._bytes / elapsed)}/s  {eta}"
        )
        if self._failed:
            line += f"  {self._failed} failed"
        width = shutil.get_terminal_size((100, 20)).columns
        self._stream.write("\r" + line[: width - 1].ljust(width - 1))
        self._stream.flush()
