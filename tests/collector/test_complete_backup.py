"""A complete backup: nothing in the library is missed or half-kept (issue 9).

Real headless Chromium against the fake Google Photos, which follows the
corrected contract: the grid is by date taken, Recently added by upload time,
archived items live only under /archive, edited photos have an original,
deleted ids are real 404s, the app keeps hidden stale copies of its grid and
panels, and Google may stop a signed-in profile at an interstitial or put a
dialog over the library.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from gphotos_collector.state import SCHEMA_VERSION, State

from fakes.photos import FakePhotos
from fakes.photos.library import deleted_probe_id
from fakes.photos.testing import archived_ids
from tests.collector.backup import (
    assert_backup_matches,
    assert_state_consistent,
    backed_up_files,
    expected_items,
    file_identities,
    read_sidecars,
    sha256,
)
from tests.collector.test_sync import ALICE, SCALE, sync_args
from tests.conftest import REPO, run_collector

FIRST_RELEASE = "97a0534"  # release 0.1: its state file is schema 1


def changed(after: dict[str, int], before: dict[str, int]) -> set[str]:
    return {key for key, count in after.items() if count != before.get(key, 0)}


def test_stale_hidden_grids_archive_and_edited_items_first_sync(tmp_path: Path) -> None:
    with FakePhotos(items=145, seed=31, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        manifest = fake.manifest()
        items = manifest["accounts"][ALICE]["items"]
        archived = set(archived_ids(manifest, ALICE))
        edited = [i for i in expected_items(manifest, ALICE) if i["edited"]]
        assert archived and edited, "the library lacks archived or edited items"

        first = run_collector(*sync_args(fake, profile, dest, "--workers", "3"))
        assert first.code == 0, first.stderr
        # Hidden stale copies of the grid did not end the listing early.
        count = assert_backup_matches(dest, manifest, ALICE)
        assert first.summary["new"] == count
        assert first.summary["listed"]["archive"] == len(archived)
        ok_in_grid = [i for i in items if i["state"] != "deleted" and not i["archived"]]
        assert first.summary["listed"]["grid"] == len(ok_in_grid)
        assert first.summary["originals"] == len(edited)
        assert_state_consistent(dest)
        # Archived items are recorded as such; edited ones gave both files, once each.
        with sqlite3.connect(dest / ".gphotos-collector/state.sqlite3") as db:
            flagged = {row[0] for row in db.execute("SELECT id FROM items WHERE archived = 1")}
            placeholders = ",".join("?" * len(edited))
            query = (
                f"SELECT role, COUNT(*) FROM files WHERE item_id IN ({placeholders}) GROUP BY role"
            )
            roles = dict(db.execute(query, [i["id"] for i in edited]).fetchall())
        assert flagged == archived
        assert roles == {"original": len(edited), "edited": len(edited)}
        assert fake.original_downloads == {i["id"]: 1 for i in edited}

        # A rerun changes nothing: no download, no rewrite.
        before, downloads = file_identities(dest), fake.downloads
        again = run_collector(*sync_args(fake, profile, dest))
        assert again.code == 0, again.stderr
        assert again.summary["new"] == 0 and again.summary["originals"] == 0
        assert file_identities(dest) == before
        assert changed(fake.downloads, downloads) <= {
            i["id"] for i in items if i["state"] == "processing"
        }


def test_old_photo_uploaded_today_is_fetched_by_the_next_plain_run(tmp_path: Path) -> None:
    with FakePhotos(items=60, seed=32, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        assert run_collector(*sync_args(fake, profile, dest)).code == 0
        taken = datetime(2009, 6, 14, 15, 30, 12, tzinfo=timezone(timedelta(hours=2)))
        (scanned,) = fake.upload_old(ALICE, taken)
        downloads = fake.downloads
        plain = run_collector(*sync_args(fake, profile, dest))  # no --full-scan
        assert plain.code == 0, plain.stderr
        assert plain.event("sync-start")["incremental"] is True
        assert "recently-added" in plain.summary["listed"]
        assert changed(fake.downloads, downloads) == {scanned}
        placed = [p for p in backed_up_files(dest) if p.startswith("2009/06/")]
        assert placed, "the old photo uploaded today is not in 2009/06"
        assert plain.summary["fallback"] is None
        assert_backup_matches(dest, fake.manifest(), ALICE)


def test_moving_items_in_and_out_of_the_archive_downloads_nothing(tmp_path: Path) -> None:
    with FakePhotos(items=40, seed=33, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        assert run_collector(*sync_args(fake, profile, dest)).code == 0
        manifest = fake.manifest()
        (was_archived,) = archived_ids(manifest, ALICE)[:1]
        now_archived = next(
            i["id"]
            for i in expected_items(manifest, ALICE)
            if not i["archived"] and i["kind"] == "photo"
        )
        fake.set_archived(ALICE, was_archived, False)
        fake.set_archived(ALICE, now_archived, True)
        before, downloads = file_identities(dest), fake.downloads
        scan = run_collector(*sync_args(fake, profile, dest, "--full-scan"))
        assert scan.code == 0, scan.stderr
        assert scan.summary["new"] == 0 and scan.summary["deleted_on_google"] == 0
        assert changed(fake.downloads, downloads) == set()
        # No media file is touched; only the two items' sidecars say archived or not.
        after = file_identities(dest)
        assert set(after) == set(before)
        rewritten = {p for p in before if after[p] != before[p]}
        assert rewritten and all(p.endswith(".xmp") for p in rewritten)
        sidecars = read_sidecars(dest)
        archived = {
            sidecars[p]["XMP-gpc:ItemId"]: sidecars[p]["XMP-gpc:Archived"] for p in rewritten
        }
        assert archived == {was_archived: False, now_archived: True}
        with sqlite3.connect(dest / ".gphotos-collector/state.sqlite3") as db:
            flags = dict(db.execute("SELECT id, archived FROM items").fetchall())
        assert flags[was_archived] == 0 and flags[now_archived] == 1


def test_a_deleted_item_is_skipped_with_exit_0_and_not_asked_again(tmp_path: Path) -> None:
    with FakePhotos(items=30, seed=34, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        assert run_collector(*sync_args(fake, profile, dest)).code == 0
        # A run killed after listing left an id that Google has deleted since.
        gone = deleted_probe_id(fake.app.seed, ALICE)
        state = State.open(dest)
        state.mark_listed([(gone, "photo", None)])
        state.close()
        first = run_collector(*sync_args(fake, profile, dest))
        assert first.code == 0, first.stderr
        assert first.summary["skipped"] >= 1 and first.summary["failed"] == 0
        skipped = [e for e in first.events if e["event"] == "item-skipped" and e["id"] == gone]
        assert skipped and skipped[0]["reason"] == "gone"
        asked = [r for r in fake.requests if gone in r["path"]]
        assert [r["status"] for r in asked if r["kind"] == "page"] == [404]
        # The next night does not ask for it again.
        next_night = run_collector(*sync_args(fake, profile, dest))
        assert next_night.code == 0, next_night.stderr
        assert [r for r in fake.requests if gone in r["path"]] == asked


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("confirmidentifier", "confirm it is you"),
        ("signinchooser", "account chooser"),
        ("challenge/dp", "another device"),
        ("shadowdisambiguate", "which account"),
        ("passkeyenrollment", "passkey"),
        ("rejected", "rejected the sign-in"),
    ],
)
def test_a_sign_in_interstitial_exits_3_naming_it(tmp_path: Path, kind: str, says: str) -> None:
    with FakePhotos(items=12, seed=35, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        fake.interstitial(ALICE, kind)
        result = run_collector(*sync_args(fake, profile, dest))
        assert result.code == 3, result.stderr
        assert says in result.stderr, result.stderr
        assert "login" in result.stderr and "refresh-profile" in result.stderr
        assert backed_up_files(dest) == {}


def test_a_dialog_over_the_library_is_cancelled_never_confirmed(tmp_path: Path) -> None:
    with FakePhotos(items=30, seed=36, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        fake.dialog(ALICE, "storage-full")
        result = run_collector(*sync_args(fake, profile, dest))
        assert result.code == 0, result.stderr
        assert fake.dialog_confirms == 0
        assert fake.dialog_cancels >= 1
        assert_backup_matches(dest, fake.manifest(), ALICE)


def _old_release(tmp_path: Path) -> Path:
    """The collector of release 0.1, from this repository's own history."""
    where = tmp_path / "release-0.1"
    where.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", FIRST_RELEASE, "collector/src"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"commit {FIRST_RELEASE} (release 0.1) is not in this clone's history: "
        f"{archive.stderr.decode(errors='replace')}"
    )
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where / "collector" / "src"


def test_a_backup_of_release_0_1_gains_the_originals_and_nothing_else(tmp_path: Path) -> None:
    old_src = _old_release(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(old_src)}
    which = subprocess.run(
        [sys.executable, "-c", "import gphotos_collector as g; print(g.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert which.stdout.startswith(str(old_src)), which.stdout
    # Release 0.1 knew nothing of hidden stale grids: run it on a fake without them. A
    # small library: its archived item is also among Recently added's newest, so the run
    # meets it in two views and must fetch it once.
    with FakePhotos(
        items=16, seed=12, accounts=[ALICE], media_scale=SCALE, stale_copies=False
    ) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        old = run_collector(*sync_args(fake, profile, dest), env=env)
        assert old.code == 0, old.stderr
        with sqlite3.connect(dest / ".gphotos-collector/state.sqlite3") as db:
            assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
                "1",
            )
            old_ids = {row[0] for row in db.execute("SELECT id FROM items WHERE status='done'")}
        manifest = fake.manifest()
        edited = {i["id"] for i in expected_items(manifest, ALICE) if i["edited"]}
        assert edited & old_ids, "release 0.1 backed up no edited photo"
        assert not fake.original_downloads
        before_downloads = fake.downloads
        old_files = {path: sha256(p) for path, p in backed_up_files(dest).items()}

        new = run_collector(*sync_args(fake, profile, dest))
        assert new.code == 0, new.stderr
        # Only originals of edited photos, and what release 0.1 could not see (the Archive).
        fetched = changed(fake.downloads, before_downloads)
        originals = set(fake.original_downloads)
        assert originals == edited & old_ids
        archived = set(archived_ids(manifest, ALICE))
        processing = {
            i["id"] for i in manifest["accounts"][ALICE]["items"] if i["state"] == "processing"
        }
        assert fetched - originals <= archived | processing
        assert new.summary["originals"] == len(originals)
        # The edited file became <stem>-edited (same bytes); the original took its name.
        now = {path: sha256(p) for path, p in backed_up_files(dest).items()}
        assert set(old_files.values()) <= set(now.values())
        assert_backup_matches(dest, manifest, ALICE)
        assert_state_consistent(dest)
        with sqlite3.connect(dest / ".gphotos-collector/state.sqlite3") as db:
            assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
                str(SCHEMA_VERSION),
            )
            unchecked = db.execute(
                "SELECT COUNT(*) FROM items WHERE status = 'done' AND edited IS NULL"
            ).fetchone()[0]
        assert unchecked == 0
        # And a third run has nothing left to do.
        downloads = fake.downloads
        third = run_collector(*sync_args(fake, profile, dest))
        assert third.code == 0 and third.summary["originals"] == 0
        assert changed(fake.downloads, downloads) <= processing

        # Release 0.1 refuses the upgraded state with a sentence, not a traceback.
        refused = run_collector(*sync_args(fake, profile, dest), env=env)
        assert refused.code == 2, refused.stderr
        assert "newer gphotos-collector" in refused.stderr
        assert "Traceback" not in refused.stderr
