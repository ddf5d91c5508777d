"""The table `make bench` prints, and each target next to its figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MB = "MB"
# The download targets, collector / limit: photos at 4 workers, large videos (MB/s).
PHOTOS_RATIO = 0.5
VIDEOS_RATIO = 0.8


@dataclass(frozen=True)
class Target:
    """A figure, what it should be, and whether it is."""

    name: str
    value: float
    limit: float
    at_least: bool
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value < self.limit

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "target": f"{'>=' if self.at_least else '<'} {self.limit:g}{self.unit}",
            "met": self.met,
        }


def targets(results: dict[str, Any]) -> list[Target]:
    found: list[Target] = []
    download = results.get("download")
    if download:
        by_workers = {run["workers"]: run for run in download["runs"]}
        if 4 in by_workers:
            found.append(
                Target(
                    "photos: collector / limit at 4 workers",
                    by_workers[4]["ratio_items"],
                    PHOTOS_RATIO,
                    True,
                )
            )
            found.append(
                Target("peak PSS, 4 workers", by_workers[4]["peak_pss_mb"], 1500, False, f" {MB}")
            )
        if 1 in by_workers:
            found.append(
                Target("peak PSS, 1 worker", by_workers[1]["peak_pss_mb"], 600, False, f" {MB}")
            )
    videos = results.get("large_videos")
    if videos:
        found.append(
            Target(
                "large videos: collector / limit (MB/s)",
                videos["run"]["ratio_mb"],
                VIDEOS_RATIO,
                True,
            )
        )
    nothing = results.get("nothing_new")
    if nothing:
        largest = nothing["by_size"]["large"]
        found.append(
            Target(
                f"nothing new on {largest['items']:,} items",
                largest["median_seconds"],
                15,
                False,
                " s",
            )
        )
        found.append(
            Target("nothing new: largest / smallest", nothing["largest_over_smallest"], 1.5, False)
        )
    memory = results.get("memory")
    if memory:
        found.append(Target("memory: last / first quarter peak", memory["growth"], 1.2, False))
    deploy = results.get("deploy")
    if deploy:
        found.append(Target("site.yml second run", deploy["second_run_seconds"], 60, False, " s"))
    changed = (results.get("albums") or {}).get("nothing_changed") or {}
    if "album_pass_seconds" in changed:
        found.append(
            Target(
                album_pass_target(changed["albums"]),
                changed["album_pass_seconds"],
                10,
                False,
                " s",
            )
        )
    return found


def album_pass_target(albums: int) -> str:
    # Our own choice (no requirement names one): a quiet night's album pass stays small.
    return f"album pass, nothing changed, {albums} albums"


def _row(name: str, value: str, reference: str = "", target: Target | None = None) -> str:
    verdict = ""
    if target is not None:
        sign = ">=" if target.at_least else "<"
        verdict = f"{sign} {target.limit:g}{target.unit}  {'met' if target.met else 'MISSED'}"
    return f"  {name:<40} {value:>14}  {reference:<48} {verdict}".rstrip()


def _albums_rows(albums: dict[str, Any], by_name: dict[str, Target]) -> list[str]:
    lines = [
        f"\n6. Albums: sync --albums, {albums['workers']} workers (state built, not "
        "downloaded; median of the runs; album pass: the time after the listing, "
        "beyond a run without --albums)"
    ]
    library, first = albums.get("library"), albums.get("first_pass")
    if library and first:
        lines.append(
            _row(
                f"first pass, {library['albums']} albums, s",
                str(first["seconds"]),
                f"{library['items']:,} items; of which albums {first.get('album_seconds', '?')} s",
            )
        )
        lines.append(
            _row(
                "  walked / linked / unmatched",
                f"{first['walked']} / {first['linked']} / {first['unmatched']}",
                f"of {library['albums']} albums, {library['album_items']} album items; "
                f"{first.get('seconds_per_album_item', '?')} s per album item",
            )
        )
        fit = first.get("walk_fit")
        if fit:
            lines.append(
                _row(
                    "  a walk: per album + per item, s",
                    f"{fit['per_album_seconds']} + {fit['per_item_seconds']}",
                    "least squares over the albums' walks",
                )
            )
    for key, label in (("nothing_new", "nothing new"), ("nothing_changed", "nothing changed")):
        part = albums.get(key)
        if not part or "with_albums_seconds" not in part:
            continue
        if key == "nothing_changed":
            lines.append(
                f"   {part['albums']} albums, {part['items']:,} items, album state built "
                f"(folders made by a first run: walked {part['folders_run']['walked']}, "
                f"{part['folders_run']['linked']} album items, "
                f"{part['folders_run']['links_made']} links with the sidecars', "
                f"{part['folders_run']['seconds']} s)"
            )
            target = by_name.get(album_pass_target(part["albums"]))
        else:
            target = None
        lines.append(
            _row(
                f"{label}: without / with --albums, s",
                f"{part['without_albums_seconds']} / {part['with_albums_seconds']}",
                f"x{part['with_over_without']}, {part['difference_seconds']:+} s; "
                f"walked {', '.join(str(w) for w in part['walked'])}",
            )
        )
        lines.append(
            _row(
                f"{label}: album pass, s",
                str(part["album_pass_seconds"]),
                f"{round(100 * part['album_pass_share'])}% of the run; listing end to /albums read "
                f"{part['albums_list_seconds']} s" + ("; our own target" if target else ""),
                target,
            )
        )
    for anomaly in albums.get("anomalies", []):
        lines.append(f"  !! {anomaly}")
    for part, error in albums.get("errors", {}).items():
        lines.append(f"  !! {part} FAILED: {error[:300]}")
    return lines


def table(results: dict[str, Any], found: list[Target]) -> str:
    by_name = {t.name: t for t in found}
    lines = [
        f"gphotos-collector benchmarks ({results['mode']}), {results['machine']['summary']}",
        "x: collector / limit; +ms: wall time per item beyond the limit's (browser start "
        "excluded); cpu: cores the collector, its driver and its browser kept busy",
    ]
    loads = results.get("load_after_section", {})
    if loads:
        lines.append(
            "machine load (1 min) after each part: "
            + ", ".join(f"{key} {load}" for key, load in loads.items())
        )
    download = results.get("download")
    if download:
        limit = download["limit"]
        lines.append(
            f"\n1. Download, fresh backup of {download['library_items']} items "
            f"(media scale 1; limit: {limit['items']} items, {limit['megabytes']} MB straight "
            f"over HTTP, 4 connections, {limit['items_per_s']} items/s, {limit['mb_per_s']} MB/s)"
        )
        for run in download["runs"]:
            w = run["workers"]
            lines.append(
                _row(
                    f"{w} worker{'s' if w > 1 else ''}: items/s (MB/s)",
                    f"{run['items_per_s']} ({run['mb_per_s']})",
                    f"x{run['ratio_items']}, +{run['overhead_ms_per_item']} ms/item, "
                    f"cpu {run['collector_cpu_share']}",
                    by_name.get("photos: collector / limit at 4 workers") if w == 4 else None,
                )
            )
            if w == 4 and run.get("link_mbit_for_target"):
                lines.append(
                    _row(
                        f"  x{PHOTOS_RATIO:g} reached on links up to, projected",
                        f"{run['link_mbit_for_target'][str(PHOTOS_RATIO)]} Mbit/s",
                        "the item's size over its overhead: the link bounds a slower one",
                    )
                )
        lines.append(
            _row(
                "browser start to first view (4 workers)",
                f"{download['runs'][-1]['startup_seconds']} s",
            )
        )
        lines.append(
            _row(
                "fake's CPU share: collector runs / limit",
                f"{download['fake_cpu_share']} / {download['fake_cpu_share_limit']}",
                "cores busy (1.0 = one core)",
            )
        )
    videos = results.get("large_videos")
    if videos:
        run, limit = videos["run"], videos["limit"]
        lines.append(
            f"\n   Large videos alone: {videos['videos']} videos of 20 MB or more, "
            f"{run['megabytes']} MB, {run['workers']} workers"
        )
        lines.append(
            _row(
                "MB/s, collector vs limit",
                f"{run['mb_per_s']} / {limit['mb_per_s']}",
                f"x{run['ratio_mb']}, +{run['overhead_ms_per_item']} ms/item, "
                f"cpu {run['collector_cpu_share']}",
                by_name.get("large videos: collector / limit (MB/s)"),
            )
        )
        if run.get("link_mbit_for_target"):
            lines.append(
                _row(
                    f"  x{VIDEOS_RATIO:g} reached on links up to, projected",
                    f"{run['link_mbit_for_target'][str(VIDEOS_RATIO)]} Mbit/s",
                    "the item's size over its overhead: the link bounds a slower one",
                )
            )
        lines.append(
            _row(
                "fake's CPU share: collector run / limit",
                f"{videos['fake_cpu_share']} / {videos['fake_cpu_share_limit']}",
                "cores busy",
            )
        )
    listing = results.get("listing")
    if listing:
        lines.append(
            f"\n2. Listing, {listing['library_items']:,} items (scrolling, nothing queued)"
        )
        for view, walked in listing["views"].items():
            lines.append(
                _row(
                    f"{view}: items/s",
                    str(walked["items_per_s"]),
                    f"{walked['items']} items in {walked['seconds']} s",
                )
            )
        scan = listing["full_scan"]
        lines.append(
            _row(
                "full scan (grid + archive), seconds",
                str(scan["seconds"]),
                f"{scan['items']} items, state built, cpu {scan['collector_cpu_share']}",
            )
        )
        lines.append(
            _row(
                "full scan of 50,000 items, projected",
                f"{scan['projected_seconds_50000']} s",
                f"{scan['fixed_seconds']} s + items at {scan['items_per_s']}/s"
                f" + {scan.get('after_walk_seconds', 0)} s after the walk",
            )
        )
        lines.append(_row("fake's CPU share", str(listing["fake_cpu_share"]), "cores busy"))
    nothing = results.get("nothing_new")
    if nothing:
        lines.append("\n3. Nothing new (state built, not downloaded; median of the runs)")
        for size, measured in nothing["by_size"].items():
            target = (
                by_name.get(f"nothing new on {measured['items']:,} items")
                if size == "large"
                else None
            )
            lines.append(
                _row(
                    f"{measured['items']:,} items, seconds",
                    str(measured["median_seconds"]),
                    "runs "
                    + ", ".join(str(s) for s in measured["runs_seconds"])
                    + f", cpu {measured['collector_cpu_share']}",
                    target,
                )
            )
            phases = measured.get("phases_median_seconds")
            if phases:
                lines.append(
                    _row(
                        "  of which start / listing / end",
                        f"{phases['start']} / {phases['listing']} / {phases['end']}",
                        "s: Python + Chromium + first page; walk; close",
                    )
                )
        lines.append(
            _row(
                "largest / smallest",
                str(nothing["largest_over_smallest"]),
                "",
                by_name.get("nothing new: largest / smallest"),
            )
        )
    if download:
        lines.append("\n4. Memory (PSS of the collector and its browser, every 0.2 s)")
        for run in download["runs"]:
            w = run["workers"]
            name = f"peak PSS, {w} worker{'s' if w > 1 else ''}"
            lines.append(
                _row(
                    name, f"{run['peak_pss_mb']} MB", "during the download above", by_name.get(name)
                )
            )
            if run.get("peak_pss_mb_by_process"):
                lines.append(
                    "    at that peak, MB: "
                    + ", ".join(
                        f"{kind} {mb}" for kind, mb in run["peak_pss_mb_by_process"].items() if mb
                    )
                )
    memory = results.get("memory")
    if memory:
        lines.append(
            _row(
                "last / first quarter peak",
                str(memory["growth"]),
                f"{memory['first_quarter_peak_pss_mb']} -> "
                f"{memory['last_quarter_peak_pss_mb']} MB, {memory['items']} items",
                by_name.get("memory: last / first quarter peak"),
            )
        )
        kinds = memory.get("first_last_quarter_peak_pss_mb_by_process")
        if kinds:
            lines.append(
                "  by process, MB (first -> last quarter): "
                + ", ".join(
                    f"{kind} {first} -> {last}"
                    for kind, (first, last) in kinds.items()
                    if first or last
                )
            )
    deploy = results.get("deploy")
    if deploy:
        lines.append(f"\n5. Deploy: site.yml, one test host, {deploy['members']} members")
        lines.append(
            _row(
                "first run, seconds",
                str(deploy["first_run_seconds"]),
                f"{deploy['first_run_changed']} changed",
            )
        )
        lines.append(
            _row(
                "second run, seconds",
                str(deploy["second_run_seconds"]),
                f"{deploy['second_run_changed']} changed",
                by_name.get("site.yml second run"),
            )
        )
        if deploy.get("second_run_changed_tasks"):
            lines.append(
                "  changed on the second run: " + "; ".join(deploy["second_run_changed_tasks"])
            )
    elif "deploy_skipped" in results:
        lines.append(f"\n5. Deploy: skipped ({results['deploy_skipped']})")
    if results.get("albums"):
        lines += _albums_rows(results["albums"], by_name)
    met = sum(t.met for t in found)
    lines.append(f"\nTargets met: {met} of {len(found)} (reported, not enforced)")
    return "\n".join(lines)
