"""Speed and memory of `gphotos-collector sync`, as ratios against limits.

    python -m benchmarks [--items 500] [--big-items 5000] [--media-scale 0.2] [--quick]

Every figure is measured in this run, against the fake Google Photos on
loopback, driving the real CLI in a real headless Chromium:

- throughput: items/s with 1 and with 4 workers on the same library;
- scaling: 4-worker items/s over 1-worker items/s (limit: at least 1.3 on 2 cores);
- nothing new: seconds of a run with nothing to do on a library of 5,000 items,
  over the same on 500 items (limit: at most 1.5, i.e. the cost does not grow
  with the library);
- drift: items/s over the last 100 items of the 4-worker run over the first 100
  (limit: at least 0.7: per-item time does not grow as the run goes on);
- memory: the browser's peak PSS in the last quarter of the 4-worker run over
  the first quarter (limit: at most 1.5: pages are recycled, memory stays flat).

A ratio past its limit prints FAIL and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes.photos import FakePhotos

CHROMIUM = os.environ.get("GPHOTOS_TEST_BROWSER", "/usr/bin/chromium")
ACCOUNT = "alice@example.com"
NOTHING_NEW_RUNS = 3


@dataclass
class RunFigures:
    seconds: float
    summary: dict[str, Any]
    done_times: list[float] = field(default_factory=list)  # monotonic, per item
    rss_samples: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes)

    @property
    def items_per_second(self) -> float:
        return float(self.summary["new"]) / self.seconds if self.seconds else 0.0


def _descendants(pid: int) -> list[int]:
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


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_sync(fake: FakePhotos, profile: Path, dest: Path, workers: int) -> RunFigures:
    """One real `sync` process; its events timed, its browser's memory sampled."""
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
        fake.base_url,
        "--browser",
        CHROMIUM,
        "--workers",
        str(workers),
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    figures = RunFigures(seconds=0.0, summary={})
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            figures.rss_samples.append((time.monotonic(), _rss(_descendants(process.pid))))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "item-done":
            figures.done_times.append(time.monotonic())
        elif event["event"] == "summary":
            figures.summary = event
    code = process.wait()
    stop.set()
    sampler.join()
    figures.seconds = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"sync exited {code}: {process.stderr.read() if process.stderr else ''}")
    return figures


def nothing_new_seconds(fake: FakePhotos, profile: Path, dest: Path) -> float:
    """Median seconds of runs that find nothing new (one run alone is too noisy)."""
    runs = [run_sync(fake, profile, dest, workers=4) for _ in range(NOTHING_NEW_RUNS)]
    assert all(run.summary["new"] == 0 for run in runs), "the library changed between runs"
    return statistics.median(run.seconds for run in runs)


def _rate(times: list[float]) -> float:
    return (
        (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0
    )


def _peak(samples: list[tuple[float, int]], start: float, end: float) -> int:
    return max((rss for moment, rss in samples if start <= moment <= end), default=0)


def _line(name: str, value: float, limit: float, at_least: bool, unit: str = "") -> bool:
    ok = value >= limit if at_least else value <= limit
    sign = ">=" if at_least else "<="
    print(f"  {name:<44} {value:8.2f}{unit:<3} limit {sign} {limit:<5} {'ok' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--big-items", type=int, default=5000)
    parser.add_argument("--media-scale", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="small libraries, for a try-out")
    args = parser.parse_args()
    if args.quick:
        args.items, args.big_items = 120, 600
    work = Path(tempfile.mkdtemp(prefix="gphotos-bench-"))
    results: list[bool] = []
    try:
        with FakePhotos(
            items=args.items, seed=42, accounts=[ACCOUNT], media_scale=args.media_scale
        ) as fake:
            profile = work / "profile"
            fake.make_profile(profile)
            one = run_sync(fake, profile, work / "one", workers=1)
            four = run_sync(fake, profile, work / "four", workers=4)
            small_nothing = nothing_new_seconds(fake, profile, work / "four")
            megabytes = float(four.summary["bytes"]) / 1e6
            print(
                f"\nThroughput on {args.items} items "
                f"({megabytes:.0f} MB, media scale {args.media_scale}):"
            )
            print(f"  1 worker:  {one.items_per_second:6.2f} items/s  ({one.seconds:.0f} s)")
            print(f"  4 workers: {four.items_per_second:6.2f} items/s  ({four.seconds:.0f} s)")
            results.append(
                _line(
                    "4 workers / 1 worker", four.items_per_second / one.items_per_second, 1.3, True
                )
            )
            times = four.done_times
            results.append(
                _line(
                    "drift: last 100 / first 100 items/s",
                    _rate(times[-100:]) / _rate(times[:100]),
                    0.7,
                    True,
                )
            )
            quarter = (times[-1] - times[0]) / 4
            first_peak = _peak(four.rss_samples, times[0], times[0] + quarter)
            last_peak = _peak(four.rss_samples, times[-1] - quarter, times[-1])
            print(
                f"  browser memory (PSS) peak: first quarter {first_peak / 1e6:.0f} MB, "
                f"last quarter {last_peak / 1e6:.0f} MB"
            )
            results.append(
                _line("memory: last / first quarter peak PSS", last_peak / first_peak, 1.5, False)
            )
        with FakePhotos(items=args.big_items, seed=43, accounts=[ACCOUNT], media_scale=0.01) as big:
            profile = work / "big-profile"
            big.make_profile(profile)
            full = run_sync(big, profile, work / "big", workers=4)
            nothing = nothing_new_seconds(big, profile, work / "big")
            print(
                f"\nNothing new on {args.big_items} items (first full sync: {full.seconds:.0f} s):"
            )
            print(
                f"  nothing-new run (median of {NOTHING_NEW_RUNS}): {nothing:.1f} s on "
                f"{args.big_items} items, {small_nothing:.1f} s on {args.items}"
            )
            results.append(
                _line(
                    f"{args.big_items} / {args.items} items nothing-new seconds",
                    nothing / small_nothing,
                    1.5,
                    False,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
