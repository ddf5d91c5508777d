"""The SQLite state: what it records and what it refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from gphotos_collector.errors import UsageError
from gphotos_collector.info_panel import AlbumRef, ItemDetails
from gphotos_collector.state import DONE, FAILED, LISTED, PROCESSING, PlacedFile, State


def test_items_files_and_retries(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    taken = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    state.mark_done("a", "photo", taken, [PlacedFile("2020/01/a.jpg", 3, "ab" * 32)])
    state.mark_unfinished("b", "video", None, PROCESSING, "still processing")
    state.mark_unfinished("c", "photo", taken, FAILED, "stalled")
    state.mark_unfinished("c", "photo", None, FAILED, "reset")
    assert state.known_ids() == {"a", "b", "c"}
    assert state.done_ids() == {"a"}
    pending = {p.id: p for p in state.pending()}
    assert set(pending) == {"b", "c"}
    assert pending["c"].failures == 2 and pending["c"].last_error == "reset"
    assert state.is_claimed("2020/01/a.jpg")
    assert state.is_claimed("2020/01/A.JPG")  # one file on a case-insensitive share
    assert state.totals() == {
        "items": 1,
        "files": 1,
        "bytes": 3,
        "deleted_on_google": 0,
        "archived": 0,
        "edited": 0,
    }
    # A failed item that later succeeds is done, with its files.
    state.mark_done("c", "photo", taken, [PlacedFile("2020/01/c.jpg", 1, "cd" * 32)])
    assert state.item_status("c") == DONE
    assert {p.id for p in state.pending()} == {"b"}
    state.close()


def test_runs_and_last_success(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    first = state.start_run(False)
    state.finish_run(first, exit_code=0, new=2, skipped=0, failed=0, size=10, seconds=1.5)
    second = state.start_run(False)
    state.finish_run(second, exit_code=4, new=0, skipped=0, failed=1, size=0, seconds=1)
    assert state.last_run()["exit_code"] == 4
    assert state.last_run(successful=True)["new"] == 2


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    state.set_meta("schema_version", "99")
    state.close()
    with pytest.raises(UsageError, match="newer gphotos-collector"):
        State.open(tmp_path)


def test_a_pending_item_keeps_the_time_the_grid_showed(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    shown = datetime(2020, 5, 6, 7, 8, 9)
    state.mark_unfinished("x", "photo", shown, FAILED, "reset")
    state.mark_unfinished("x", "photo", None, FAILED, "reset again")
    assert state.pending()[0].taken == shown


def test_listed_items_are_pending_until_done_and_keep_their_grid_time(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    shown = datetime(2021, 3, 4, 5, 6, 7)
    state.mark_done("a", "photo", shown, [PlacedFile("2021/03/a.jpg", 1, "ab" * 32)])
    state.mark_listed([("a", "photo", shown), ("b", "video", shown), ("c", None, None)])
    assert state.item_status("a") == DONE  # listing again never demotes a done item
    assert state.ids_with_status(LISTED) == {"b", "c"}
    assert {p.id for p in state.pending()} == {"b", "c"}
    assert state.item_taken("b") == shown
    state.mark_done("b", "video", None, [PlacedFile("2021/03/b.mp4", 1, "cd" * 32)])
    assert {p.id for p in state.pending()} == {"c"}
    assert state.totals()["items"] == 2  # only done items count as backed up


def test_last_full_scan_counts_only_successful_full_scans(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    assert state.last_full_scan() is None
    failed = state.start_run(True)
    state.finish_run(failed, exit_code=6, new=0, skipped=0, failed=0, size=0, seconds=1)
    assert state.last_full_scan() is None
    normal = state.start_run(False)
    state.finish_run(normal, exit_code=0, new=0, skipped=0, failed=0, size=0, seconds=1)
    assert state.last_full_scan() is None
    full = state.start_run(True)
    state.finish_run(full, exit_code=0, new=0, skipped=0, failed=0, size=0, seconds=1)
    assert state.last_full_scan() is not None


def test_a_state_from_a_newer_release_is_refused_with_a_sentence(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    state.set_meta("schema_version", "99")
    state.close()
    with pytest.raises(UsageError, match=r"newer gphotos-collector.*upgrade"):
        State.open(tmp_path)


def test_details_are_kept_and_items_are_revisited_oldest_read_first(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    taken = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for name in ("a", "b", "c"):
        files = [PlacedFile(f"2020/01/{name}.jpg", 1, name * 64)]
        state.mark_done(name, "photo", taken, files, edited=False)
    state.mark_done("old", "photo", taken, [PlacedFile("2020/01/o.jpg", 1, "f" * 64)], edited=None)
    details = ItemDetails("a.jpg", 'say "hi"\nthere', (AlbumRef("x", "Trip"),), ("Zoë",))
    assert state.set_details("a", details) is True  # new
    assert state.set_details("a", details) is False  # the same again: no change
    assert state.item_facts("a").details == details
    assert state.set_details("b", ItemDetails("b.jpg")) is True
    now = datetime.now(timezone.utc)
    # Never checked for an original first, then never read, then nothing (read just now).
    assert [i.id for i in state.revisits(10, now - timedelta(days=28))] == ["old", "c"]
    # A full scan's cut-off (after the reads): every item, the oldest read last.
    assert [i.id for i in state.revisits(10, now + timedelta(seconds=5))][:2] == ["old", "c"]
    assert len(state.revisits(10, now + timedelta(seconds=5))) == 4
    assert state.count_stale_details(now - timedelta(days=28)) == 2
    assert state.details_totals() == {
        "with_details": 2,
        "with_caption": 1,
        "with_people": 1,
        "with_albums": 1,
    }
    state.close()


def test_a_schema_2_state_gains_the_details_table(tmp_path: Path) -> None:
    state = State.open(tmp_path)
    state.mark_done("a", "photo", None, [PlacedFile("2020/01/a.jpg", 1, "a" * 64)])
    state._db.execute("DROP TABLE details")
    state.set_meta("schema_version", "2")
    state.close()
    state = State.open(tmp_path)
    assert state.get_meta("schema_version") == "3"
    assert state.item_facts("a").details is None
    assert [i.id for i in state.revisits(5, datetime.now(timezone.utc))] == ["a"]
    state.close()
