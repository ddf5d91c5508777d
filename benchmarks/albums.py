"""6. Albums: what `sync --albums` adds to a night, and what its first pass costs.

Real `sync` processes (4 workers) on a library whose items are backed up: the state
is built, not downloaded, each item with the file name its info panel shows and its
time taken as the fake gives them, so that album items match by name and minute.

1. First pass: on a library with albums and no album state, `sync --albums`: it
   lists /albums, walks every album's page, opens each album item's info panel to
   match it to a backed-up item by file name and minute taken (the collector
   downloads an item only where those leave a doubt) and makes DEST/albums/ links.
   Its album state is then checked against what the state builder would write.
2. Nothing new, on that state: runs without and with `--albums` in turn; the median
   of each, their ratio, and the album pass's own seconds (a run's time after its
   listing ended, beyond the same time of the runs without `--albums`).
3. Nothing changed on more albums: the album state is built too (every album walked,
   as 1. checks the collector records it); a first `--albums` run makes the folders,
   then runs without and with `--albums` in turn. No album may be walked.

Anything odd (an album item matched to nothing, an album walked with nothing changed,
the pass's error or problems, a built album state the collector disagrees with) is
listed in `anomalies` and printed as it is found; a run that fails is in `errors`.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.collector import BROWSER, SyncRun, run_sync
from benchmarks.fake import ACCOUNT, FakeServer
from benchmarks.state_builder import album_state_differences, build_backed_up

ALBUMS_SEED = 47
WORKERS = 4
ALBUMS = ("--albums",)


class _Found:
    """Anomalies and failed parts, each printed loudly when found."""

    def __init__(self) -> None:
        self.anomalies: list[str] = []
        self.errors: dict[str, str] = {}

    def anomaly(self, text: str) -> None:
        print(f"[bench] ALBUMS ANOMALY: {text}", file=sys.stderr, flush=True)
        self.anomalies.append(text)

    def error(self, part: str, error: Exception) -> None:
        print(f"[bench] ALBUMS {part} FAILED: {error}", file=sys.stderr, flush=True)
        self.errors[part] = str(error)


def albums(
    work: Path, library: tuple[int, int], nothing_changed: tuple[int, int], runs: int
) -> dict[str, Any]:
    """library: (items, albums) of parts 1 and 2; nothing_changed: those of part 3."""
    found = _Found()
    result: dict[str, Any] = {"state": "built, not downloaded", "workers": WORKERS}
    shares: list[float] = []
    result.update(_first_pass_then_nothing_new(work, *library, runs, found, shares))
    result["nothing_changed"] = _nothing_changed(work, *nothing_changed, runs, found, shares)
    result["fake_cpu_share"] = round(max(shares), 2) if shares else None
    result["anomalies"] = found.anomalies
    if found.errors:
        result["errors"] = found.errors
    return result


def _library(fake: FakeServer) -> dict[str, Any]:
    entries = [entry for album in fake.album_list for entry in album.items]
    return {
        "items": fake.items_count,
        "albums": len(fake.album_list),
        "shared_albums": sum(album.shared for album in fake.album_list),
        "album_items": sum(entry.item is not None for entry in entries),
        "others_items": sum(entry.item is None for entry in entries),
    }


def _first_pass_then_nothing_new(
    work: Path, items: int, count: int, runs: int, found: _Found, shares: list[float]
) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    with FakeServer(work, items, seed=ALBUMS_SEED, media_scale=0.001, albums=count) as fake:
        profile = work / f"profile-albums-{items}-{count}"
        fake.make_profile(profile, BROWSER)
        dest = work / f"albums-{items}-{count}"
        library = _library(fake)
        library["items_in_state"] = build_backed_up(dest, ACCOUNT, fake.alive(), details=True)
        measured["library"] = library
        cpu = fake.cpu()
        try:
            first = run_sync(fake.base_url, profile, dest, workers=WORKERS, extra=ALBUMS)
        except Exception as error:
            found.error("first pass", error)
            return measured
        report = _albums_of(first, "first pass", found)
        if report.get("unmatched"):
            found.anomaly(
                f"first pass: {report['unmatched']} album items matched no backed-up item"
            )
        if report.get("walked") != library["albums"]:
            found.anomaly(f"first pass walked {report.get('walked')} of {library['albums']} albums")
        if report.get("linked") != library["album_items"]:
            found.anomaly(
                f"first pass linked {report.get('linked')} files, "
                f"expected {library['album_items']} (one per album item of the library)"
            )
        differences = album_state_differences(dest, fake.album_list)
        for difference in differences[:10]:
            found.anomaly(f"first pass recorded otherwise than the state builder: {difference}")
        measured["first_pass"] = {
            "seconds": round(first.seconds, 2),
            "walked": report.get("walked"),
            "linked": report.get("linked"),
            "links_made": report.get("links_made"),
            "unmatched": report.get("unmatched"),
            "not_backed_up_items": sum(
                int(entry.get("items", 0)) for entry in report.get("not_backed_up") or []
            ),
            "hard_links": report.get("hard_links"),
            "collector_cpu_share": round(first.cpu_share, 2),
            "built_album_state_matches": not differences,
            **_first_pass_phases(first, library),
        }
        try:
            plain, with_albums = _pairs(fake, profile, dest, runs, "nothing new", found)
        except Exception as error:
            found.error("nothing new", error)
        else:
            measured["nothing_new"] = _compare(plain, with_albums)
            # The first pass's album part, beyond what a run without --albums spends there.
            measured["first_pass"]["album_seconds"] = round(
                _after_listing(first) - measured["nothing_new"]["after_listing_without_seconds"],
                2,
            )
        shares.append(cpu.share())
        shutil.rmtree(dest)
        shutil.rmtree(profile)
    return measured


def _nothing_changed(
    work: Path, items: int, count: int, runs: int, found: _Found, shares: list[float]
) -> dict[str, Any]:
    with FakeServer(work, items, seed=ALBUMS_SEED, media_scale=0.001, albums=count) as fake:
        profile = work / f"profile-albums-{items}-{count}"
        fake.make_profile(profile, BROWSER)
        dest = work / f"albums-{items}-{count}"
        measured = _library(fake)
        measured["items_in_state"] = build_backed_up(
            dest,
            ACCOUNT,
            fake.alive(),
            details=True,
            albums=fake.album_list,
            base_url=fake.base_url,
        )
        measured["album_state"] = "built: every album walked, no folder made yet"
        cpu = fake.cpu()
        try:
            # This one makes the folders (the built state has none): not a night with
            # nothing changed, but it must walk no album either.
            setup = run_sync(fake.base_url, profile, dest, workers=WORKERS, extra=ALBUMS)
            report = _albums_of(setup, "nothing changed, folders made", found)
            if report.get("walked"):
                found.anomaly(
                    f"the run making the folders of a built album state walked "
                    f"{report['walked']} albums (expected 0)"
                )
            measured["folders_run"] = {
                "seconds": round(setup.seconds, 2),
                "walked": report.get("walked"),
                "links_made": report.get("links_made"),
                "linked": report.get("linked"),
            }
            # One link per album item's file, and one per sidecar beside it.
            if report.get("linked") != measured["album_items"]:
                found.anomaly(
                    f"the run making the folders linked {report.get('linked')} album items, "
                    f"expected {measured['album_items']}"
                )
            plain, with_albums = _pairs(fake, profile, dest, runs, "nothing changed", found)
        except Exception as error:
            found.error("nothing changed", error)
        else:
            measured.update(_compare(plain, with_albums))
        shares.append(cpu.share())
        shutil.rmtree(dest)
        shutil.rmtree(profile)
    return measured


def _pairs(
    fake: FakeServer, profile: Path, dest: Path, runs: int, part: str, found: _Found
) -> tuple[list[SyncRun], list[SyncRun]]:
    """`runs` runs without and `runs` with --albums, in turn; each must fetch nothing."""
    plain: list[SyncRun] = []
    with_albums: list[SyncRun] = []
    for _ in range(runs):
        for extra, kept in (((), plain), (ALBUMS, with_albums)):
            run = run_sync(fake.base_url, profile, dest, workers=WORKERS, extra=extra)
            if run.new:
                raise RuntimeError(f"{part}: a run fetched {run.new} items")
            if extra:
                report = _albums_of(run, part, found)
                if report.get("walked"):
                    found.anomaly(
                        f"{part}: a run with nothing changed walked {report['walked']} albums"
                    )
                if report.get("links_made") or report.get("links_removed"):
                    found.anomaly(
                        f"{part}: a run with nothing changed made {report.get('links_made')} "
                        f"and removed {report.get('links_removed')} links"
                    )
            kept.append(run)
    return plain, with_albums


def _albums_of(run: SyncRun, part: str, found: _Found) -> dict[str, Any]:
    """The summary's album report; its error and problems are anomalies."""
    report = run.summary.get("albums")
    if not isinstance(report, dict):
        found.anomaly(f"{part}: the summary has no album report: {run.summary}")
        return {}
    if report.get("error"):
        found.anomaly(f"{part}: the album pass failed: {report['error']}")
    for problem in report.get("problems") or []:
        found.anomaly(f"{part}: album folder problem: {problem}")
    return report


def _after_listing(run: SyncRun) -> float:
    """Seconds from the end of the item listing to the summary: where the album pass is."""
    listed = run.first("listed") or run.started
    ended = run.first("summary") or run.started + run.seconds
    return ended - listed


def _compare(plain: list[SyncRun], with_albums: list[SyncRun]) -> dict[str, Any]:
    without_s = statistics.median(run.seconds for run in plain)
    with_s = statistics.median(run.seconds for run in with_albums)
    tail_without = statistics.median(_after_listing(run) for run in plain)
    tail_with = statistics.median(_after_listing(run) for run in with_albums)
    listing_albums = [
        moment - (run.first("listed") or run.started)
        for run in with_albums
        if (moment := run.first("albums-listed")) is not None
    ]
    album_pass = tail_with - tail_without
    return {
        "runs_without_seconds": [round(run.seconds, 2) for run in plain],
        "runs_with_seconds": [round(run.seconds, 2) for run in with_albums],
        "without_albums_seconds": round(without_s, 2),
        "with_albums_seconds": round(with_s, 2),
        "with_over_without": round(with_s / without_s, 2),
        "difference_seconds": round(with_s - without_s, 2),
        "after_listing_without_seconds": round(tail_without, 2),
        "after_listing_with_seconds": round(tail_with, 2),
        # The album pass alone: the end of the listing to the summary, beyond a plain run's.
        "album_pass_seconds": round(album_pass, 2),
        "album_pass_share": round(album_pass / with_s, 2),
        "albums_list_seconds": round(statistics.median(listing_albums), 2)
        if listing_albums
        else None,
        "walked": [(run.summary.get("albums") or {}).get("walked") for run in with_albums],
        "collector_cpu_share_with": round(
            statistics.median(run.cpu_share for run in with_albums), 2
        ),
    }


def _first_pass_phases(run: SyncRun, library: dict[str, Any]) -> dict[str, Any]:
    """When the album list was read, and the album walks' pace."""
    listed = run.first("listed") or run.started
    albums_listed = run.first("albums-listed")
    walked = run.times_of("album-walked")
    if albums_listed is None or not walked:
        return {}
    walking = walked[-1] - albums_listed
    entries = library["album_items"] + library["others_items"]
    phases: dict[str, Any] = {
        "albums_list_seconds": round(albums_listed - listed, 2),
        "walking_seconds": round(walking, 2),
        "seconds_per_album_item": round(walking / entries, 3) if entries else None,
        "links_seconds": round((run.first("summary") or run.started + run.seconds) - walked[-1], 2),
    }
    # Each walk's seconds against its album's items: a cost per album, and per item.
    sizes: list[float] = []
    gaps: list[float] = []
    previous = albums_listed
    for moment, event in run.events:
        if event["event"] == "album-walked":
            sizes.append(float(event.get("items", 0)))
            gaps.append(moment - previous)
            previous = moment
    if len(set(sizes)) > 1:
        per_item, per_album = statistics.linear_regression(sizes, gaps)
        phases["walk_fit"] = {
            "per_album_seconds": round(per_album, 2),
            "per_item_seconds": round(per_item, 3),
        }
    return phases
