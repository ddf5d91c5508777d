"""What site.yml leaves on each test host, checked over SSH as an admin would."""

from __future__ import annotations

import shlex

from scenario_checks import (
    COLLECTOR_COMMAND,
    STATE_ROOT,
    USER_PREFIX,
    members_of,
    parse_cron_file,
    scenario_hosts,
)

testinfra_hosts = scenario_hosts()

GROUP = "gphotos-collector"  # the role's gphotos_accounts_group


def test_the_browser_is_installed_and_starts(host):
    assert host.package("chromium").is_installed
    assert host.run("chromium --version").stdout.startswith("Chromium ")


def test_the_collector_is_installed_in_its_virtualenv(host):
    venv_python = host.file("/opt/gphotos-collector/venv/bin/python")
    assert venv_python.exists
    command = host.file(COLLECTOR_COMMAND)
    assert command.is_symlink
    assert command.linked_to.startswith("/opt/gphotos-collector/venv/")
    assert host.run(f"{COLLECTOR_COMMAND} --version").rc == 0


def test_each_member_has_its_own_unprivileged_system_user(host):
    members = members_of(host)
    uids = set()
    for member in members:
        user = host.user(member.user)
        assert user.exists
        assert user.uid < 1000, "a system user"
        assert user.shell in ("/usr/sbin/nologin", "/bin/false")
        assert "sudo" not in user.groups
        uids.add(user.uid)
    assert len(uids) == len(members)
    users = host.check_output("getent passwd | cut -d: -f1").split()
    assert sorted(u for u in users if u.startswith(USER_PREFIX)) == sorted(m.user for m in members)


def test_profiles_are_private_to_their_member(host):
    members = members_of(host)
    for member in members:
        profile = host.file(member.profile_dir)
        assert profile.is_directory
        assert profile.mode == 0o700
        assert (profile.user, profile.group) == (member.user, member.user)
        assert host.run(f"runuser -u {member.user} -- ls {member.profile_dir}").rc == 0
        for other in members:
            if other is member:
                continue
            listing = host.run(f"runuser -u {other.user} -- ls {member.profile_dir}")
            assert listing.rc != 0
            assert "Permission denied" in listing.stderr
            cookies = host.run(
                f"runuser -u {other.user} -- cat {member.profile_dir}/Default/Cookies"
            )
            assert cookies.rc != 0


def test_each_member_has_a_cron_file_running_its_job(host):
    for member in members_of(host):
        cron_file = host.file(member.cron_file)
        assert cron_file.is_file
        assert (cron_file.user, cron_file.mode) == ("root", 0o644)
        (job,) = parse_cron_file(cron_file.content_string)
        assert job.user == member.user
        assert len(job.schedule.split()) == 5
        words = shlex.split(job.command)
        assert words[:4] == [COLLECTOR_COMMAND, "run", "--config", member.config]
        # the job's output goes to the member's own log
        assert words[4:] == [">>", member.log_file, "2>&1"]


def test_config_files_are_readable_by_their_member_only(host):
    for member in members_of(host):
        config = host.file(member.config)
        assert config.is_file
        assert config.mode == 0o600
        assert (config.user, config.group) == (member.user, member.user)


def test_configs_ask_for_a_weekly_full_scan_and_no_mount(host):
    # The inventory sets neither full_scan_every nor mount: the role's defaults.
    for member in members_of(host):
        lines = host.file(member.config).content_string.splitlines()
        assert "full_scan_every = 7" in lines
        assert not [line for line in lines if line.startswith("require_mount")]


def test_job_slots_are_shared_by_the_group_but_not_deletable_by_other_members(host):
    slots = host.file(f"{STATE_ROOT}/.job-slots")
    assert slots.is_directory
    assert (slots.user, slots.group) == ("root", GROUP)
    # setgid (slot files stay in the group) + sticky (only a file's owner removes it)
    assert slots.mode == 0o3770


def test_logrotate_rotates_every_members_log(host):
    assert host.package("logrotate").is_installed
    for member in members_of(host):
        rule = host.file(f"/etc/logrotate.d/gphotos-collector-{member.name}")
        assert rule.is_file
        assert member.log_file in rule.content_string or f"/{member.name}/" in rule.content_string
        assert (
            host.run(f"logrotate --debug /etc/logrotate.d/gphotos-collector-{member.name}").rc == 0
        )


def test_cron_is_running(host):
    cron = host.service("cron")
    assert cron.is_running
    assert cron.is_enabled
