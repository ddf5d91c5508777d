"""One real `gphotos-collector sync` process: its events timed, its tree's memory sampled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.procs import TreeMemory

BROWSER = os.environ.get("GPHOTOS_TEST_BROWSER", "/usr/bin/chromium")


@dataclass
class SyncRun:
    seconds: float  # wall time of the whole process, browser start included
    summary: dict[str, Any]
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (monotonic, event)
    memory: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, PSS bytes)
    memory_by_kind: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    started: float = 0.0
    cpu_seconds: float = 0.0  # the collector, its Playwright driver and its browser

    @property
    def cpu_share(self) -> float:
        """Cores the collector's process tree kept busy on average (2.0 = both of 2)."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    def times_of(self, name: str) -> list[float]:
        return [moment for moment, event in self.events if event["event"] == name]

    def first(self, name: str, **match: Any) -> float | None:
        for moment, event in self.events:
            if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                return moment
        return None

    @property
    def peak_pss(self) -> int:
        return max((pss for _, pss in self.memory), default=0)

    @property
    def peak_pss_by_kind(self) -> dict[str, int]:
        """Each kind of process's PSS at the moment the whole tree's PSS peaked."""
        if not self.memory_by_kind:
            return {}
        return max(self.memory_by_kind, key=lambda sample: sum(sample[1].values()))[1]

    @property
    def new(self) -> int:
        return int(self.summary.get("new", 0))

    @property
    def bytes(self) -> int:
        return int(self.summary.get("bytes", 0))


def run_sync(
    base_url: str, profile: Path, dest: Path, *, workers: int, extra: tuple[str, ...] = ()
) -> SyncRun:
    """Run `sync` to its end (stdout is a pipe: JSON lines); exit 0 or 4 is fine."""
    command = [
        sys.executable,
        "-m",
        "gphotos_collector",
        "sync",
        "--profile",
        str(profile),
        "--dest",
        str(dest),
        "--base-url",
        base_url,
        "--browser",
        BROWSER,
        "--workers",
        str(workers),
        *extra,
    ]
    started = time.monotonic()
    # stderr goes to a file: a full pipe nobody reads would block the collector.
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1
        )
        run = SyncRun(seconds=0.0, summary={}, started=started)
        with TreeMemory(process.pid) as memory:
            assert process.stdout is not None
            for line in process.stdout:
                if not line.startswith("{"):
                    continue
                event = json.loads(line)
                run.events.append((time.monotonic(), event))
                if event["event"] == "summary":
                    run.summary = event
            code = process.wait()
        errors.seek(0)
        error = errors.read()
    run.seconds = time.monotonic() - started
    run.memory = memory.samples
    run.memory_by_kind = memory.by_kind
    run.cpu_seconds = memory.cpu_seconds
    if code not in (0, 4):
        raise RuntimeError(f"sync exited {code}: {error[-2000:]}")
    return run
