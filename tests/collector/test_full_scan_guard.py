"""What a full scan may conclude about deletions on Google."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gphotos_collector.jobs import JobQueue
from gphotos_collector.listing import Listing
from gphotos_collector.state import PlacedFile, State
from gphotos_collector.sync import SyncOptions


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def backed_up(tmp_path: Path, count: int) -> tuple[Listing, Recorder, list[str]]:
    state = State.open(tmp_path)
    ids = [f"id{n:04d}" for n in range(count)]
    for item_id in ids:
        path = f"2020/01/{item_id}.jpg"
        (tmp_path / "2020/01").mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
        state.mark_done(item_id, "photo", None, [PlacedFile(path, 1, "00" * 32)])
    events = Recorder()
    options = SyncOptions(profile=tmp_path, dest=tmp_path, full_scan=True)
    return Listing(options, state, events, JobQueue(state, events, 1)), events, ids


def test_a_few_items_missing_from_the_grid_are_reported_deleted(tmp_path: Path) -> None:
    sync, events, ids = backed_up(tmp_path, 200)
    assert sync._after_full_scan(ids[3:]) == []
    assert sync.report.deleted_on_google == 3
    assert ("deleted-on-google", {"count": 3, "ids": ids[:3]}) in events.events
    assert sync.state.totals()["deleted_on_google"] == 3


def test_a_grid_that_ended_early_reports_no_mass_deletion(tmp_path: Path) -> None:
    sync, events, ids = backed_up(tmp_path, 200)
    sync._after_full_scan(ids[:120])  # 80 missing: more likely a grid that stopped loading
    assert sync.report.deleted_on_google == 0
    assert sync.state.totals()["deleted_on_google"] == 0
    assert events.events[0][0] == "deletions-not-reported"


def test_missing_files_are_fetched_again(tmp_path: Path) -> None:
    sync, _, ids = backed_up(tmp_path, 10)
    (tmp_path / "2020/01/id0004.jpg").unlink()
    jobs = sync._after_full_scan(ids)
    assert [job.id for job in jobs] == ["id0004"]
    assert "id0004" not in sync.state.done_ids()
    assert [item.id for item in sync.state.pending()] == ["id0004"]  # kept, so it is retried
    assert sync.state.files_of("id0004") == []
