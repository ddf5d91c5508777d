"""What /proc says about a process tree: its members, their memory (PSS), their CPU time."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 0.2  # seconds between two memory samples


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size summed over `pids` (shared pages counted once in all)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:  # gone between the listing and the read
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command's ")": state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cpu_or_none(pid: int) -> float | None:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):  # gone between the listing and the read
        return None


class TreeMemory:
    """Samples the PSS of a process and all its descendants every SAMPLE_EVERY seconds,
    and the CPU time each of them was last seen with."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *descendants(self.pid)]
            self.samples.append((time.monotonic(), pss_bytes(pids)))
            for pid in pids:
                seen = _cpu_or_none(pid)
                if seen is not None:
                    self._cpu[pid] = seen
            self._stop.wait(SAMPLE_EVERY)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the tree (the last SAMPLE_EVERY seconds of each process missed)."""
        return sum(self._cpu.values())

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((pss for _, pss in self.samples), default=0)

    def peak_between(self, start: float, end: float) -> int:
        return max((pss for moment, pss in self.samples if start <= moment <= end), default=0)
