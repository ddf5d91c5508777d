"""3. Nothing new: what a night with no new upload costs, by library size.

For each size, a DEST whose state holds every item of the library (built, not
downloaded: a first backup of 50,000 items through the browser takes hours),
then real `sync` processes: each walks Recently added down to 30 known ids and
finds nothing. The figure is the median of the runs' wall times.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

from benchmarks.collector import BROWSER, SyncRun, run_sync
from benchmarks.fake import ACCOUNT, FakeServer
from benchmarks.state_builder import build_backed_up

NOTHING_NEW_SEED = 46
RUNS = 3
SIZE_NAMES = ("small", "medium", "large")  # the same JSON keys in quick and full runs


def nothing_new(work: Path, sizes: tuple[int, int, int], runs: int = RUNS) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    shares: list[float] = []
    for name, items in zip(SIZE_NAMES, sizes, strict=True):
        with FakeServer(work, items, seed=NOTHING_NEW_SEED, media_scale=0.001) as fake:
            profile = work / f"profile-nothing-new-{items}"
            fake.make_profile(profile, BROWSER)
            dest = work / f"nothing-new-{items}"
            built = build_backed_up(dest, ACCOUNT, fake.alive())
            cpu = fake.cpu()
            seconds = []
            cpu_shares = []
            phases: list[dict[str, float]] = []
            for _ in range(runs):
                run = run_sync(fake.base_url, profile, dest, workers=4)
                if run.new:
                    raise RuntimeError(f"a nothing-new run on {items} items fetched {run.new}")
                seconds.append(run.seconds)
                cpu_shares.append(run.cpu_share)
                phases.append(_phases(run))
            shares.append(cpu.share())
            shutil.rmtree(dest)
            shutil.rmtree(profile)
        measured[name] = {
            "items": items,
            "items_in_state": built,
            "runs_seconds": [round(s, 2) for s in seconds],
            "median_seconds": round(statistics.median(seconds), 2),
            "collector_cpu_share": round(statistics.median(cpu_shares), 2),
            # Where the time goes: start (Python, Chromium, the first page), listing, the end.
            "phases_median_seconds": {
                key: round(statistics.median(p[key] for p in phases), 2) for key in phases[0]
            },
        }
    smallest, largest = measured["small"], measured["large"]
    return {
        "sizes": list(sizes),
        "by_size": measured,
        "largest_over_smallest": round(largest["median_seconds"] / smallest["median_seconds"], 2),
        "state": "built, not downloaded",
        "fake_cpu_share": round(max(shares), 2),
    }


def _phases(run: SyncRun) -> dict[str, float]:
    started = run.first("sync-start") or run.started
    listed = run.first("listed") or started
    return {
        "start": started - run.started,
        "listing": listed - started,
        "end": run.started + run.seconds - listed,
    }
