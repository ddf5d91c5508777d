"""1. Download against the limit, and 4a. peak memory per worker count.

A fresh backup of a library of realistic sizes (the fake's media scale 1:
photos 0.5-5 MB, videos 10-80 MB, live photos) with 1, 2 and 4 workers, and
the same files fetched straight over HTTP (limit.py) from the same fake in the
same run. Then large videos alone: DEST's state already holds every other item
(built, not downloaded), so the sync's listing queues only the videos of 20 MB
and more.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.collector import BROWSER, SyncRun, run_sync
from benchmarks.fake import ACCOUNT, FakeServer, Item
from benchmarks.limit import LimitRun, fetch_all
from benchmarks.report import PHOTOS_RATIO, VIDEOS_RATIO
from benchmarks.state_builder import build_backed_up

LARGE_VIDEO_BYTES = 20_000_000
PHOTO_SEED = 42
VIDEO_SEED = 44


def link_for_ratio(bytes_per_item: float, overhead_s: float, ratio: float) -> float:
    """The fastest link, in Mbit/s, on which the collector would still reach `ratio` of it.

    A projection from two measured figures, not a measurement: on a link of L bytes/s an
    item costs the limit size / L, and the collector that plus its overhead, overlapping
    nothing (the worst case). size / L / (size / L + overhead) >= ratio solves to
    L <= size / overhead * (1 / ratio - 1).
    """
    return bytes_per_item / overhead_s * (1 / ratio - 1) * 8 / 1e6


@dataclass(frozen=True)
class Compared:
    """One collector run next to the limit measured on the same items."""

    workers: int
    run: SyncRun
    limit: LimitRun

    @property
    def startup_seconds(self) -> float:
        """Process start to `sync-start`: Python, the browser, the library's first page."""
        started = self.run.first("sync-start")
        return started - self.run.started if started is not None else 0.0

    @property
    def download_seconds(self) -> float:
        return self.run.seconds - self.startup_seconds

    def figures(self) -> dict[str, Any]:
        run, limit = self.run, self.limit
        items_per_s = run.new / run.seconds
        mb_per_s = run.bytes / 1e6 / run.seconds
        overhead = (self.download_seconds - limit.seconds) / run.new if run.new else 0.0
        return {
            "workers": self.workers,
            "items": run.new,
            "megabytes": round(run.bytes / 1e6, 1),
            "seconds": round(run.seconds, 2),
            "startup_seconds": round(self.startup_seconds, 2),
            "items_per_s": round(items_per_s, 2),
            "mb_per_s": round(mb_per_s, 1),
            "ratio_items": round(items_per_s / limit.items_per_second, 3),
            "ratio_mb": round(mb_per_s / limit.megabytes_per_second, 3),
            "overhead_ms_per_item": round(overhead * 1000),
            # The link the target ratio would still hold on (see link_for_ratio).
            "link_mbit_for_target": {
                str(target): round(link_for_ratio(run.bytes / run.new, overhead, target))
                for target in (PHOTOS_RATIO, VIDEOS_RATIO)
            }
            if run.new and overhead > 0
            else {},
            "peak_pss_mb": round(run.peak_pss / 1e6),
            "peak_pss_mb_by_process": {
                kind: round(pss / 1e6) for kind, pss in run.peak_pss_by_kind.items()
            },
            "collector_cpu_share": round(run.cpu_share, 2),
        }


def _limit_figures(limit: LimitRun) -> dict[str, Any]:
    return {
        "items": limit.items,
        "megabytes": round(limit.bytes / 1e6, 1),
        "seconds": round(limit.seconds, 2),
        "items_per_s": round(limit.items_per_second, 2),
        "mb_per_s": round(limit.megabytes_per_second, 1),
        "connections": 4,
    }


def _best(first: LimitRun, second: LimitRun) -> LimitRun:
    """The limit is what the link can give: the faster of two tries (the machine is shared)."""
    return first if first.seconds <= second.seconds else second


def photos(work: Path, items: int, worker_counts: tuple[int, ...]) -> dict[str, Any]:
    with FakeServer(work, items, seed=PHOTO_SEED, media_scale=1.0, warm=True) as fake:
        profile = work / "profile-photos"
        fake.make_profile(profile, BROWSER)
        wanted = fake.ready()
        limit_cpu = fake.cpu()
        before = fetch_all(fake.base_url, wanted)
        limit_share = limit_cpu.share()
        cpu = fake.cpu()
        runs: list[SyncRun] = []
        for workers in worker_counts:
            dest = work / f"photos-{workers}"
            runs.append(run_sync(fake.base_url, profile, dest, workers=workers))
            shutil.rmtree(dest)
        share = cpu.share()
        after = fetch_all(fake.base_url, wanted)
    limit = _best(before, after)
    compared = [Compared(w, run, limit) for w, run in zip(worker_counts, runs, strict=True)]
    return {
        "library_items": items,
        "limit": _limit_figures(limit),
        "runs": [c.figures() for c in compared],
        "fake_cpu_share": round(share, 2),
        "fake_cpu_share_limit": round(limit_share, 2),
    }


def large_videos(work: Path, items: int, workers: int) -> dict[str, Any]:
    with FakeServer(work, items, seed=VIDEO_SEED, media_scale=1.0, warm=True) as fake:
        profile = work / "profile-videos"
        fake.make_profile(profile, BROWSER)
        videos = [i for i in fake.ready() if _large_video(i)]
        others = [i for i in fake.alive() if i not in videos]
        dest = work / "videos"
        # listing_complete=False: the sync walks the whole grid and the Archive.
        build_backed_up(dest, ACCOUNT, others, listing_complete=False)
        limit_cpu = fake.cpu()
        before = fetch_all(fake.base_url, videos)
        limit_share = limit_cpu.share()
        cpu = fake.cpu()
        run = run_sync(fake.base_url, profile, dest, workers=workers)
        share = cpu.share()
        after = fetch_all(fake.base_url, videos)
        shutil.rmtree(dest)
    if run.new != len(videos):
        raise RuntimeError(f"the sync fetched {run.new} items, not the {len(videos)} videos")
    limit = _best(before, after)
    return {
        "library_items": items,
        "videos": len(videos),
        "limit": _limit_figures(limit),
        "run": Compared(workers, run, limit).figures(),
        "fake_cpu_share": round(share, 2),
        "fake_cpu_share_limit": round(limit_share, 2),
    }


def _large_video(item: Item) -> bool:
    return item.kind == "video" and item.video_bytes >= LARGE_VIDEO_BYTES
