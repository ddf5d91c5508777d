"""One test host: a copy of the base tree, booted by systemd-nspawn, reached by SSH on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from testhosts import machine_config, shared_cache
from testhosts.errors import TestHostError

SSHD_DROP_IN = "etc/ssh/sshd_config.d/testhost.conf"
RECORD_NAME = "host.json"
STOP_GRACE_SECONDS = 30.0
ACCEPTED_SYSTEM_STATES = ("running", "degraded")


@dataclass
class TestHost:
    """Where a host lives on this machine and how to reach it."""

    __test__ = False  # not a pytest test class, despite the name

    name: str  # the inventory name and hostname
    machine: str  # systemd-nspawn's machine name, unique on this machine
    port: int
    host_dir: str
    key_file: str  # the private key that root's authorized_keys accepts
    known_hosts: str  # this host's own generated host key, so SSH is checked strictly
    lower: str = ""  # the base tree under the overlay root; empty when the root is a copy
    suite: str = "bookworm"  # the Debian release it runs (older records lack it: bookworm)

    @property
    def root(self) -> Path:
        return Path(self.host_dir) / "root"

    @property
    def upper_dir(self) -> Path:
        """Where an overlay root keeps this host's own changes."""
        return Path(self.host_dir) / "upper"

    @property
    def pid_file(self) -> Path:
        return Path(self.host_dir) / "nspawn.pid"

    @property
    def console_log(self) -> Path:
        return Path(self.host_dir) / "console.log"

    def ssh_options(self) -> list[str]:
        return [
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-i", self.key_file,
            "-p", str(self.port),
        ]  # fmt: skip

    def ssh_command(self, *remote: str, options: tuple[str, ...] = ()) -> list[str]:
        return ["ssh", *self.ssh_options(), *options, "root@127.0.0.1", *remote]

    def ssh_command_line(self) -> str:
        return shlex.join(self.ssh_command())

    def run(self, command: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the host as root over SSH."""
        return subprocess.run(
            self.ssh_command(command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def save(self) -> None:
        record = Path(self.host_dir) / RECORD_NAME
        record.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, host_dir: Path) -> TestHost:
        return cls(**json.loads((host_dir / RECORD_NAME).read_text()))

    # -- processes --------------------------------------------------------------------------

    def nspawn_pid(self) -> int | None:
        """The pid of this host's systemd-nspawn if it is running (a stale pid file gives None)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _is_nspawn_of(pid, self.root):
            return pid
        return None

    def processes_inside(self) -> list[int]:
        """Pids whose root directory is this host's tree (the container, even without nspawn)."""
        try:
            root = self.root.stat()
        except OSError:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                # readlink shows "/" after nspawn's pivot_root; the inode does not lie
                seen = (entry / "root").stat()
            except OSError:
                continue
            if (seen.st_dev, seen.st_ino) == (root.st_dev, root.st_ino):
                pids.append(int(entry.name))
        return pids

    def is_running(self) -> bool:
        return self.nspawn_pid() is not None

    # -- lifecycle --------------------------------------------------------------------------

    def prepare_root(self, base_tree: Path, cache_dir: Path, public_key: str) -> None:
        """Make the host's root from its suite's base tree, with its own identity, SSH and apt
        settings.

        The root is an overlay on the base tree (instant) where the kernel allows it, else a
        copy (seconds: 270 MB).
        """
        Path(self.host_dir).mkdir(parents=True, exist_ok=True)
        if self._mount_overlay(base_tree, cache_dir):
            self.lower = str(base_tree)
            self._configure(self.root, public_key)
            return
        partial = Path(self.host_dir) / "root.partial"
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(base_tree), str(partial)], check=True)
        shared_cache.seed_host(partial, cache_dir)
        self._configure(partial, public_key)
        partial.rename(self.root)

    def _mount_overlay(self, base_tree: Path, cache_dir: Path) -> bool:
        work = Path(self.host_dir) / "work"
        for directory in (self.upper_dir, work, self.root):
            directory.mkdir(exist_ok=True)
        # seeded before mounting, into the upper layer: hard links need the cache's filesystem
        shared_cache.seed_host(self.upper_dir, cache_dir, like=base_tree)
        options = f"lowerdir={base_tree},upperdir={self.upper_dir},workdir={work}"
        mounted = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(self.root)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode == 0:
            return True
        for directory in (self.upper_dir, work, self.root):
            shutil.rmtree(directory, ignore_errors=True)
        return False

    def _configure(self, root: Path, public_key: str) -> None:
        (root / "etc/hostname").write_text(f"{self.name}\n")
        (root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.name}\n"
            "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
        )
        (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        subprocess.run(
            ["ssh-keygen", "-q", "-A", "-f", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (root / SSHD_DROP_IN).write_text(
            "# test host: its own loopback port, key-only root login\n"
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        )
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(public_key)
        (ssh_dir / "authorized_keys").chmod(0o600)
        host_key = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]
        Path(self.known_hosts).write_text(f"[127.0.0.1]:{self.port} {' '.join(host_key)}\n")
        machine_config.apply_machine_config(root, self.suite)

    def boot(self) -> int:
        """Start systemd-nspawn in the background (its own session, so it outlives us)."""
        with open(self.console_log, "ab") as console:
            process = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "--quiet",
                    f"--directory={self.root}",
                    "--register=no",
                    "--keep-unit",
                    "--boot",
                    f"--machine={self.machine}",
                    "--console=read-only",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        # /proc/PID/cmdline is briefly empty while exec finishes; later checks rely on it
        deadline = time.monotonic() + 5.0
        while not _is_nspawn_of(process.pid, self.root) and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            time.sleep(0.02)
        return process.pid

    def wait_until_ready(self, timeout: float = 90.0) -> str:
        """Wait until SSH answers with this host's key and systemd finished booting.

        Returns systemd's state (running, or degraded with the failed units listed).
        """
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if not self.is_running():
                raise TestHostError(
                    f"test host {self.name}: systemd-nspawn exited while booting; "
                    f"see {self.console_log}"
                )
            remaining = max(5.0, deadline - time.monotonic())
            try:
                result = subprocess.run(
                    self.ssh_command(
                        "systemctl is-system-running --wait", options=("-o", "ConnectTimeout=3")
                    ),
                    capture_output=True,
                    text=True,
                    timeout=remaining,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                last_error = "systemctl is-system-running --wait did not return"
                continue
            state = result.stdout.strip()
            if result.returncode == 255:  # ssh itself failed: not listening yet
                last_error = result.stderr.strip()
                time.sleep(0.3)
                continue
            if state in ACCEPTED_SYSTEM_STATES:
                if state == "degraded":
                    failed = self.run("systemctl --failed --no-legend --plain").stdout.split()
                    return f"degraded (failed: {' '.join(u for u in failed if '.' in u)})"
                return state
            last_error = f"systemd state {state!r}"
            time.sleep(0.5)
        raise TestHostError(
            f"test host {self.name} did not answer on 127.0.0.1:{self.port} within {timeout:.0f} s "
            f"({last_error}); see {self.console_log}"
        )

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Shut the host down: SIGTERM to nspawn (a clean poweroff), then kill what is left."""
        pid = self.nspawn_pid()
        if pid is not None:
            _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _is_nspawn_of(pid, self.root):
                time.sleep(0.2)
            if _is_nspawn_of(pid, self.root):
                _signal(pid, signal.SIGKILL)
        # a container whose nspawn died (crash, SIGKILL) keeps running on its own: end it too
        for _ in range(50):
            inside = self.processes_inside()
            if not inside:
                break
            for leftover in inside:
                _signal(leftover, signal.SIGKILL)
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    def remove(self, cache_dir: Path | None) -> None:
        """Stop the host, keep its downloads for the next hosts, and delete its directory."""
        self.stop()
        host_dir = Path(self.host_dir)
        for mount_point in reversed(_mounts_under(host_dir)):
            subprocess.run(["umount", mount_point], check=False, capture_output=True)
        own_changes = self.upper_dir if self.upper_dir.is_dir() else self.root
        if cache_dir is not None and own_changes.is_dir():
            shared_cache.harvest_host(own_changes, cache_dir)
        still_mounted = _mounts_under(host_dir)
        if still_mounted:
            raise TestHostError(
                f"{still_mounted[0]} is still mounted inside test host directory {host_dir}: "
                f"unmount it (umount -R {shlex.quote(still_mounted[0])}) and run down again"
            )
        shutil.rmtree(host_dir, ignore_errors=False)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _is_nspawn_of(pid: int, root: Path) -> bool:
    """Is `pid` a systemd-nspawn booting `root`? (guards against a reused pid)"""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not argv or not argv[0].endswith(b"systemd-nspawn"):
        return False
    return f"--directory={root}".encode() in argv


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, outermost first (never delete through a mount)."""
    prefix = str(path.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mount_point = line.split()[1].replace("\\040", " ")
        if (mount_point + "/").startswith(prefix):
            found.append(mount_point)
    return found
