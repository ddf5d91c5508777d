"""When Google changes the page: name the step that broke, stop early, keep the evidence
(issue 15). Real headless Chromium against the fake, switched into modes that each
change one thing the contract names; and the Recently added guard (issue 9)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fakes.healthchecks import FakeHealthchecks
from fakes.photos import FakePhotos
from tests.collector.backup import (
    assert_backup_matches,
    assert_state_consistent,
    backed_up_files,
    file_identities,
)
from tests.collector.test_sync import ALICE, SCALE, sync_args
from tests.conftest import CHROMIUM, run_collector
from tests.job.jobtools import write_config

STOP_WITHIN = 120.0  # seconds: a changed page stops the run within two minutes

# mode -> (the step named, its selector or URL, doctor's failing rows)
MODES = {
    "more-options": (
        "the More options menu",
        '[aria-label="More options"]',
        {"More options menu"},
    ),
    "info-labels": ("the info panel", '[aria-label^="Date taken:"]', {"date taken", "time taken"}),
    "grid-anchors": (
        "the library grid",
        'a[href*="/photo/"]',
        {"grid items", "grid scrolling", "recently added", "archive"},
    ),
    "download": (
        "Download (Shift+D",
        '[aria-label="Download - Shift+D"]',
        {"Download entry", "download key"},
    ),
}


def doctor(fake: FakePhotos, profile: Path) -> tuple[int, dict[str, dict[str, object]]]:
    result = run_collector(
        "doctor",
        "--profile",
        str(profile),
        "--base-url",
        fake.base_url,
        "--browser",
        CHROMIUM,
        "--json",
    )
    report = json.loads(result.stdout)
    return result.code, {step["step"]: step for step in report["steps"]}


def bundles(dest: Path) -> list[Path]:
    folder = dest / ".gphotos-collector" / "debug"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_changed_page_stops_the_run_naming_the_step(tmp_path: Path, mode: str) -> None:
    step, target, rows_failing = MODES[mode]
    with FakePhotos(items=40, seed=41, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        fake.change_page(mode)
        started = time.monotonic()
        result = run_collector(*sync_args(fake, profile, dest))
        seconds = time.monotonic() - started
        print(f"{mode}: stopped in {seconds:.1f} s with exit {result.code}")
        assert result.code == 8, result.stderr
        assert seconds < STOP_WITHIN
        assert step in result.stderr and target in result.stderr, result.stderr
        assert "doctor" in result.stderr and "change on Google's side" in result.stderr
        # What was placed is complete and recorded; nothing half-written.
        assert_state_consistent(dest)
        # The evidence: only the member can read it, and it names no account.
        (bundle,) = bundles(dest)
        assert bundle.stat().st_mode & 0o077 == 0
        facts = json.loads((bundle / "bundle.json").read_text())
        assert facts["step"].startswith(step) and target in facts["target"]
        assert facts["browser_version"] and facts["collector_version"]
        html = (bundle / "page.html").read_text()
        assert "<html" in html
        for text in (ALICE, fake.full_name(ALICE), ALICE.split("@")[0] + "@"):
            assert text.lower() not in html.lower()
            assert text.lower() not in json.dumps(facts).lower()
        assert (bundle / "screenshot.png").read_bytes()[:4] == b"\x89PNG"
        # doctor fails on that row and passes the others the backup needs.
        code, rows = doctor(fake, profile)
        assert code == 8
        for row in rows_failing:
            assert rows[row]["ok"] is False, rows[row]
        failed_needed = [
            name
            for name, found in rows.items()
            if found["needed"] and not found["ok"] and found.get("status") != "not reached"
        ]
        assert set(failed_needed) == rows_failing, rows


def test_recently_added_gone_walks_the_library_and_still_says_so(tmp_path: Path) -> None:
    with FakePhotos(items=40, seed=42, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        assert run_collector(*sync_args(fake, profile, dest)).code == 0
        fake.change_page("recently-added")
        taken = datetime(2011, 3, 5, 10, 0, 0, tzinfo=timezone(timedelta(hours=1)))
        (scanned,) = fake.upload_old(ALICE, taken)
        downloads = fake.downloads
        result = run_collector(*sync_args(fake, profile, dest))
        assert result.code == 8, result.stderr
        assert "Recently added" in result.stderr and "/search/_tra_" in result.stderr
        assert result.summary["fallback"]
        # Nothing was missed: the whole library was listed instead.
        assert fake.downloads.get(scanned, 0) == downloads.get(scanned, 0) + 1
        assert_backup_matches(dest, fake.manifest(), ALICE)
        assert len(bundles(dest)) == 1
        code, rows = doctor(fake, profile)
        assert code == 8 and rows["recently added"]["ok"] is False


def test_the_healthchecks_failure_line_names_the_step_and_run_does_not_retry(
    tmp_path: Path,
) -> None:
    with (
        FakePhotos(items=30, seed=43, accounts=[ALICE], media_scale=SCALE) as fake,
        FakeHealthchecks(mode="selfhosted", record=tmp_path / "hc.jsonl") as hc,
    ):
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        fake.change_page("more-options")
        check = hc.add_check("alice")
        config = write_config(
            tmp_path / "job.toml",
            profile=str(profile),
            dest=str(dest),
            base_url=fake.base_url,
            browser=CHROMIUM,
            account_name="alice",
            ping_url=hc.ping_url(check),
            retry_delay=1,
            ping_timeout=2,
        )
        result = run_collector("run", "--config", str(config))
        assert result.code == 8, result.stderr
        attempts = [e for e in result.events if e["event"] == "attempt"]
        assert len(attempts) == 1  # not retried: waiting would not bring the page back
        failure = check.pings[-1]
        assert failure.kind == "8" or failure.exit_status == 8
        first_line = failure.body.splitlines()[0]
        assert "Google's page changed" in first_line
        assert "the More options menu" in first_line and "doctor" in first_line


def test_recently_added_with_foreign_ids_is_not_trusted(tmp_path: Path) -> None:
    with FakePhotos(items=60, seed=44, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        assert run_collector(*sync_args(fake, profile, dest)).code == 0
        fake.foreign_recent(True)
        before, downloads = file_identities(dest), fake.downloads
        # Nothing new, but every id of Recently added is unknown.
        quiet = run_collector(*sync_args(fake, profile, dest))
        assert quiet.code == 0, quiet.stderr
        assert quiet.summary["fallback"] and quiet.event("listing-fallback")
        processing = [
            i for i in fake.manifest()["accounts"][ALICE]["items"] if i["state"] == "processing"
        ]
        assert quiet.summary["new"] == 0 and quiet.summary["skipped"] <= len(processing)
        assert fake.downloads == downloads and file_identities(dest) == before
        # New items too: the guard opens one as a library item and it is not one.
        fake.grow(75)
        grown = run_collector(*sync_args(fake, profile, dest))
        assert grown.code == 0, grown.stderr
        assert grown.summary["fallback"]
        gone = [e for e in grown.events if e["event"] == "item-skipped" and e["reason"] == "gone"]
        assert gone == []  # no foreign id was taken for a deleted item
        assert_backup_matches(dest, fake.manifest(), ALICE)
        assert len(backed_up_files(dest)) > len([p for p in before if not p.endswith(".xmp")])
