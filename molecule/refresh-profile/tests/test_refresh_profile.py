"""A revoked session: the job fails and says how to refresh; refresh-profile.yml fixes it.

The steps depend on each other and run in file order on the scenario's one host.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from scenario_checks import (
    EPHEMERAL_DIR,
    FAKES_DIR,
    INVENTORY_DIR,
    PROJECT_DIR,
    assert_same_files,
    healthchecks_records,
    manifest_files,
    member_account,
    member_pings,
    members_of,
    parse_cron_file,
    photos_on_host,
    run_as_cron_would,
    scenario_data,
    scenario_hosts,
)

testinfra_hosts = scenario_hosts()[:1]
SIGNED_OUT_EXIT = 3
REVOKED = "alice"
BYSTANDER = "bob"

_story: dict = {}


def _member(host, name):
    return next(m for m in members_of(host) if m.name == name)


def _run_job(host, name):
    member = _member(host, name)
    (job,) = parse_cron_file(host.file(member.cron_file).content_string)
    since = len(healthchecks_records())
    result = run_as_cron_would(host, job)
    return result, member_pings(since, member.check_slug)


def _fingerprint(host, member):
    """Everything of a member's setup and backup on the host, with contents and times."""
    paths = " ".join([member.home, member.cron_file, member.dest])
    return host.check_output(
        f"find {paths} -path '*/.gphotos-collector' -prune -o -type f -print0 "
        "| sort -z | xargs -0 sha256sum; "
        f"find {paths} -path '*/.gphotos-collector' -prune -o -printf '%p %m %u %T@\\n' | sort"
    )


def _fake(*args):
    command = [sys.executable, "-m", "fakes.photos", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)


def test_both_members_back_up_before_anything_goes_wrong(host):
    for name in (REVOKED, BYSTANDER):
        result, pings = _run_job(host, name)
        assert result.rc == 0, result.stdout + result.stderr
        assert "start" in [p["kind"] for p in pings]
    _story["bystander"] = _fingerprint(host, _member(host, BYSTANDER))


def test_a_revoked_session_fails_the_job_and_healthchecks_gets_the_refresh_sentence(host):
    photos_url = (FAKES_DIR / "photos.url").read_text().strip()
    _fake("revoke", "--base-url", photos_url, "--account", member_account(_member(host, REVOKED)))

    result, pings = _run_job(host, REVOKED)
    assert result.rc == SIGNED_OUT_EXIT, result.stdout + result.stderr
    failures = [p for p in pings if p["kind"] == "fail" or p.get("exit_status") == SIGNED_OUT_EXIT]
    assert failures, [p["kind"] for p in pings]
    body = failures[-1]["body"]
    assert "refresh-profile.yml" in body and f"account={REVOKED}" in body, body
    assert len({p["rid"] for p in pings if p["kind"] != "log"}) == 1


def test_refresh_profile_uploads_the_new_profile_and_the_next_run_succeeds(host):
    member = _member(host, REVOKED)
    photos_url = (FAKES_DIR / "photos.url").read_text().strip()
    profiles = scenario_data()["scenario_profiles"]
    profile = EPHEMERAL_DIR / "profiles" / REVOKED
    shutil.rmtree(profile)
    accounts = [arg for email in profiles[REVOKED] for arg in ("--account", email)]
    _fake("make-profile", "--base-url", photos_url, *accounts, "--profile", str(profile))

    refresh = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(INVENTORY_DIR),
            str(PROJECT_DIR / "playbooks" / "refresh-profile.yml"),
            "-e",
            f"account={REVOKED}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = refresh.stdout + refresh.stderr
    assert refresh.returncode == 0, output
    assert member_account(member) in output, "the playbook prints the signed-in account"

    result, pings = _run_job(host, REVOKED)
    assert result.rc == 0, result.stdout + result.stderr
    kinds = [p["kind"] for p in pings]
    assert "start" in kinds and any(k in ("success", "0") for k in kinds), kinds
    assert_same_files(photos_on_host(host, member.dest), manifest_files(member_account(member)))


def test_the_other_member_was_not_touched(host):
    if "bystander" not in _story:
        pytest.skip("the first step failed")
    assert _fingerprint(host, _member(host, BYSTANDER)) == _story["bystander"]
