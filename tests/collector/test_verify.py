"""`verify`: real files, real SQLite, the real CLI; and once end to end with real Chromium."""

from __future__ import annotations

import hashlib
import inspect
import json
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from gphotos_collector.dest import dest_lock
from gphotos_collector.errors import ExitCode
from gphotos_collector.state import DONE, FAILED, PlacedFile, State
from gphotos_collector.verify import QUARANTINE_DIR_NAME, Problem, verify

from fakes.photos import FakePhotos
from tests.collector.backup import assert_backup_matches, assert_state_consistent
from tests.collector.test_sync import sync_args
from tests.conftest import run_collector

ALICE = "alice@example.com"
TAKEN = datetime(2021, 6, 7, 8, 9, 10, tzinfo=timezone.utc)


def _put(dest: Path, relative: str, content: bytes) -> PlacedFile:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return PlacedFile(relative, len(content), hashlib.sha256(content).hexdigest())


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    """A DEST with four items (one a live photo of two files), as a sync leaves it."""
    dest = tmp_path / "dest"
    dest.mkdir()
    state = State.open(dest)
    state.mark_done("A", "photo", TAKEN, [_put(dest, "2021/06/a.jpg", b"a" * 3000)])
    state.mark_done("B", "video", TAKEN, [_put(dest, "2021/06/b.mp4", b"b" * 5000)])
    state.mark_done(
        "C",
        "photo",
        TAKEN,
        [_put(dest, "2021/06/c.jpg", b"c" * 100), _put(dest, "2021/06/c.mp4", b"C" * 200)],
    )
    state.mark_done("D", "photo", None, [_put(dest, "undated/d.png", b"d" * 10)])
    state.close()
    return dest


def _paths(problems: list[Problem]) -> list[str]:
    return [problem.path for problem in problems]


def _item_status(dest: Path, item_id: str) -> tuple[str | None, list[PlacedFile]]:
    state = State.open(dest)
    try:
        return state.item_status(item_id), state.files_of(item_id)
    finally:
        state.close()


def test_an_intact_backup_and_what_is_not_media(backup: Path, tmp_path: Path) -> None:
    # None of these are unknown media: the collector's folder, sidecars, album links.
    (backup / ".gphotos-collector" / "tmp").mkdir()
    (backup / ".gphotos-collector" / "tmp" / "x.part").write_bytes(b"x")
    (backup / "2021" / "06" / "a.jpg.xmp").write_text("<x:xmpmeta/>")
    (backup / "2021" / "06" / "b.XMP").write_text("<x:xmpmeta/>")
    for folder in ("albums/Summer", "shared/Family"):
        (backup / folder).mkdir(parents=True)
        (backup / folder / "a.jpg").symlink_to(backup / "2021/06/a.jpg")
        (backup / folder / "notes.txt").write_text("not ours")
    # A link is never followed: what it points to is not looked at.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"s")
    (backup / "2021" / "linked").symlink_to(outside)
    (backup / "2021" / "06" / "link.jpg").symlink_to(outside / "secret.jpg")

    report = verify(backup)
    assert report.intact
    assert report.checked == 5
    assert report.bytes == 3000 + 5000 + 100 + 200 + 10
    assert report.missing == report.changed == report.unknown == []
    assert report.as_dict() == {
        "dest": str(backup),
        "checked": 5,
        "bytes": 8310,
        "missing": [],
        "changed": [],
        "unknown": [],
        "repaired": 0,
    }


def test_missing_changed_and_unknown(backup: Path, tmp_path: Path) -> None:
    (backup / "2021/06/b.mp4").unlink()
    with open(backup / "2021/06/a.jpg", "r+b") as handle:  # one byte flipped, same size
        handle.seek(1500)
        handle.write(b"X")
    (backup / "2021/06/c.mp4").write_bytes(b"C" * 199)  # shorter
    (backup / "undated/d.png").unlink()
    (backup / "undated/d.png").symlink_to(tmp_path)  # a link where a file should be
    (backup / "2021/06/mine.jpg").write_bytes(b"the user's own")
    (backup / "2020").mkdir()
    (backup / "2020/old.jpg").write_bytes(b"old")

    report = verify(backup)
    assert not report.intact
    assert _paths(report.missing) == ["2021/06/b.mp4"]
    assert report.missing[0].item_id == "B"
    assert _paths(report.changed) == ["2021/06/a.jpg", "2021/06/c.mp4", "undated/d.png"]
    assert [p.item_id for p in report.changed] == ["A", "C", "D"]
    assert "sha256" in report.changed[0].detail
    assert "199 bytes, 200 recorded" in report.changed[1].detail
    assert "symbolic link" in report.changed[2].detail
    assert _paths(report.unknown) == ["2020/old.jpg", "2021/06/mine.jpg"]
    assert report.bytes == 3000 + 100  # only files of the recorded size are hashed
    # Only reading: nothing moved, the state untouched.
    assert not (backup / ".gphotos-collector" / QUARANTINE_DIR_NAME).exists()
    assert _item_status(backup, "A")[0] == DONE


def test_a_folder_on_the_way_replaced_by_a_link(backup: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (backup / "undated").rename(elsewhere)
    (backup / "undated").symlink_to(elsewhere)
    report = verify(backup, repair=True)
    assert _paths(report.changed) == ["undated/d.png"]
    assert "undated, on its way, is a symbolic link" in report.changed[0].detail
    # The link is moved aside, never what it points to.
    assert (elsewhere / "d.png").read_bytes() == b"d" * 10
    moved = backup / ".gphotos-collector" / QUARANTINE_DIR_NAME / "undated"
    assert moved.is_symlink()
    assert not (backup / "undated").exists()
    assert _item_status(backup, "D") == (FAILED, [])


def test_repair_moves_changed_files_aside_and_refetches(backup: Path) -> None:
    (backup / "2021/06/b.mp4").unlink()
    (backup / "2021/06/a.jpg").write_bytes(b"z" * 3000)
    (backup / "2021/06/c.jpg").write_bytes(b"edited")  # one file of a live photo
    (backup / "2021/06/mine.jpg").write_bytes(b"the user's own")
    quarantine = backup / ".gphotos-collector" / QUARANTINE_DIR_NAME
    (quarantine / "2021/06").mkdir(parents=True)
    (quarantine / "2021/06/a.jpg").write_bytes(b"an earlier copy")

    report = verify(backup, repair=True)
    assert report.repaired == 3
    assert _paths(report.missing) == ["2021/06/b.mp4"]
    assert _paths(report.changed) == ["2021/06/a.jpg", "2021/06/c.jpg"]
    # Moved aside, never deleted; an existing name gets a number.
    assert (quarantine / "2021/06/a (1).jpg").read_bytes() == b"z" * 3000
    assert (quarantine / "2021/06/a.jpg").read_bytes() == b"an earlier copy"
    assert (quarantine / "2021/06/c.jpg").read_bytes() == b"edited"
    assert not (backup / "2021/06/a.jpg").exists()
    changed = report.as_dict()["changed"]
    assert [c["quarantined"] for c in changed] == [
        ".gphotos-collector/quarantine/2021/06/a (1).jpg",
        ".gphotos-collector/quarantine/2021/06/c.jpg",
    ]
    # The live photo's intact video stays; the placer takes it back as identical.
    assert (backup / "2021/06/c.mp4").read_bytes() == b"C" * 200
    assert (backup / "2021/06/mine.jpg").exists()
    for item_id in ("A", "B", "C"):
        assert _item_status(backup, item_id) == (FAILED, [])
    assert _item_status(backup, "D")[0] == DONE
    state = State.open(backup)
    assert {p.id for p in state.pending()} == {"A", "B", "C"}
    state.close()
    # A second verify finds nothing wrong: the items wait for the next sync, and until
    # then the live photo's intact video is claimed by no row.
    again = verify(backup)
    assert again.intact and _paths(again.unknown) == ["2021/06/c.mp4", "2021/06/mine.jpg"]


def test_quarantine_folders_are_private_and_never_a_link(backup: Path, tmp_path: Path) -> None:
    (backup / "2021/06/a.jpg").write_bytes(b"z" * 3000)
    quarantine = backup / ".gphotos-collector" / QUARANTINE_DIR_NAME
    report = verify(backup, repair=True)
    assert report.repaired == 1
    for folder in (quarantine, quarantine / "2021", quarantine / "2021/06"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # A link planted in the quarantine is refused, and nothing is written through it.
    (backup / "2021/06/c.jpg").write_bytes(b"edited")
    outside = tmp_path / "outside"
    outside.mkdir()
    (quarantine / "2021/06").rename(tmp_path / "old-06")
    (quarantine / "2021/06").symlink_to(outside)
    result = run_collector("verify", "--dest", str(backup), "--repair")
    assert result.code == ExitCode.USAGE, result.stderr
    assert "is not a plain folder" in result.stderr
    assert list(outside.iterdir()) == []
    assert (backup / "2021/06/c.jpg").read_bytes() == b"edited"


def test_an_item_deleted_on_google_is_reported_not_repaired(backup: Path) -> None:
    state = State.open(backup)
    state.mark_deleted_on_google(["B"])
    state.close()
    (backup / "2021/06/b.mp4").write_bytes(b"b" * 4999)
    report = verify(backup, repair=True)
    assert _paths(report.changed) == ["2021/06/b.mp4"]
    assert report.repaired == 0
    assert "cannot be fetched again" in report.repairs[0].note
    assert (backup / "2021/06/b.mp4").exists()  # the only copy stays where it is
    assert _item_status(backup, "B")[0] == DONE


def test_cli_exit_codes_text_and_json(backup: Path, tmp_path: Path) -> None:
    ok = run_collector("verify", "--dest", str(backup))
    assert ok.code == 0, ok.stderr
    assert "Checked 5 files" in ok.stdout and "0 missing, 0 changed, 0 unknown" in ok.stdout

    (backup / "2021/06/b.mp4").unlink()
    (backup / "2021/06/stray.txt").write_text("?")
    text = run_collector("verify", "--dest", str(backup))
    assert text.code == ExitCode.VERIFY_FAILED == 7
    assert "missing  2021/06/b.mp4  (item B)" in text.stdout
    assert "unknown  2021/06/stray.txt" in text.stdout
    assert "verify --repair" in text.stderr

    as_json = run_collector("verify", "--dest", str(backup), "--json")
    assert as_json.code == 7
    report = json.loads(as_json.stdout)
    assert set(report) == {"dest", "checked", "bytes", "missing", "changed", "unknown", "repaired"}
    assert [p["path"] for p in report["missing"]] == ["2021/06/b.mp4"]
    assert report["missing"][0]["item_id"] == "B"
    assert [p["path"] for p in report["unknown"]] == ["2021/06/stray.txt"]

    repaired = run_collector("verify", "--dest", str(backup), "--repair", "--json")
    assert repaired.code == 7 and json.loads(repaired.stdout)["repaired"] == 1
    assert "1 items will be fetched again by the next sync" in repaired.stderr
    # Unknown files alone are not an error.
    after = run_collector("verify", "--dest", str(backup))
    assert after.code == 0 and "1 unknown" in after.stdout


def test_no_state_and_a_running_sync(backup: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run_collector("verify", "--dest", str(empty))
    assert none.code == ExitCode.USAGE and "no backup yet" in none.stderr
    assert list(empty.iterdir()) == []  # not even the state folder
    with dest_lock(backup):
        locked = run_collector("verify", "--dest", str(backup), "--repair")
    assert locked.code == ExitCode.LOCKED and "another sync is writing" in locked.stderr


def _fake_options() -> dict[str, object]:
    """Without the hidden stale grid copies the fake may add, while the collector learns them."""
    if "stale_copies" in inspect.signature(FakePhotos).parameters:
        return {"stale_copies": False}
    return {}


def test_verify_repair_then_sync_fetches_them_back(tmp_path: Path) -> None:
    options = _fake_options()
    with FakePhotos(items=30, seed=21, accounts=[ALICE], media_scale=0.02, **options) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        sync = sync_args(fake, profile, dest)
        first = run_collector(*sync)
        assert first.code == 0, first.stdout[-4000:] + first.stderr
        assert run_collector("verify", "--dest", str(dest)).code == 0

        state = State.open(dest)
        recorded = state.recorded_files()
        state.close()
        singles = [
            (placed, item_id)
            for placed, item_id in recorded
            if sum(1 for _, other in recorded if other == item_id) == 1
        ]
        (flipped, flipped_id), (removed, removed_id) = singles[0], singles[-1]
        path = dest / flipped.path
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0xFF
        path.write_bytes(bytes(content))
        (dest / removed.path).unlink()
        stray = dest / flipped.path.rsplit("/", 1)[0] / "stray.jpg"
        stray.write_bytes(b"not from Google")

        found = run_collector("verify", "--dest", str(dest), "--json")
        assert found.code == 7, found.stderr
        report = json.loads(found.stdout)
        assert [(p["path"], p["item_id"]) for p in report["changed"]] == [
            (flipped.path, flipped_id)
        ]
        assert [(p["path"], p["item_id"]) for p in report["missing"]] == [
            (removed.path, removed_id)
        ]
        assert [p["path"] for p in report["unknown"]] == [stray.relative_to(dest).as_posix()]

        repaired = run_collector("verify", "--dest", str(dest), "--repair")
        assert repaired.code == 7 and "moved aside" in repaired.stdout
        downloads = fake.downloads
        second = run_collector(*sync)
        assert second.code == 0, second.stdout[-4000:] + second.stderr
        after = fake.downloads
        fetched = {item for item in after if after[item] > downloads.get(item, 0)}
        assert fetched == {flipped_id, removed_id}
        assert (dest / flipped.path).read_bytes() != bytes(content)
        assert (dest / removed.path).is_file()

        final = run_collector("verify", "--dest", str(dest), "--json")
        assert final.code == 0, final.stderr
        final_report = json.loads(final.stdout)
        assert final_report["missing"] == final_report["changed"] == []
        assert [p["path"] for p in final_report["unknown"]] == [stray.relative_to(dest).as_posix()]
        stray.unlink()
        assert_state_consistent(dest)
        assert_backup_matches(dest, fake.manifest(), ALICE)


def test_status_counts_items_per_kind(backup: Path) -> None:
    result = run_collector("status", "--dest", str(backup), "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["kinds"] == {"photo": 3, "video": 1}
    text = run_collector("status", "--dest", str(backup))
    assert "by kind: 3 photo, 1 video" in text.stdout
