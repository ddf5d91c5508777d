"""The live display on a terminal, drawn with rich on stderr from sync's events.

It shows something from the first second: the library being opened, then
which view is being listed and how many items were seen and queued (a first
run of a large library lists for minutes), and as soon as the first item is
queued the downloads: items done of queued, bytes, rate, ETA, failures and
skips. The `summary` event ends it; the command then prints its sentence.
Off a terminal (cron, pipes) the events are JSON lines instead (events.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.padding import Padding
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

REFRESH_PER_SECOND = 4
BAR_WIDTH = 30
UNNAMED_VIEW = "library"  # `listing` events from before views had names


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


@dataclass
class _View:
    """One view being listed (Recently added, the grid, the Archive)."""

    name: str
    seen: int = 0
    new: int | None = None  # set once listed
    reached_end: bool | None = None

    @property
    def listed(self) -> bool:
        return self.new is not None


class ProgressDisplay:
    """An EventSink that keeps a live display of a sync on a terminal (stderr).

    Use it as a context manager around the sync so the display also stops
    (and the cursor comes back) when the run ends with an error.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        refresh_per_second: float = REFRESH_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console(stderr=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._live = Live(
            self,
            console=self.console,
            refresh_per_second=refresh_per_second,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._first_queued: float | None = None  # when downloads could begin
        self._account = ""
        self._full_scan = False
        self._views: dict[str, _View] = {}
        self._current: _View | None = None
        self._queued = 0
        self._done = 0
        self._failed = 0
        self._skipped = 0
        self._retries = 0
        self._missing = 0
        self._deleted_on_google = 0
        self._bytes = 0
        self._running = False
        self._finished = False
        self._albums: int | None = None  # the album pass: albums listed, then walked
        self._albums_walked = 0

    # --- life cycle ---------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._running or self._finished:
                return
            self._running = True
        self._live.start()

    def stop(self) -> None:
        with self._lock:
            running, self._running = self._running, False
            self._finished = True
        if running:
            self._live.stop()

    def __enter__(self) -> ProgressDisplay:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- events -------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        if event == "summary":
            self.stop()  # a final frame with the last counts, then the command's sentence
            return
        with self._lock:
            self._record(event, fields)

    def _record(self, event: str, fields: dict[str, Any]) -> None:
        if event == "sync-start":
            self._account = str(fields.get("account") or "")
            self._full_scan = bool(fields.get("full_scan"))
        elif event == "full-scan-due":
            self._full_scan = True
        elif event in ("listing", "listed"):
            view = self._view(fields.get("view"))
            view.seen = int(fields.get("seen", view.seen))
            self._queued = max(self._queued, int(fields.get("queued", 0)))
            if event == "listed":
                view.new = int(fields.get("new", 0))
                view.reached_end = fields.get("reached_end")
                self._current = None
        elif event == "queued":
            self._queued = int(fields.get("total", self._queued + 1))
            if self._first_queued is None:
                self._first_queued = self._clock()
        elif event == "item-done":
            self._done += 1
            self._bytes += int(fields.get("bytes", 0))
        elif event == "item-failed":
            self._failed += 1
        elif event == "item-skipped":
            self._skipped += 1
        elif event == "item-retry":
            self._retries += 1
        elif event == "item-missing":
            self._missing += 1
        elif event == "deleted-on-google":
            self._deleted_on_google += int(fields.get("count", 0))
        elif event == "albums-listed":
            self._albums = int(fields.get("count", 0))
        elif event == "album-walked":
            self._albums_walked += 1

    def _view(self, name: object) -> _View:
        key = str(name) if name else UNNAMED_VIEW
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = _View(key)
        self._current = view
        return view

    # --- drawing (called by rich's refresh thread) ----------------------------
    def __rich__(self) -> RenderableType:
        with self._lock:
            lines: list[RenderableType] = [
                *self._listing_lines(),
                *self._download_lines(),
                *self._album_lines(),
            ]
        return Group(*lines)

    def _listing_lines(self) -> list[RenderableType]:
        scan = " (full scan)" if self._full_scan else ""
        if not self._views:
            who = f" of {self._account}" if self._account else ""
            return [Spinner("dots", Text(f"Opening the library{who}{scan}...", style="bold"))]
        lines: list[RenderableType] = []
        for view in self._views.values():
            if view.listed:
                end = "" if view.reached_end in (None, True) else ", stopped early"
                text = Text.assemble(
                    ("✓ ", "green"),
                    (f"Listed {view.name}", "bold"),
                    f": {view.seen:,} seen, {view.new:,} new{end}",
                )
                lines.append(text)
            else:
                label = Text.assemble(
                    (f"Listing {view.name}{scan}", "bold"),
                    f": {view.seen:,} seen, {self._queued:,} queued",
                )
                lines.append(Spinner("dots", label))
        return lines

    def _album_lines(self) -> list[RenderableType]:
        if self._albums is None:
            return []
        label = Text.assemble(
            ("Albums", "bold"), f": {self._albums:,} listed, {self._albums_walked:,} walked"
        )
        return [Spinner("dots", label)]

    def _download_lines(self) -> list[RenderableType]:
        if not self._queued:
            return []
        handled = self._done + self._failed + self._skipped
        total = max(self._queued, handled)
        now = self._clock()
        # Rates count from the first queued item: opening the library is not downloading.
        since = self._first_queued if self._first_queued is not None else now
        elapsed = max(now - since, 1e-6)
        rate = self._done / elapsed
        byte_rate = self._bytes / elapsed
        figures = Text.assemble(
            (f"{handled:,}/{total:,} items", "bold"), f"  {human_bytes(self._bytes)}"
        )
        if rate > 0 and total > handled:
            # While listing goes on, more items will come: the ETA is for those queued.
            more = " (more to list)" if self._current is not None or not self._views else ""
            figures.append(f"  ETA {human_seconds((total - handled) / rate)}{more}")
        row = Table.grid(padding=(0, 1))
        row.add_row(ProgressBar(total=total, completed=handled, width=BAR_WIDTH), figures)
        details = Text(f"{rate:.1f} items/s, {human_bytes(byte_rate)}/s")
        for count, what, style in (
            (self._failed, "failed", "red"),
            (self._skipped, "skipped", "yellow"),
            (self._retries, "retried", "yellow"),
            (self._missing, "missing locally", "yellow"),
            (self._deleted_on_google, "deleted on Google", "yellow"),
        ):
            if count:
                details.append(f"  {count:,} {what}", style=style)
        return [row, Padding(details, (0, 0, 0, BAR_WIDTH + 1))]
