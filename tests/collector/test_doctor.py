"""`doctor` end to end: real headless Chromium against the fake Google Photos."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from gphotos_collector import google_site
from gphotos_collector.cli.doctor import describe
from gphotos_collector.doctor import FAILED, NOT_REACHED, run_doctor
from gphotos_collector.errors import ExitCode

from fakes.photos import FakePhotos
from tests.conftest import CHROMIUM, run_collector

ALICE = "alice@example.com"
STEPS = [
    "signed in",
    "grid container",
    "grid items",
    "grid labels",
    "grid scrolling",
    "recently added",
    "archive",
    "viewer opens",
    "next item",
    "date taken",
    "time taken",
    "filename",
    "More options menu",
    "Download entry",
    "Download original entry",
    "menu closes",
    "download key",
    "albums",
]


@pytest.fixture
def library(tmp_path: Path):
    with FakePhotos(items=40, seed=21, accounts=[ALICE], media_scale=0.02) as fake:
        profile = tmp_path / "profile"
        fake.make_profile(profile)
        yield fake, profile


def doctor_args(fake: FakePhotos, profile: Path, *extra: str) -> list[str]:
    return [
        "doctor",
        "--profile",
        str(profile),
        "--base-url",
        fake.base_url,
        "--browser",
        CHROMIUM,
        *extra,
    ]


def test_every_step_passes_on_the_fake_and_nothing_is_kept(library) -> None:
    fake, profile = library
    # The process's TMPDIR, where its download goes: short, Chrome puts a socket there.
    scratch = Path(tempfile.mkdtemp(prefix="gd-"))
    started = time.monotonic()
    try:
        result = run_collector(*doctor_args(fake, profile, "--json"), env={"TMPDIR": str(scratch)})
        seconds = time.monotonic() - started
        left = list(scratch.rglob("*"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["account"] == {"name": "Alice Example", "email": ALICE, "account_index": 0}
    assert [s["step"] for s in report["steps"]] == STEPS
    for step in report["steps"]:
        assert set(step) >= {"step", "ok", "needed", "target", "ms", "detail"}
        assert step["ok"], step
    rows = {s["step"]: s for s in report["steps"]}
    assert rows["albums"]["status"] == "skipped" and not rows["albums"]["needed"]
    assert rows["grid scrolling"]["detail"].startswith("end detected after")
    assert rows["More options menu"]["target"] == google_site.MORE_OPTIONS_SELECTOR
    assert rows["download key"]["target"] == google_site.DOWNLOAD_KEY
    # The one download started is cancelled (or, for a tiny file, deleted): nothing is left.
    assert sum(fake.download_attempts.values()) == 1
    assert "started '" in rows["download key"]["detail"]
    print("download:", rows["download key"]["detail"], "completed on the fake:", fake.downloads)
    assert left == []
    assert seconds < 60
    print(f"doctor: {report['seconds']} s inside, {seconds:.1f} s as a process")


@pytest.mark.parametrize("why", ["revoked", "interstitial"])
def test_a_signed_out_profile_exits_3(library, why: str) -> None:
    fake, profile = library
    if why == "revoked":
        fake.revoke(ALICE)
    else:
        fake.interstitial(ALICE, "confirmidentifier")
    result = run_collector(*doctor_args(fake, profile))
    assert result.code == ExitCode.SIGNED_OUT, result.stdout + result.stderr
    said = {"revoked": "signed out", "interstitial": "confirm it is you"}[why]
    assert said in result.stderr and "login" in result.stderr
    assert result.stdout == ""  # the walk stopped at its first step
    assert fake.download_attempts == {}


def test_a_changed_page_fails_its_row_names_the_selector_and_exits_8(library) -> None:
    fake, profile = library
    renamed = '[aria-label="Options"]'  # as if Google renamed the More options button
    started = time.monotonic()
    report = run_doctor(
        profile, 0, fake.base_url, CHROMIUM, site={"MORE_OPTIONS_SELECTOR": renamed}
    )
    print(describe(report), f"\n({time.monotonic() - started:.1f} s)")
    assert google_site.MORE_OPTIONS_SELECTOR == '[aria-label="More options"]'  # restored
    rows = {s.step: s for s in report.steps}
    menu = rows["More options menu"]
    assert menu.status == FAILED and menu.target == renamed
    assert rows["Download entry"].status == NOT_REACHED
    assert rows["menu closes"].status == NOT_REACHED
    assert rows["download key"].ok and rows["grid scrolling"].ok  # the rest still ran
    assert not report.ok and report.exit_code == ExitCode.PAGE_CHANGED == 8
    error = report.error()
    assert renamed in error.message and "Google's side" in error.message
    assert error.exit_code == 8 and error.target == renamed
    assert renamed in describe(report) and "FAIL" in describe(report)
