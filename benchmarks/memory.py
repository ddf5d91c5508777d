"""4b. Memory over a long run: peak PSS of the collector and its browser, first quarter
against last quarter of a fresh backup of many small items (media scale 0.01)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from benchmarks.collector import BROWSER, run_sync
from benchmarks.fake import FakeServer
from benchmarks.procs import KINDS

MEMORY_SEED = 47
MEDIA_SCALE = 0.01


def growth(work: Path, items: int, workers: int = 4) -> dict[str, Any]:
    with FakeServer(work, items, seed=MEMORY_SEED, media_scale=MEDIA_SCALE, warm=True) as fake:
        profile = work / "profile-memory"
        fake.make_profile(profile, BROWSER)
        cpu = fake.cpu()
        dest = work / "memory"
        run = run_sync(fake.base_url, profile, dest, workers=workers)
        share = cpu.share()
        shutil.rmtree(dest)
    done = run.times_of("item-done")
    if len(done) < 8:
        raise RuntimeError(f"only {len(done)} items were downloaded: too few to compare quarters")
    quarter = (done[-1] - done[0]) / 4
    first = _peak(run.memory, done[0], done[0] + quarter)
    last = _peak(run.memory, done[-1] - quarter, done[-1])
    # Which process grows: each kind's own peak in the first and the last quarter.
    by_kind = {
        kind: [
            round(_peak(_of_kind(run.memory_by_kind, kind), start, end) / 1e6)
            for start, end in ((done[0], done[0] + quarter), (done[-1] - quarter, done[-1]))
        ]
        for kind in KINDS
    }
    return {
        "library_items": items,
        "items": run.new,
        "workers": workers,
        "seconds": round(run.seconds, 1),
        "items_per_s": round(run.new / run.seconds, 2),
        "first_quarter_peak_pss_mb": round(first / 1e6),
        "last_quarter_peak_pss_mb": round(last / 1e6),
        "peak_pss_mb": round(run.peak_pss / 1e6),
        "growth": round(last / first, 2) if first else 0.0,
        "first_last_quarter_peak_pss_mb_by_process": by_kind,
        "fake_cpu_share": round(share, 2),
        "collector_cpu_share": round(run.cpu_share, 2),
    }


def _peak(samples: list[tuple[float, int]], start: float, end: float) -> int:
    return max((pss for moment, pss in samples if start <= moment <= end), default=0)


def _of_kind(samples: list[tuple[float, dict[str, int]]], kind: str) -> list[tuple[float, int]]:
    return [(moment, kinds[kind]) for moment, kinds in samples]
