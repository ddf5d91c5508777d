"""`sync` end to end: real headless Chromium against the fake Google Photos."""

from __future__ import annotations

import fcntl
import os
import pty
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pytest
from gphotos_collector.state import State

from fakes.photos import FakePhotos
from tests.collector.backup import (
    assert_backup_matches,
    assert_state_consistent,
    backed_up_files,
    expected_files,
    expected_items,
    file_identities,
    sha256,
)
from tests.conftest import CHROMIUM, collector_command, run_collector

ALICE = "alice@example.com"
BOB = "bob@example.com"
SCALE = 0.02  # small media: these tests are about correctness, benchmarks about speed


def sync_args(fake: FakePhotos, profile: Path, dest: Path, *extra: str) -> list[str]:
    return [
        "sync",
        "--profile",
        str(profile),
        "--dest",
        str(dest),
        "--base-url",
        fake.base_url,
        "--browser",
        CHROMIUM,
        "--stall-timeout",
        "4",
        *extra,
    ]


@pytest.fixture
def small_library(tmp_path: Path):
    with FakePhotos(items=40, seed=21, accounts=[ALICE], media_scale=SCALE) as fake:
        profile = tmp_path / "profile"
        fake.make_profile(profile)
        yield fake, profile


def test_full_sync_then_nothing_new_then_only_the_new_items(tmp_path: Path) -> None:
    with FakePhotos(items=300, seed=11, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        manifest = fake.manifest()
        items = manifest["accounts"][ALICE]["items"]
        # The library holds every hard case, so matching it proves each of them.
        names = [f["name"] for item in items for f in item["files"]]
        assert any(item["kind"] == "live" and len(item["files"]) == 2 for item in items)
        assert len(names) - len(set(names)) >= 2, "no duplicate file names"
        assert any(not name.isascii() for name in names), "no Unicode names"
        assert any("/" in name for name in names), "no hostile name"

        first = run_collector(*sync_args(fake, profile, dest, "--workers", "4"))
        assert first.code == 0, first.stderr
        print("first run", first.summary)
        count = assert_backup_matches(dest, manifest, ALICE)
        assert count > 250
        assert first.summary["new"] == count
        assert_state_consistent(dest)

        # Nothing new: nothing downloaded, nothing rewritten.
        before, attempts = file_identities(dest), fake.download_attempts
        second = run_collector(*sync_args(fake, profile, dest))
        assert second.code == 0, second.stderr
        assert second.summary["new"] == 0
        print("second run", second.summary)
        assert file_identities(dest) == before
        # Only items that could not be downloaded yet were asked again.
        pending = {i["id"] for i in items if i["state"] == "processing"}
        asked = {k for k, v in fake.download_attempts.items() if v != attempts.get(k, 0)}
        assert asked <= pending

        # New uploads: only they (and videos that finished processing) are fetched.
        fake.grow(330)
        grown = fake.manifest()
        downloads_before = fake.downloads
        third = run_collector(*sync_args(fake, profile, dest, "--workers", "4"))
        assert third.code == 0, third.stderr
        print("third run", third.summary)
        fetched = {k for k, v in fake.downloads.items() if v != downloads_before.get(k, 0)}
        new_ids = {i["id"] for i in grown["accounts"][ALICE]["items"]} - {i["id"] for i in items}
        assert fetched, "nothing was fetched after the library grew"
        assert fetched <= new_ids | pending
        assert third.summary["new"] == len(fetched)
        assert_backup_matches(dest, grown, ALICE)
        assert_state_consistent(dest)
        # Files from the first run were not touched.
        after = file_identities(dest)
        assert all(after[path] == identity for path, identity in before.items())


def test_hostile_name_stays_inside_dest(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    result = run_collector(*sync_args(fake, profile, dest))
    assert result.code == 0, result.stderr
    hostile = next(
        i for i in fake.manifest()["accounts"][ALICE]["items"] if i["filename"].startswith("../")
    )
    taken = datetime.fromisoformat(hostile["taken"])
    folder = dest / f"{taken.year:04d}/{taken.month:02d}"
    digest = hostile["files"][0]["sha256"]
    matches = [p for p in backed_up_files(dest).values() if p.parent == folder]
    assert any(sha256(p) == digest for p in matches)
    for path in tmp_path.rglob("*passwd*"):
        assert path.resolve().is_relative_to(folder.resolve()), path


def test_second_account_and_date_window(tmp_path: Path) -> None:
    with FakePhotos(items=40, seed=5, accounts=[ALICE, BOB], media_scale=SCALE) as fake:
        profile = tmp_path / "profile"
        assert fake.make_profile(profile) == [(0, ALICE), (1, BOB)]
        manifest = fake.manifest()

        bob = run_collector(*sync_args(fake, profile, tmp_path / "bob", "--account-index", "1"))
        assert bob.code == 0, bob.stderr
        assert bob.summary["account"] == BOB
        assert assert_backup_matches(tmp_path / "bob", manifest, BOB) > 30

        days = sorted(
            datetime.fromisoformat(i["taken"]).date() for i in expected_items(manifest, ALICE)
        )
        since, until = days[len(days) // 4], days[3 * len(days) // 4]
        window = run_collector(
            *sync_args(
                fake,
                profile,
                tmp_path / "window",
                "--since",
                since.isoformat(),
                "--until",
                until.isoformat(),
            )
        )
        assert window.code == 0, window.stderr
        checked = assert_backup_matches(tmp_path / "window", manifest, ALICE, since, until)
        assert 10 <= checked < len(days)

        # A plain run after a windowed one still walks past the window's known ids.
        everything = run_collector(*sync_args(fake, profile, tmp_path / "window"))
        assert everything.code == 0, everything.stderr
        assert assert_backup_matches(tmp_path / "window", manifest, ALICE) == len(days)
        assert_state_consistent(tmp_path / "window")


def test_a_dest_keeps_to_one_account(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    dest.mkdir()
    state = State.open(dest)
    state.set_meta("account_email", "someone.else@example.com")
    state.close()
    result = run_collector(*sync_args(fake, profile, dest))
    assert result.code == 2
    assert "someone.else@example.com" in result.stderr and ALICE in result.stderr
    assert backed_up_files(dest) == {}


def test_kill_9_mid_run_then_rerun_completes(tmp_path: Path) -> None:
    with FakePhotos(items=120, seed=8, accounts=[ALICE], media_scale=0.05, latency_ms=30) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        process = subprocess.Popen(
            collector_command(*sync_args(fake, profile, dest, "--workers", "3")),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        done = 0
        assert process.stdout is not None
        for line in process.stdout:
            done += '"event": "item-done"' in line
            if done >= 40:  # past the first listing batch: older items are not known yet
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        time.sleep(1)  # the browser notices its controller is gone and exits
        # Whatever is in place is complete and recorded, or absent: never half a file.
        manifest = fake.manifest()
        digests = {
            f["sha256"] for i in manifest["accounts"][ALICE]["items"] for f in expected_files(i)
        }
        for relative, path in backed_up_files(dest).items():
            assert sha256(path) in digests, f"{relative} is not a complete original"
        rerun = run_collector(*sync_args(fake, profile, dest, "--workers", "3"))
        assert rerun.code == 0, rerun.stderr
        assert_backup_matches(dest, manifest, ALICE)
        assert_state_consistent(dest)


def test_faults_at_ten_percent_end_complete_within_three_runs(tmp_path: Path) -> None:
    spec = "5xx=0.1,stall=0.1,reset=0.1,seed=3"
    with FakePhotos(items=120, seed=9, accounts=[ALICE], media_scale=SCALE, faults=spec) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        manifest = fake.manifest()
        codes = []
        for _ in range(3):
            result = run_collector(*sync_args(fake, profile, dest, "--workers", "4"))
            codes.append(result.code)
            assert result.code in (0, 4), result.stderr
            assert_state_consistent(dest)
            if result.code == 0:
                break
        assert codes[-1] == 0, f"still incomplete after three runs: {codes}"
        assert_backup_matches(dest, manifest, ALICE)
        assert sum(fake.fault_counts.values()) >= 10, fake.fault_counts


def test_signed_out_profile_exits_3_and_touches_nothing(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    fake.revoke(ALICE)
    dest = tmp_path / "dest"
    result = run_collector(*sync_args(fake, profile, dest))
    assert result.code == 3
    assert "signed out" in result.stderr and "gphotos-collector login" in result.stderr
    assert backed_up_files(dest) == {}
    check = run_collector(
        "check", "--profile", str(profile), "--base-url", fake.base_url, "--browser", CHROMIUM
    )
    assert check.code == 3 and "signed out" in check.stderr


def test_session_expiring_mid_run_stops_with_3_and_keeps_what_is_done(tmp_path: Path) -> None:
    with FakePhotos(items=60, seed=4, accounts=[ALICE], media_scale=SCALE, latency_ms=20) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        process = subprocess.Popen(
            collector_command(*sync_args(fake, profile, dest, "--workers", "2")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        done = 0
        for line in process.stdout:
            done += '"event": "item-done"' in line
            if done >= 5:
                fake.revoke(ALICE)
                break
        process.stdout.read()
        assert process.wait(timeout=120) == 3
        assert "signed out" in (process.stderr.read() if process.stderr else "")
        assert_state_consistent(dest)
        assert len(backed_up_files(dest)) >= 5
        # The person signs in again (a new profile); the next run finishes the library.
        refreshed = tmp_path / "refreshed"
        fake.make_profile(refreshed)
        rerun = run_collector(*sync_args(fake, refreshed, dest, "--workers", "2"))
        assert rerun.code == 0, rerun.stderr
        assert_backup_matches(dest, fake.manifest(), ALICE)
        assert_state_consistent(dest)


def test_full_scan_reports_deletions_and_keeps_files(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    assert run_collector(*sync_args(fake, profile, dest)).code == 0
    victim = next(i for i in expected_items(fake.manifest(), ALICE) if i["kind"] == "photo")
    fake.delete(ALICE, victim["id"])
    files_before = set(backed_up_files(dest))
    incremental = run_collector(*sync_args(fake, profile, dest))
    assert incremental.summary["deleted_on_google"] == 0
    scan = run_collector(*sync_args(fake, profile, dest, "--full-scan"))
    assert scan.code == 0, scan.stderr
    assert scan.summary["deleted_on_google"] == 1
    assert scan.event("deleted-on-google")["ids"] == [victim["id"]]
    assert set(backed_up_files(dest)) == files_before  # never deletes local files
    status = run_collector("status", "--dest", str(dest), "--json")
    assert '"deleted_on_google": 1' in status.stdout


def test_a_full_scan_comes_round_every_n_days(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    every = ("--full-scan-every", "7")
    first = run_collector(*sync_args(fake, profile, dest, *every))
    assert first.code == 0, first.stderr
    assert first.event("full-scan-due")["last"] is None  # never scanned: due at once
    victim = next(i for i in expected_items(fake.manifest(), ALICE) if i["kind"] == "photo")
    fake.delete(ALICE, victim["id"])
    soon = run_collector(*sync_args(fake, profile, dest, *every))
    assert soon.code == 0 and not [e for e in soon.events if e["event"] == "full-scan-due"]
    assert soon.summary["deleted_on_google"] == 0
    # Eight days later (the scan's start time moved back), the next run walks everything.
    with sqlite3.connect(dest / ".gphotos-collector" / "state.sqlite3") as db:
        db.execute(
            "UPDATE runs SET started_at = ? WHERE full_scan = 1", ("2000-01-01T00:00:00+00:00",)
        )
    later = run_collector(*sync_args(fake, profile, dest, *every))
    assert later.code == 0, later.stderr
    assert later.event("full-scan-due")["every_days"] == 7
    assert later.event("deleted-on-google")["ids"] == [victim["id"]]


def test_a_share_that_is_not_mounted_is_not_filled(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    share = tmp_path / "nas"  # a folder, not a mount point: the share "did not come up"
    share.mkdir()
    result = run_collector(
        *sync_args(fake, profile, share / "alice", "--require-mount", str(share))
    )
    assert result.code == 6
    assert "not mounted" in result.stderr and str(share) in result.stderr
    assert list(share.iterdir()) == []  # nothing written to the local disk underneath
    outside = run_collector(
        *sync_args(fake, profile, tmp_path / "d", "--require-mount", str(share))
    )
    assert outside.code == 2 and "not inside" in outside.stderr
    # On a mounted filesystem (/ always is one) the run goes ahead.
    mounted = run_collector(*sync_args(fake, profile, share / "alice", "--require-mount", "/"))
    assert mounted.code == 0, mounted.stderr


def test_full_scan_refetches_files_missing_on_disk(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    assert run_collector(*sync_args(fake, profile, dest)).code == 0
    victim = sorted(backed_up_files(dest).values())[3]
    victim.unlink()
    scan = run_collector(*sync_args(fake, profile, dest, "--full-scan"))
    assert scan.code == 0, scan.stderr
    assert victim.is_file()
    assert_backup_matches(dest, fake.manifest(), ALICE)


def test_processing_video_is_skipped_then_fetched_when_ready(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    first = run_collector(*sync_args(fake, profile, dest))
    skipped = {e["id"] for e in first.events if e["event"] == "item-skipped"}
    processing = [
        i for i in fake.manifest()["accounts"][ALICE]["items"] if i["state"] == "processing"
    ]
    assert processing and {i["id"] for i in processing} <= skipped
    assert first.summary["skipped"] >= 1 and first.code == 0
    for item in processing:
        fake.make_ready(ALICE, item["id"])
    second = run_collector(*sync_args(fake, profile, dest))
    assert second.code == 0
    done = {e["id"] for e in second.events if e["event"] == "item-done"}
    assert {i["id"] for i in processing} <= done
    assert_backup_matches(dest, fake.manifest(), ALICE)


def test_second_sync_into_the_same_dest_is_refused(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / ".gphotos-collector").mkdir()
    with open(dest / ".gphotos-collector" / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run_collector(*sync_args(fake, profile, dest))
    assert result.code == 5
    assert "another sync" in result.stderr


def test_bad_usage_is_refused_before_anything_is_touched(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    missing = run_collector(*sync_args(fake, tmp_path / "nope", tmp_path / "dest"))
    assert missing.code == 2
    assert "gphotos-collector login" in missing.stderr
    assert not (tmp_path / "dest").exists()

    unmounted = run_collector(*sync_args(fake, profile, tmp_path / "no" / "such" / "dest"))
    assert unmounted.code == 2 and "parent folder does not exist" in unmounted.stderr

    bad_browser = run_collector(
        "sync", "--profile", str(profile), "--dest", str(tmp_path / "d"), "--browser", "/nope"
    )
    assert bad_browser.code == 2 and "--browser" in bad_browser.stderr

    bad_date = run_collector(*sync_args(fake, profile, tmp_path / "d", "--since", "yesterday"))
    assert bad_date.code == 2 and "2024-01-31" in bad_date.stderr


def test_dest_not_writable_by_the_user_is_refused(small_library) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the collector as another user")
    fake, _ = small_library
    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="gphotos-nobody-"))
    try:
        shared.chmod(0o755)
        profile = shared / "profile"
        profile.mkdir(mode=0o700)
        os.chown(profile, nobody.pw_uid, nobody.pw_gid)
        dest = shared / "readonly"
        dest.mkdir(mode=0o755)  # root's: nobody may read, not write
        result = subprocess.run(
            [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                *collector_command(*sync_args(fake, profile, dest)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "HOME": str(shared)},
        )
        assert result.returncode == 2, result.stderr
        assert "not writable by this user" in result.stderr
        assert list(dest.iterdir()) == []
    finally:
        shutil.rmtree(shared)


def test_progress_bar_on_a_terminal(small_library, tmp_path: Path) -> None:
    """On a terminal: a progress bar and a sentence, not JSON."""
    fake, profile = small_library
    dest = tmp_path / "dest"
    command = collector_command(*sync_args(fake, profile, dest))
    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 65536)
        output.extend(data)
        return data

    status = pty.spawn(command, read)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "items/s" in text and "Listed" in text
    assert "new, " in text and f"Photos are in {dest}" in text
    assert '"event"' not in text


def test_status_after_a_sync(small_library, tmp_path: Path) -> None:
    fake, profile = small_library
    dest = tmp_path / "dest"
    assert run_collector(*sync_args(fake, profile, dest)).code == 0
    status = run_collector("status", "--dest", str(dest))
    assert status.code == 0
    assert f"Backup of {ALICE}" in status.stdout
    assert "last success: 20" in status.stdout
    assert "pending: 1" in status.stdout  # the video that stays processing
    empty = run_collector("status", "--dest", str(tmp_path))
    assert empty.code == 2 and "no backup yet" in empty.stderr


def test_check_prints_the_account(tmp_path: Path) -> None:
    with FakePhotos(items=5, seed=2, accounts=[ALICE, BOB], media_scale=SCALE) as fake:
        profile = tmp_path / "profile"
        fake.make_profile(profile)
        base = ["--profile", str(profile), "--base-url", fake.base_url, "--browser", CHROMIUM]
        first = run_collector("check", *base)
        assert first.code == 0
        assert first.stdout.strip() == f"Signed in as {fake.full_name(ALICE)} <{ALICE}>"
        second = run_collector("check", *base, "--account-index", "1", "--json")
        assert second.code == 0
        assert '"email": "bob@example.com"' in second.stdout
        third = run_collector("check", *base, "--account-index", "2")
        assert third.code == 3 and "account #2" in third.stderr


def test_unreachable_site_is_a_temporary_failure(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    result = run_collector(
        "sync",
        "--profile",
        str(profile),
        "--dest",
        str(tmp_path / "dest"),
        "--base-url",
        "http://127.0.0.1:9",
        "--browser",
        CHROMIUM,
    )
    assert result.code == 6, result.stderr
    assert "could not open" in result.stderr
