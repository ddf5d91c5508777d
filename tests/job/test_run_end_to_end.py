"""`gphotos-collector run --config` for real: headless Chromium, the fake Google Photos,
the fake Healthchecks, separate processes, the way cron runs it."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jobtools import collector, events, write_config

from fakes.healthchecks import FakeHealthchecks
from fakes.photos import FakePhotos
from tests.collector.backup import expected_files

ALICE, BOB = "alice@example.com", "bob@example.com"
HOST = socket.gethostname()
REFRESH = (
    "run `gphotos-collector login --profile ~/gphotos/bob` on a desktop, then "
    "`ansible-playbook playbooks/refresh-profile.yml -e account=bob`"
)


@dataclass
class Library:
    photos: FakePhotos
    profiles: dict[str, Path]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """One fake library with two accounts, each with its own signed-in profile."""
    root = tmp_path_factory.mktemp("library")
    with FakePhotos(items=12, seed=11, accounts=[ALICE, BOB], media_scale=0.02) as photos:
        profiles = {}
        for email in (ALICE, BOB):
            profiles[email] = root / email.split("@")[0] / "profile"
            photos.make_profile(profiles[email], accounts=[email])
        yield Library(photos, profiles)


def job_config(tmp_path: Path, library: Library, email: str, **extra: Any) -> tuple[Path, Path]:
    dest = tmp_path / "photos"
    settings: dict[str, Any] = {
        "profile": str(library.profiles[email]),
        "dest": str(dest),
        "base_url": library.photos.base_url,
        "browser": "chromium",
        "workers": 2,
        "account_name": email.split("@")[0],
        "retry_delay": 1,
        "ping_timeout": 2,
    }
    config = write_config(tmp_path / "job.toml", **{**settings, **extra})
    return config, dest


def sha256s(folder: Path) -> set[str]:
    """The photos in a backup (hidden state and lock files, and sidecars, left out)."""
    found = set()
    for path in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if path.is_file() and not hidden and path.suffix != ".xmp":
            found.add(hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def test_a_good_run_backs_up_and_reports_start_and_success(
    library: Library, tmp_path: Path, mode: str
) -> None:
    with FakeHealthchecks(mode=mode, record=tmp_path / "hc.jsonl") as hc:
        check = hc.add_check("alice")
        config, dest = job_config(tmp_path, library, ALICE, ping_url=hc.ping_url(check))
        first = subprocess.Popen(
            [sys.executable, "-m", "gphotos_collector", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not check.pings and time.monotonic() < deadline:
            time.sleep(0.05)
        # While the first run works, a second one exits at once and touches nothing.
        second = collector("run", "--config", config)
        assert first.poll() is None  # the second run did not wait for the first
        out, err = first.communicate(timeout=300)
        assert second.returncode == 5, second.stderr
        assert first.returncode == 0, err
        rid = events(out)[0]["rid"]
        kinds = [(p.kind, p.rid) for p in check.pings]
        assert kinds == [("start", rid), ("log", None), ("success", rid)]
        success = check.pings[-1].body
        assert success.startswith(f"alice ({ALICE}) on {HOST}: backup done: ")
        expected = {
            f["sha256"]
            for item in library.photos.manifest()["accounts"][ALICE]["items"]
            for f in expected_files(item)
        }
        assert expected and sha256s(dest) == expected


def test_healthchecks_answering_500_leaves_the_backup_alone(
    library: Library, tmp_path: Path
) -> None:
    with FakeHealthchecks(faults="500=1", record=tmp_path / "hc.jsonl") as hc:
        check = hc.add_check("alice")
        config, dest = job_config(tmp_path, library, ALICE, ping_url=hc.ping_url(check))
        started = time.monotonic()
        result = collector("run", "--config", config)
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert check.pings == []
    run_end = events(result.stdout)[-1]
    assert run_end["event"] == "run-end" and run_end["pings_recorded"] == []
    sync_seconds = next(e for e in events(result.stdout) if e["event"] == "summary")["seconds"]
    assert elapsed < sync_seconds + 2 * (3 * 2 + 1.25 * 3) + 10  # pings cost their bound only
    assert len(sha256s(dest)) > 0


def test_a_signed_out_profile_fails_at_once_with_the_refresh_sentence(
    library: Library, tmp_path: Path, mode: str
) -> None:
    library.photos.revoke(BOB)
    with FakeHealthchecks(mode=mode, record=tmp_path / "hc.jsonl") as hc:
        check = hc.add_check("bob")
        config, dest = job_config(
            tmp_path, library, BOB, ping_url=hc.ping_url(check), refresh_hint=REFRESH, retries=3
        )
        result = collector("run", "--config", config)
    assert result.returncode == 3, result.stderr
    names = [e["event"] for e in events(result.stdout)]
    assert names.count("attempt") == 1  # a signed-out profile is never retried
    assert [(p.kind, p.exit_status) for p in check.pings] == [("start", None), ("fail", 3)]
    lines = check.pings[1].body.splitlines()
    assert lines[0] == (
        f"bob on {HOST} is signed out of Google Photos, nothing was backed up: {REFRESH}"
    )
    assert str(library.profiles[BOB]) in lines[1]  # the collector's own words follow
    assert f"gphotos-collector: {lines[0]}" in result.stderr
    assert sha256s(dest) == set()


def test_downloads_that_keep_failing_end_in_4_with_a_sentence_within_the_body_limit(
    tmp_path: Path,
) -> None:
    """Every download is cut off (the pages work): the items fail after the sync's own
    retries, the job exits 4 and pings `/4` on the run id of its `start`, with a first
    line a person can act on and the output's tail cut to a small Ping-Body-Limit."""
    limit = 600
    # reset=1 cuts every download off mid-body; 5xx=1 would fail the pages and the app's
    # JSON calls too, so the listing would end the run as temporary (6) instead. One item:
    # each failing item costs the sync's own retry backoff (about 7 s).
    with (
        FakePhotos(items=1, seed=5, accounts=[ALICE], media_scale=0.02, faults="reset=1") as photos,
        FakeHealthchecks(mode="selfhosted", body_limit=limit, record=tmp_path / "hc.jsonl") as hc,
    ):
        profile = tmp_path / "alice" / "profile"
        photos.make_profile(profile, accounts=[ALICE])
        check = hc.add_check("alice")
        config, dest = job_config(
            tmp_path,
            Library(photos, {ALICE: profile}),
            ALICE,
            ping_url=hc.ping_url(check),
            retries=1,
            stall_timeout=5,
        )
        result = collector("run", "--config", config, timeout=240)
        attempts = photos.download_attempts
        records = [r for r in hc.records() if r["check"] == check.uuid]
    assert result.returncode == 4, result.stderr
    run_events = events(result.stdout)
    rid = run_events[0]["rid"]
    assert [(r["kind"], r["rid"], r["status"]) for r in records] == [
        ("start", rid, 200),
        ("4", rid, 200),
    ]
    summary = next(e for e in run_events if e["event"] == "summary")
    assert (summary["failed"], summary["new"]) == (1, 0)
    assert list(attempts.values()) == [3]  # the sync tried it three times before giving up
    failure = records[1]
    body = failure["body"]
    assert failure["body_bytes"] == len(body.encode("utf-8")) <= limit
    lines = body.splitlines()
    assert lines[0] == (
        f"alice ({ALICE}) on {HOST}: 1 item still failed after 1 attempt (0 new items "
        f"saved); nothing to do: failed items are tried again on the next run (the log's "
        f"item-failed lines name them)"
    )
    assert lines[1].startswith(f"[output cut to fit the server's {limit}-byte limit: ")
    # Then the output's tail: whole JSON lines, up to the very end of the run's output.
    assert json.loads(lines[2]) and json.loads(lines[-1])["event"] == "attempt-failed"
    assert f"gphotos-collector: {lines[0]}" in result.stderr
    assert sha256s(dest) == set()  # nothing half-downloaded was put in place


def test_a_run_stopped_by_sigterm_says_so_to_healthchecks(
    library: Library, tmp_path: Path, mode: str
) -> None:
    """A shutdown or `kill` mid-run: the failure is pinged at once, not after the grace."""
    with FakeHealthchecks(mode=mode, record=tmp_path / "hc.jsonl") as hc:
        check = hc.add_check("alice")
        config, dest = job_config(tmp_path, library, ALICE, ping_url=hc.ping_url(check), workers=1)
        job = subprocess.Popen(
            [sys.executable, "-m", "gphotos_collector", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert job.stdout is not None
        for line in job.stdout:
            if '"event": "item-done"' in line:
                break
        job.send_signal(signal.SIGTERM)
        out, err = job.communicate(timeout=60)
        assert job.returncode != 0
        assert '"event": "interrupted"' in out, (job.returncode, out[-2000:], err[-2000:])
        kinds = [p.kind for p in check.pings]
        assert kinds[0] == "start" and kinds[-1] == "fail", kinds
        assert check.pings[-1].rid == check.pings[0].rid
        assert "interrupted before it finished" in check.pings[-1].body.splitlines()[0]
        # What was placed is complete; the next run finishes the library.
        again = collector("run", "--config", config)
        assert again.returncode == 0, again.stderr
        expected = {
            f["sha256"]
            for item in library.photos.manifest()["accounts"][ALICE]["items"]
            for f in expected_files(item)
        }
        assert sha256s(dest) == expected
