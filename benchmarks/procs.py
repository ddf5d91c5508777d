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


def _pss_of(pid: int) -> int:
    """Proportional set size of one process (its shared pages divided among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:  # gone between the listing and the read
        pass
    return 0


# What a process of the collector's tree is, from its command line: the collector itself,
# Playwright's driver (node), Chromium's browser process, its renderers (one per page), and
# its other helpers (GPU, network and storage services, zygotes), and anything else.
KINDS = ("collector", "driver", "browser", "renderers", "helpers", "other")


def kind_of(pid: int, root: int) -> str | None:
    if pid == root:
        return "collector"
    try:
        # Chromium's children rewrite their title: one string, the arguments joined by spaces.
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return None
    if any(b"playwright" in arg for arg in args[:3]):
        return "driver"
    if not args or b"chrom" not in args[0].lower():
        return "other"
    kind = next((arg for arg in args if arg.startswith(b"--type=")), None)
    if kind is None:
        return "browser"
    return "renderers" if kind == b"--type=renderer" else "helpers"


def pss_by_kind(pids: list[int], root: int) -> dict[str, int]:
    """PSS of `pids` summed per KINDS entry."""
    found = dict.fromkeys(KINDS, 0)
    for pid in pids:
        kind = kind_of(pid, root)
        if kind is not None:
            found[kind] += _pss_of(pid)
    return found


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
        self.by_kind: list[tuple[float, dict[str, int]]] = []  # the same, per process kind
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *descendants(self.pid)]
            moment, kinds = time.monotonic(), pss_by_kind(pids, self.pid)
            self.samples.append((moment, sum(kinds.values())))
            self.by_kind.append((moment, kinds))
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
