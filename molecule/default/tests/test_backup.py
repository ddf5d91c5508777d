"""Each member's cron job, run exactly as cron would, backs up that member's library."""

from __future__ import annotations

import pytest
from scenario_checks import (
    assert_exif_intact,
    assert_same_files,
    healthchecks_records,
    manifest_files,
    member_account,
    member_pings,
    members_of,
    parse_cron_file,
    photos_on_host,
    run_as_cron_would,
    scenario_hosts,
    sidecars_on_host,
)

testinfra_hosts = scenario_hosts()

# The jobs run once per host and module; the tests below read what they did.
_runs: dict[str, dict] = {}


@pytest.fixture
def backup(host):
    hostname = host.backend.get_hostname()
    if hostname not in _runs:
        records_before = len(healthchecks_records())
        results = {}
        for member in members_of(host):
            (job,) = parse_cron_file(host.file(member.cron_file).content_string)
            results[member.name] = run_as_cron_would(host, job)
        _runs[hostname] = {"results": results, "records_before": records_before}
    return _runs[hostname]


def test_every_members_cron_command_succeeds(host, backup):
    for member in members_of(host):
        result = backup["results"][member.name]
        log_tail = host.run(f"tail -n 30 {member.log_file}").stdout
        assert result.rc == 0, f"{member.name}: exit {result.rc}\n{result.stderr}\n{log_tail}"


def test_each_members_photos_equal_the_fakes_library_byte_for_byte(host, backup):
    for member in members_of(host):
        expected = manifest_files(member_account(member))
        assert expected, "the fake serves files for this account"
        on_disk = photos_on_host(host, member.dest)
        assert_same_files(on_disk, expected)
        owner = host.file(member.dest).user
        assert owner == member.user


def test_the_photos_keep_their_exif(host, backup):
    for member in members_of(host):
        expected = manifest_files(member_account(member))
        on_disk = photos_on_host(host, member.dest)
        assert assert_exif_intact(host, member.dest, on_disk, expected) > 0


def test_every_photo_has_its_xmp_sidecar_on_the_hosts_own_exempi(host, backup):
    """The collector wrote XMP through the host's own libexempi (Debian 12 and 13)."""
    for member in members_of(host):
        on_disk = photos_on_host(host, member.dest)
        sidecars = sidecars_on_host(host, member.dest)
        assert sorted(sidecars) == sorted(on_disk), member.name
        for text in sidecars.values():
            assert "<gpc:itemId>" in text and "<exif:DateTimeOriginal>" in text


def test_healthchecks_saw_one_run_per_member_start_then_success(host, backup):
    for member in members_of(host):
        pings = member_pings(backup["records_before"], member.check_slug)
        kinds = [p["kind"] for p in pings]
        assert "start" in kinds, f"{member.name}: {kinds}"
        assert any(k in ("success", "0") for k in kinds), f"{member.name}: {kinds}"
        assert not [k for k in kinds if k == "fail" or (k.isdigit() and k != "0")], kinds
        assert all(p["status"] in (200, 201) for p in pings)
        run_ids = {p["rid"] for p in pings if p["kind"] != "log"}
        assert len(run_ids) == 1 and None not in run_ids, f"{member.name}: run ids {run_ids}"
