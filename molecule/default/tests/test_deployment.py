"""What site.yml leaves on each test host, checked over SSH as an admin would."""

from __future__ import annotations

import shlex

import pytest
from scenario_checks import (
    COLLECTOR_COMMAND,
    FAKES_DIR,
    STATE_ROOT,
    USER_PREFIX,
    config_value,
    expected_of,
    members_of,
    parse_cron_file,
    scenario_hosts,
)

from testhosts import chrome_repo

testinfra_hosts = scenario_hosts()

GROUP = "gphotos-collector"  # the role's gphotos_accounts_group
# Where Chrome's package puts its command (the gphotos_browser role's vars/main.yml).
CHROME_COMMAND = "/usr/bin/google-chrome-stable"
CHROME_SOURCES = "/etc/apt/sources.list.d/google-chrome.sources"


def test_the_host_runs_the_debian_release_the_scenario_boots(host):
    expected = expected_of(host)
    assert host.system_info.distribution == "debian"
    assert host.system_info.codename == expected.get("codename", "bookworm")


def test_the_collector_runs_on_the_hosts_own_python(host):
    version = "import sys; print('%d.%d' % sys.version_info[:2])"
    system = host.check_output(f'/usr/bin/python3 -c "{version}"')
    venv = host.check_output(f'/opt/gphotos-collector/venv/bin/python -c "{version}"')
    assert venv == system == expected_of(host).get("python", system)


def test_the_browser_is_installed_and_starts(host):
    browser = expected_of(host).get("browser", "chromium")
    if browser == "chromium":
        assert host.package("chromium").is_installed
        assert host.run("chromium --version").stdout.startswith("Chromium ")
        command = "/usr/bin/chromium"
    else:
        package = host.package("google-chrome-stable")
        assert package.is_installed and package.version.startswith(chrome_repo.VERSION)
        chrome = host.file("/opt/google/chrome/chrome")
        assert chrome.is_file and chrome.mode & 0o111
        assert host.file(CHROME_COMMAND).linked_to == "/opt/google/chrome/google-chrome"
        # the stand-in runs the host's Chromium, which its package depends on
        assert host.run(f"{CHROME_COMMAND} --version").stdout.startswith("Chromium ")
        command = CHROME_COMMAND
    for member in members_of(host):
        assert config_value(host, member, "browser") == command


def test_chrome_keeps_one_apt_source_written_like_its_package_writes_it(host):
    if expected_of(host).get("browser") != "chrome":
        pytest.skip("this host runs Chromium")
    repo_url = (FAKES_DIR / "chrome-repo.url").read_text().strip() + "/deb/"
    arch = host.check_output("dpkg --print-architecture")
    # the role wrote it, the package's postinst rewrote it: one text, one Signed-By
    assert host.file(CHROME_SOURCES).content_string == chrome_repo.sources_file(repo_url, arch)
    assert host.file(CHROME_SOURCES).mode == 0o644
    assert not host.file("/etc/apt/sources.list.d/google-chrome.list").exists
    pointing = host.check_output(
        f"grep -rlF {shlex.quote(repo_url.rstrip('/'))} /etc/apt/sources.list.d || true"
    )
    assert pointing.split() == [CHROME_SOURCES]
    assert host.file(chrome_repo.CHROME_KEYRING).is_file
    update = host.run("apt-get update")
    assert update.rc == 0 and "W:" not in update.stdout + update.stderr, update.stderr


def test_the_collector_finds_chrome_by_its_normal_path(host):
    if expected_of(host).get("browser") != "chrome":
        pytest.skip("this host runs Chromium")
    member = members_of(host)[0]
    check = host.run(
        f"runuser -u {member.user} -- {COLLECTOR_COMMAND} check --config {member.config} "
        "--browser chrome"
    )
    assert check.rc == 0, check.stdout + check.stderr
    assert check.stdout.startswith("Signed in as "), check.stdout


def test_each_member_runs_the_browser_with_its_sandbox(host):
    """Chromium's sandbox needs unprivileged user namespaces (or its setuid helper): the
    browser must start without --no-sandbox as each member's unprivileged user."""
    page = "data:text/html,<p>sandboxed</p>"
    for member in members_of(host):
        browser = config_value(host, member, "browser")
        script = (
            'd=$(mktemp -d) && HOME="$d" timeout 120 "$0" --headless --disable-gpu '
            '--no-first-run --user-data-dir="$d/profile" --dump-dom "$1"; rc=$?; '
            'rm -rf "$d"; exit $rc'
        )
        run = host.run(
            f"cd /tmp && runuser -u {member.user} -- sh -c {shlex.quote(script)} "
            f"{shlex.quote(browser)} {shlex.quote(page)}"
        )
        assert run.rc == 0, f"{member.name}: {run.stderr[-2000:]}"
        assert "<p>sandboxed</p>" in run.stdout


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
