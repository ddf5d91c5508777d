"""After the current tree is deployed over the first release: the backup carries on."""

from __future__ import annotations

import json
import re
import shlex
import urllib.request

import pytest
from scenario_checks import (
    COLLECTOR_COMMAND,
    FAKES_DIR,
    PROJECT_DIR,
    assert_same_files,
    manifest,
    manifest_files,
    member_account,
    members_of,
    parse_cron_file,
    photos_on_host,
    run_as_cron_would,
    scenario_data,
    scenario_hosts,
)

testinfra_hosts = scenario_hosts()


def first_release() -> dict:
    """What prepare.yml recorded on the controller: the commit and what the fake served."""
    return json.loads((FAKES_DIR / "first-release.json").read_text())


def first_on(host) -> dict:
    """What prepare.yml recorded on the host: fingerprints and the first collector's status."""
    name = host.backend.get_hostname()
    return json.loads((FAKES_DIR / f"first-release-{name}.json").read_text())


def downloads_served() -> int:
    """Downloads the fake Google Photos completed so far, all items together."""
    base_url = (FAKES_DIR / "photos.url").read_text().strip()
    with urllib.request.urlopen(f"{base_url}/_fake/stats", timeout=10) as answer:
        return sum(json.load(answer)["downloads_completed"].values())


def status_of(host, member) -> dict:
    return json.loads(
        host.check_output(
            f"runuser -u {member.user} -- {COLLECTOR_COMMAND} status --dest {member.dest} --json"
        )
    )


def last_summary(host, member) -> dict:
    """The last `summary` event of the member's job log."""
    lines = host.check_output(f"tail -n 200 {shlex.quote(member.log_file)}").splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    summaries = [e for e in events if e.get("event") == "summary"]
    assert summaries, f"no summary in the last lines of {member.log_file}"
    return summaries[-1]


_runs: dict[str, dict] = {}


@pytest.fixture
def next_run(host):
    """The first nightly run after the upgrade: each member's cron command, run as cron would."""
    name = host.backend.get_hostname()
    if name not in _runs:
        before = downloads_served()
        results = {}
        for member in members_of(host):
            (job,) = parse_cron_file(host.file(member.cron_file).content_string)
            results[member.name] = run_as_cron_would(host, job)
        _runs[name] = {"results": results, "before": before, "after": downloads_served()}
    return _runs[name]


def test_the_first_release_was_deployed_and_had_backed_up_before_the_upgrade(host):
    first = first_release()
    assert first["commit"].startswith(scenario_data()["scenario_first_release"])
    assert sum(first["downloads_completed"].values()) > 0
    for member in members_of(host):
        status = first_on(host)["status"]
        assert status["account"] == member_account(member)
        assert status["items"] > 0 and status["files"] > 0


def test_the_current_collector_replaced_the_first_releases(host):
    pyproject = (PROJECT_DIR / "collector/pyproject.toml").read_text()
    current = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert current, "collector/pyproject.toml names its version"
    assert current.group(1) in host.check_output(f"{COLLECTOR_COMMAND} --version")
    wheels = host.check_output("ls /opt/gphotos-collector/dist").split()
    assert len(wheels) == 1 and wheels[0].endswith(".whl"), wheels


def test_the_cron_job_and_config_are_the_current_roles(host):
    for member in members_of(host):
        (job,) = parse_cron_file(host.file(member.cron_file).content_string)
        assert job.user == member.user
        words = shlex.split(job.command)
        assert words == [
            COLLECTOR_COMMAND, "run", "--config", member.config, ">>", member.log_file, "2>&1"
        ]  # fmt: skip
        config = host.file(member.config)
        assert (config.user, config.mode) == (member.user, 0o600)
        assert f"dest = {json.dumps(member.dest)}" in config.content_string.splitlines()


def gained_by_the_upgrade(account: str) -> tuple[list[dict], list[dict]]:
    """What release 0.1 could not keep: archived items, and edited photos' originals."""
    items = [i for i in manifest()["accounts"][account]["items"] if i["state"] == "ok"]
    archived = [i for i in items if i["archived"] and i["files"]]
    edited = [i for i in items if i["edited"] and not i["archived"] and i.get("original")]
    return archived, edited


def test_the_next_run_carries_on_the_first_releases_state_and_downloads_only_what_it_lacked(
    host, next_run
):
    gained = 0
    for member in members_of(host):
        result = next_run["results"][member.name]
        log_tail = host.run(f"tail -n 30 {member.log_file}").stdout
        assert result.rc == 0, f"{member.name}: exit {result.rc}\n{result.stderr}\n{log_tail}"
        summary = last_summary(host, member)
        archived, edited = gained_by_the_upgrade(member_account(member))
        assert (summary["new"], summary["failed"]) == (len(archived), 0), summary
        assert summary["originals"] == len(edited), summary
        gained += len(archived) + len(edited)
    first = sum(first_release()["downloads_completed"].values())
    assert next_run["before"] == first, "nothing downloaded between the first release and now"
    # Nothing the first release had backed up was downloaded again.
    assert next_run["after"] == first + gained, "the run after the upgrade downloaded again"


def test_the_backup_is_complete_and_its_state_reads_the_same_after_the_upgrade(host, next_run):
    for member in members_of(host):
        assert_same_files(photos_on_host(host, member.dest), manifest_files(member_account(member)))
        before = first_on(host)["status"]
        after = status_of(host, member)
        archived, edited = gained_by_the_upgrade(member_account(member))
        assert after["account"] == before["account"]
        assert after["items"] == before["items"] + len(archived)
        added_files = sum(len(i["files"]) for i in archived) + len(edited)
        assert after["files"] == before["files"] + added_files
        assert after["last_success"] and after["last_success"] != before["last_success"]
