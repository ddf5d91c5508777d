"""Real test hosts: booted with systemd-nspawn, reached over SSH, removed cleanly after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import testhosts
from testhosts.apt_sources import sources_for_suite
from testhosts.shared_cache import APT_ARCHIVES

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def state_dir(tmp_path):
    state = tmp_path / "state"
    yield state
    testhosts.down(state)


def test_a_host_boots_answers_ssh_on_its_own_loopback_port_and_is_a_minimal_server(state_dir):
    inventory = state_dir.parent / "inventory.ini"
    (host,) = testhosts.up(state_dir, name="probe", count=1, inventory=inventory)

    result = host.run("hostname; systemctl is-system-running; ss -Hltn; cat /etc/machine-id")
    hostname, system_state, *listening, machine_id = result.stdout.split("\n")[:-1]
    assert result.returncode == 0, result.stderr
    assert hostname == "probe-1"
    assert system_state in ("running", "degraded")
    ssh_sockets = [line.split()[3] for line in listening if f":{host.port}" in line]
    assert ssh_sockets == [f"127.0.0.1:{host.port}"]
    assert machine_id != Path("/etc/machine-id").read_text().strip()

    apt_sources = host.run("cat /etc/apt/sources.list.d/*.sources; ls /etc/apt/sources.list")
    expected_uris = {uri for s in sources_for_suite("bookworm") for uri in s.uris}
    uri_lines = [line for line in apt_sources.stdout.splitlines() if line.startswith("URIs:")]
    assert {line.split()[1] for line in uri_lines} == expected_uris
    assert "No such file" in apt_sources.stderr  # debootstrap's one-line source is gone

    # what the project's roles must install is not there beforehand
    for package in ("chromium", "python3-venv", "logrotate"):
        status = host.run(f"dpkg-query -W -f='${{Status}}' {package}").stdout
        assert status != "install ok installed", package

    text = inventory.read_text()
    assert f"probe-1 ansible_host=127.0.0.1 ansible_port={host.port} ansible_user=root" in text
    ping = subprocess.run(
        [".venv/bin/ansible", "-i", str(inventory), "probe-1", "-m", "ansible.builtin.ping"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_each_host_runs_its_own_debian_release_and_ssh_refuses_a_key_not_generated_for_it(
    state_dir,
):
    first, second = testhosts.up(state_dir, name="keys", count=2, suites=["bookworm", "trixie"])
    for host, suite in ((first, "bookworm"), (second, "trixie")):
        assert host.suite == suite
        release = host.run(
            ". /etc/os-release && echo $VERSION_CODENAME; grep ^Suites: "
            "/etc/apt/sources.list.d/debian.sources"
        )
        codename, *suites_lines = release.stdout.splitlines()
        assert codename == suite, release
        assert suites_lines and all(f" {suite}" in line for line in suites_lines), release
    assert first.run("true").returncode == 0
    # second's known_hosts entry, pointed at first's port: a stale host on a reused port
    second_entry = Path(second.known_hosts).read_text()
    Path(first.known_hosts).write_text(
        second_entry.replace(f"]:{second.port} ", f"]:{first.port} ")
    )
    refused = first.run("true")
    assert refused.returncode == 255
    assert "HOST IDENTIFICATION HAS CHANGED" in refused.stderr, refused.stderr


def test_up_after_a_crash_replaces_the_leftovers_and_down_removes_everything(state_dir):
    (crashed,) = testhosts.up(state_dir, name="crash", count=1)
    nspawn_pid = crashed.nspawn_pid()
    assert nspawn_pid is not None
    # packages a host downloads are kept for the next hosts
    download = crashed.run("apt-get update -q && apt-get install -y -q --download-only hello")
    assert download.returncode == 0, download.stdout + download.stderr
    downloaded = {p.name for p in (crashed.root / APT_ARCHIVES).glob("hello_*.deb")}
    assert downloaded

    # the previous run dies hard: nspawn killed, its container left running without it
    os.kill(nspawn_pid, signal.SIGKILL)
    time.sleep(0.5)
    orphans = crashed.processes_inside()
    assert orphans, "a killed nspawn leaves the container's processes running"
    crashed.pid_file.write_text(f"{os.getpid()}\n")  # a stale pid file naming some other process

    (fresh,) = testhosts.up(state_dir, name="crash", count=1)
    assert not [pid for pid in orphans if _alive(pid)]
    assert _alive(os.getpid())
    assert fresh.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")

    root = fresh.root
    testhosts.down(state_dir)
    assert not root.exists()
    assert not (state_dir / "inventory.ini").exists()
    assert testhosts.hosts_in(state_dir) == []
    store = testhosts.DEFAULT_CACHE_DIR / "apt-archives"
    assert downloaded <= {p.name for p in store.glob("hello_*.deb")}


@pytest.mark.parametrize(
    ("suites", "count", "message"),
    [
        (["bookworm", "trixie"], 3, "2 suites for 3 hosts"),
        (["Trixie"], 1, "Debian codename"),
    ],
)
def test_suites_that_do_not_fit_the_hosts_are_refused_before_anything_starts(
    tmp_path, suites, count, message
):
    with pytest.raises(testhosts.TestHostError, match=message):
        testhosts.up(tmp_path / "state", name="bad", count=count, suites=suites)
    assert not (tmp_path / "state" / "hosts").exists()


def test_where_overlayfs_is_refused_the_root_is_a_copy_and_still_boots(state_dir, monkeypatch):
    monkeypatch.setattr(testhosts.TestHost, "_mount_overlay", lambda self, base, cache: False)
    (host,) = testhosts.up(state_dir, name="copied", count=1)
    assert host.lower == ""
    assert not host.upper_dir.exists()
    assert (host.root / "etc/os-release").is_file()
    assert host.run("hostname").stdout.strip() == "copied-1"
    testhosts.down(state_dir)
    assert not Path(host.host_dir).exists()
