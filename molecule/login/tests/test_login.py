"""alice signs in on the server: playbooks/login.yml, played by a person in a real browser.

The test runs the playbook as a user would (the controller venv's ansible-playbook), reads
the `ssh -L` line and the noVNC address it prints, opens that tunnel, and in a headless
Chromium on this machine types alice's sign-in into the server's browser through the VNC
canvas, then closes that browser with Ctrl+W. The steps depend on each other and run in
file order on the scenario's one host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from scenario_checks import (
    EPHEMERAL_DIR,
    FAKES_DIR,
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
    scenario_hosts,
)

testinfra_hosts = scenario_hosts()[:1]
MEMBER = "alice"
UNIT = f"gphotos-login-{MEMBER}.service"
CONTROLLER_VENV = EPHEMERAL_DIR / "venv-controller"
CHROMIUM = "/usr/bin/chromium"
SSH_LINE = re.compile(r"^\s*(ssh -N -L \S+ .*\S)\s*$", re.MULTILINE)
NOVNC_URL = re.compile(r"(http://localhost:\d+/vnc\.html\?\S+#password=\w+)")
SIGNED_IN = re.compile(r"signed in as\s+(.+?)\s+<([^>]+)>")

_story: dict = {}


def _member(host):
    return next(m for m in members_of(host) if m.name == MEMBER)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fake_stats() -> dict[str, int]:
    base = (FAKES_DIR / "photos.url").read_text().strip()
    with urllib.request.urlopen(f"{base}/_fake/stats", timeout=10) as answer:
        return json.load(answer)["by_kind"]


def _wait_for(what: str, condition, timeout: float = 60.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Playbook:
    """ansible-playbook in the background, its output read line by line as it comes."""

    def __init__(self, *arguments: str) -> None:
        environment = {
            "HOME": os.environ["HOME"],
            "PATH": f"{CONTROLLER_VENV}/bin:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            # Line by line through the pipe: the address is printed before the long wait.
            "PYTHONUNBUFFERED": "1",
            **{k: v for k, v in os.environ.items() if k.startswith("MOLECULE_")},
        }
        self.process = subprocess.Popen(
            [str(CONTROLLER_VENV / "bin" / "ansible-playbook"), *arguments],
            cwd=PROJECT_DIR,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        def found():
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"the playbook ended early:\n{self.output}")
            return pattern.search(self.output)

        return _wait_for(f"{pattern.pattern} in the playbook's output", found, timeout, 1.0)

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(timeout=10)
        return code


def _session_pids(host) -> set[str]:
    user = _member(host).user
    return set(host.run(f"pgrep -u {user}").stdout.split())


def _listeners(host) -> list[tuple[str, str]]:
    """(local address, process) of every TCP/UDP listener of the session's processes."""
    pids = _session_pids(host)
    found = []
    for line in host.check_output("ss -Hltunp").splitlines():
        fields = line.split()
        owners = set(re.findall(r"pid=(\d+)", line))
        if owners & pids:
            found.append((fields[4], re.findall(r'\(\("([^"]+)"', line)[0]))
    return found


def _type_into_canvas(page: Page, text: str) -> None:
    page.focus("#noVNC_container canvas")
    page.keyboard.type(text, delay=40)
    page.keyboard.press("Enter")


def _sign_in_through_novnc(url: str, email: str) -> None:
    """What a person does in the noVNC page: sign in, wait for the photos, close the browser."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_function(
                "document.documentElement.classList.contains('noVNC_connected')", timeout=30_000
            )
            # The server's browser shows the sign-in page (its /login redirected there).
            _wait_for("the sign-in page", lambda: _fake_stats().get("signin", 0) >= 1, 60)
            before = _fake_stats().get("signin", 0)
            time.sleep(2)  # the page's autofocus on the email field
            _type_into_canvas(page, email)
            _wait_for("the password page", lambda: _fake_stats().get("signin", 0) >= before + 2)
            time.sleep(2)
            pages_before = _fake_stats().get("page", 0)
            _type_into_canvas(page, "any password: the fake takes it")
            _wait_for("the library", lambda: _fake_stats().get("page", 0) > pages_before)
            time.sleep(3)  # the photos show; the cookies are written
            page.focus("#noVNC_container canvas")
            page.keyboard.press("Control+KeyW")
            time.sleep(1)
        finally:
            browser.close()


def test_the_deploy_left_alice_waiting_to_sign_in(host):
    member = _member(host)
    profile = host.file(member.profile_dir)
    assert profile.is_directory and profile.user == member.user and profile.mode == 0o700
    assert not host.file(f"{member.profile_dir}/Local State").exists
    assert host.file(member.cron_file).exists


def test_login_in_check_mode_installs_nothing_and_opens_no_session(host):
    member = _member(host)
    playbook = Playbook(
        "-i",
        str(EPHEMERAL_DIR / "inventory"),
        "playbooks/login.yml",
        "--check",
        "-e",
        f"account={MEMBER}",
    )
    code = playbook.finish(timeout=600)
    assert code == 0, playbook.output
    assert "Check mode: no sign-in session is opened for alice" in " ".join(playbook.output.split())
    assert not host.package("x11vnc").is_installed
    assert not host.run(f"systemctl is-active --quiet {UNIT}").succeeded
    assert host.run(f"pgrep -u {member.user}").stdout.strip() == ""


@pytest.mark.timeout(1800)  # the first session installs Xvfb, x11vnc and noVNC
def test_alice_signs_in_through_novnc_and_the_playbook_names_her_account(host):
    member = _member(host)
    web_port, vnc_port, local_port = _free_port(), _free_port(), _free_port()
    started = time.monotonic()
    playbook = Playbook(
        "-i",
        str(EPHEMERAL_DIR / "inventory"),
        "playbooks/login.yml",
        "-e",
        f"account={MEMBER}",
        "-e",
        f"gphotos_login_web_port={web_port}",
        "-e",
        f"gphotos_login_vnc_port={vnc_port}",
        "-e",
        f"gphotos_login_local_port={local_port}",
        "-e",
        "gphotos_login_time_limit=900",
    )
    tunnel = None
    try:
        ssh_line = playbook.wait_for_output(SSH_LINE, timeout=900).group(1)
        url = playbook.wait_for_output(NOVNC_URL, timeout=60).group(1)
        _story["url"] = url
        assert f"-L {local_port}:127.0.0.1:{web_port}" in ssh_line
        assert url.startswith(f"http://localhost:{local_port}/vnc.html?")

        # Nothing of the session listens beyond the loopback (and the VNC server only there).
        listeners = _listeners(host)
        programs = {program for _, program in listeners}
        assert {"websockify", "x11vnc"} <= programs, listeners
        for address, program in listeners:
            assert address.startswith(("127.0.0.1:", "[::1]:")), (program, address)
        # The one-time password is nowhere in the process list.
        password = url.rsplit("#password=", 1)[1]
        assert password not in host.check_output("ps -eo args")

        # The printed tunnel, exactly as printed (it fails at once if the port is taken).
        command = shlex.split(ssh_line)
        tunnel = subprocess.Popen(
            [command[0], "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", *command[1:]],
            stdin=subprocess.DEVNULL,
        )

        def tunnel_up():
            assert tunnel.poll() is None, "the printed ssh -L line failed"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", local_port)) == 0

        _wait_for("the SSH tunnel", tunnel_up, 30)
        _sign_in_through_novnc(url, member_account(member))

        code = playbook.finish(timeout=300)
    finally:
        if tunnel is not None:
            tunnel.terminate()
            tunnel.wait(timeout=10)
        if playbook.process.poll() is None:
            playbook.process.kill()
    _story["seconds"] = round(time.monotonic() - started)
    output = playbook.output
    assert code == 0, output
    match = SIGNED_IN.search(output)
    assert match, output
    assert match.group(2) == member_account(member), output
    _story["signed_in"] = True


def test_nothing_of_the_session_is_left(host):
    member = _member(host)
    assert not host.run(f"systemctl is-active --quiet {UNIT}").succeeded
    assert host.run(f"pgrep -u {member.user}").stdout.strip() == ""
    for program in ("Xvfb", "x11vnc", "websockify"):
        assert host.run(f"pgrep -x {program}").rc == 1, program
    assert not host.file(f"{member.home}/login-session.password").exists


def test_the_profile_keeps_the_members_ownership_and_private_modes(host):
    if "signed_in" not in _story:
        pytest.skip("the sign-in failed")
    member = _member(host)
    profile = host.file(member.profile_dir)
    assert profile.user == member.user and profile.mode == 0o700
    assert host.file(f"{member.profile_dir}/Local State").exists
    strangers = host.check_output(f"find {member.profile_dir} ! -user {member.user}")
    assert strangers == ""
    readable = host.check_output(f"find {member.profile_dir} -type f -perm /044")
    assert readable == ""


def test_alices_nightly_command_backs_up_her_library(host):
    if "signed_in" not in _story:
        pytest.skip("the sign-in failed")
    member = _member(host)
    (job,) = parse_cron_file(host.file(member.cron_file).content_string)
    since = len(healthchecks_records())
    result = run_as_cron_would(host, job)
    assert result.rc == 0, result.stdout + result.stderr
    kinds = [p["kind"] for p in member_pings(since, member.check_slug)]
    assert "start" in kinds and any(k in ("success", "0") for k in kinds), kinds
    assert_same_files(photos_on_host(host, member.dest), manifest_files(member_account(member)))


def test_the_healthchecks_hint_names_the_login_playbook(host):
    member = _member(host)
    config = host.file(member.config).content_string
    assert f"playbooks/login.yml -e account={MEMBER}" in config


def test_print_the_session_time():
    print(f"login session (playbook start to account printed): {_story.get('seconds', '?')} s")
    assert Path(CHROMIUM).exists()
