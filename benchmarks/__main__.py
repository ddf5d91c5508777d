"""What bounds a backup, each figure measured in one run next to its reference.

    python -m benchmarks [--quick] [--deploy] [--out bench/results.json]

Against the fake Google Photos (its own process, on loopback), driving the real
`gphotos-collector sync` in a real headless Chromium:

1. download: a fresh backup with 1, 2 and 4 workers against the limit, the same
   files fetched straight over HTTP with 4 connections (download.py, limit.py);
   then large videos alone;
2. listing: items/s of the date grid, Recently added and the Archive, and a full
   scan's seconds, projected to 50,000 items (listing.py);
3. nothing new: a run with nothing to fetch on three library sizes (nothing_new.py);
4. memory: peak PSS per worker count, and its growth over a long run (memory.py);
5. deploy (--deploy): site.yml on one test host, first and second run (deploy.py);
6. albums: `sync --albums`, its first pass, and a night with nothing new with and
   without it, on 50 then 100 albums (albums.py).

Prints a table with each target next to its figure (met or missed: reported,
not enforced) and writes every figure to --out as JSON. `--quick` measures the
same figures on smaller libraries. Exits 1 only if a benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import albums, deploy, download, listing, memory, nothing_new, report

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    download_items: int
    worker_counts: tuple[int, ...]
    video_library_items: int
    listing_items: int
    nothing_new_sizes: tuple[int, int, int]
    nothing_new_runs: int
    memory_items: int
    albums_library: tuple[int, int]  # items, albums: first pass, nothing new with/without
    albums_nothing_changed: tuple[int, int]  # items, albums: album state built
    albums_runs: int  # runs without and with --albums, each


FULL = Sizes(
    download_items=60,
    worker_counts=(1, 2, 4),
    video_library_items=170,
    listing_items=5_000,
    nothing_new_sizes=(1_000, 10_000, 50_000),
    nothing_new_runs=3,
    memory_items=2_000,
    albums_library=(5_000, 50),
    albums_nothing_changed=(5_000, 100),
    albums_runs=3,
)
# Under 3 minutes of benchmarks on the 2-core machine of the README (the fixed costs,
# starting Chromium and waiting at each view's end, are most of it).
QUICK = Sizes(
    download_items=10,
    worker_counts=(1, 2, 4),
    video_library_items=60,
    listing_items=150,
    nothing_new_sizes=(100, 1_000, 2_000),
    nothing_new_runs=1,
    memory_items=60,
    # A first pass opens each album item (half a second or more each): ten or so here.
    albums_library=(20, 3),
    albums_nothing_changed=(300, 10),
    albums_runs=1,
)


def machine() -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    cores = os.cpu_count() or 0
    load = os.getloadavg()[0]
    return {
        "cores": cores,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "load_at_start": round(load, 1),
        "summary": f"{cores} cores, {memory_kb / 1024 / 1024:.0f} GB, {cpu_model}, "
        f"load {load:.1f} at start",
    }


def _run(
    results: dict[str, Any], key: str, step: Callable[[], dict[str, Any]], failures: list[str]
) -> None:
    print(f"[bench] {key}...", flush=True)
    started = time.monotonic()
    try:
        results[key] = step()
        for part, error in results[key].get("errors", {}).items():  # the other parts ran
            failures.append(f"{key} ({part}): {error}")
    except Exception as error:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        failures.append(f"{key}: {error}")
        results.setdefault("errors", {})[key] = str(error)
    seconds = time.monotonic() - started
    results.setdefault("section_seconds", {})[key] = round(seconds, 1)
    results.setdefault("load_after_section", {})[key] = round(os.getloadavg()[0], 1)
    print(f"[bench] {key} took {seconds:.0f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller libraries (minutes)")
    parser.add_argument("--deploy", action="store_true", help="also time site.yml (root)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument(
        "--only",
        action="append",
        choices=[
            "download",
            "large_videos",
            "listing",
            "nothing_new",
            "memory",
            "albums",
            "deploy",
        ],
        help="run only these benchmarks (repeatable)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    wanted = set(
        args.only or ["download", "large_videos", "listing", "nothing_new", "memory", "albums"]
    )
    if args.deploy:
        wanted.add("deploy")
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    failures: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="gphotos-bench-"))
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "download": lambda: download.photos(work, sizes.download_items, sizes.worker_counts),
        "large_videos": lambda: download.large_videos(work, sizes.video_library_items, 4),
        "listing": lambda: listing.listing(work, sizes.listing_items),
        "nothing_new": lambda: nothing_new.nothing_new(
            work, sizes.nothing_new_sizes, sizes.nothing_new_runs
        ),
        "memory": lambda: memory.growth(work, sizes.memory_items),
        "albums": lambda: albums.albums(
            work, sizes.albums_library, sizes.albums_nothing_changed, sizes.albums_runs
        ),
        "deploy": lambda: deploy.deploy(work, args.out.parent),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for key, step in steps.items():
            if key in wanted:
                _run(results, key, step, failures)
                # Written after each part: an interrupted run keeps what it measured.
                args.out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if "deploy" not in wanted:
        results["deploy_skipped"] = "run with --deploy (make bench does)"
    found = report.targets(results)
    results["targets"] = {t.name: t.as_json() for t in found}
    results["seconds"] = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report.table(results, found))
    print(f"\nAll figures: {args.out} ({results['seconds']:.0f} s in all)")
    for failure in failures:
        print(f"FAILED to measure {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
