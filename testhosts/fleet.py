"""A set of test hosts sharing one state directory: bring them up, list them, take them down.

State directory layout:
    ssh/id_ed25519[.pub]       the key every host's root accepts
    hosts/<name>/host.json     how to reach the host (TestHost)
    hosts/<name>/root/         its tree;  nspawn.pid, console.log, known_hosts beside it
    inventory.ini              the Ansible inventory (also written where --inventory says)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from testhosts.base_tree import DEFAULT_CACHE_DIR, BaseTreeSpec, ensure_base_tree
from testhosts.errors import TestHostError
from testhosts.host import RECORD_NAME, TestHost
from testhosts.inventory import write_inventory
from testhosts.services import stop_services

HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SUITE_NAME = re.compile(r"^[a-z]+$")
DEFAULT_GROUP = "testhosts"
INVENTORY_NAME = "inventory.ini"
EXTRA_INVENTORIES = "inventories.txt"  # other inventory files written by `up`, removed by `down`


@dataclass
class Timings:
    """Seconds spent by `up`, so runs can be compared (printed by the CLI)."""

    base_tree: float = 0.0  # every suite's tree (seconds only when one had to be built)
    create: float = 0.0  # copy the tree and configure every host
    boot_to_ssh: float = 0.0  # from starting nspawn until SSH and systemd answer, all hosts


def _preflight() -> None:
    if os.geteuid() != 0:
        raise TestHostError(
            "test hosts need root (debootstrap, systemd-nspawn): run as root or with sudo"
        )
    missing = [
        tool
        for tool in ("debootstrap", "systemd-nspawn", "ssh", "ssh-keygen")
        if not shutil.which(tool)
    ]
    if missing:
        raise TestHostError(
            f"missing {', '.join(missing)}: run `make apt-deps` "
            "(debootstrap systemd-container openssh-client openssh-server)"
        )


@contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def _client_key(state_dir: Path) -> tuple[Path, str]:
    ssh_dir = state_dir / "ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ssh_dir / "id_ed25519"
    if not key.is_file() or not key.with_suffix(".pub").is_file():
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "testhosts", "-f", str(key)],
            check=True,
        )
    return key, key.with_suffix(".pub").read_text()


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports nobody listens on now (sockets held until all are picked)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _machine_name(state_dir: Path, name: str) -> str:
    """nspawn's machine name: unique per state directory, so parallel runs never clash."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return f"th-{digest}-{name}"


def hosts_in(state_dir: Path) -> list[TestHost]:
    hosts_dir = state_dir / "hosts"
    if not hosts_dir.is_dir():
        return []
    found = []
    for host_dir in sorted(hosts_dir.iterdir()):
        if (host_dir / RECORD_NAME).is_file():
            found.append(TestHost.load(host_dir))
    return found


def _orphan_dirs(state_dir: Path) -> list[Path]:
    """Host directories without a record (a crash while creating them)."""
    hosts_dir = state_dir / "hosts"
    if not hosts_dir.is_dir():
        return []
    return [d for d in hosts_dir.iterdir() if d.is_dir() and not (d / RECORD_NAME).is_file()]


def _remove_inventories(state_dir: Path) -> None:
    listing = state_dir / EXTRA_INVENTORIES
    if listing.is_file():
        for line in listing.read_text().splitlines():
            if line.strip():
                Path(line.strip()).unlink(missing_ok=True)
        listing.unlink()
    (state_dir / INVENTORY_NAME).unlink(missing_ok=True)


def _down_locked(state_dir: Path, cache_dir: Path) -> list[str]:
    removed = []
    for host in hosts_in(state_dir):
        host.remove(cache_dir)
        removed.append(host.name)
    for orphan in _orphan_dirs(state_dir):
        # a half-made host: if nspawn never started, nothing runs from it
        TestHost(orphan.name, "", 0, str(orphan), "", "").remove(cache_dir)
    _remove_inventories(state_dir)
    return removed


def down(state_dir: Path, cache_dir: Path = DEFAULT_CACHE_DIR) -> list[str]:
    """Stop and delete every host of `state_dir` (also a crashed run's) and stop its services.

    Returns the names of what it stopped.
    """
    if not state_dir.is_dir():
        return []
    with _state_lock(state_dir):
        return _down_locked(state_dir, cache_dir) + stop_services(state_dir)


def up(
    state_dir: Path,
    name: str = "testhost",
    count: int = 1,
    inventory: Path | None = None,
    group: str = DEFAULT_GROUP,
    reuse: bool = False,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    spec: BaseTreeSpec | None = None,
    timings: Timings | None = None,
    suites: Sequence[str] = (),
) -> list[TestHost]:
    """Boot `count` hosts named NAME-1..NAME-N and write their inventory.

    `suites` gives each host its Debian release, in order (one suite: every host; none: the
    spec's suite, bookworm). Hosts left by an earlier run of the same state directory are
    removed first, unless `reuse` is set and exactly the wanted hosts are still up and
    answering.
    """
    if not HOST_NAME.match(name):
        raise TestHostError(
            f"host name {name!r}: use lowercase letters, digits and '-', at most 31 characters"
        )
    if count < 1:
        raise TestHostError(f"--count {count}: ask for at least one host")
    _preflight()
    state_dir = state_dir.resolve()
    timings = timings or Timings()
    spec = spec or BaseTreeSpec()
    wanted = [f"{name}-{index}" for index in range(1, count + 1)]
    host_suites = _suites_per_host(list(suites) or [spec.suite], count)
    with _state_lock(state_dir):
        existing = hosts_in(state_dir)
        if (
            reuse
            and [(h.name, h.suite) for h in existing] == list(zip(wanted, host_suites, strict=True))
            and all(_answers(h) for h in existing)
        ):
            hosts = existing
        else:
            _down_locked(state_dir, cache_dir)
            hosts = _create_and_boot(
                state_dir, list(zip(wanted, host_suites, strict=True)), cache_dir, spec, timings
            )
        write_inventory(state_dir / INVENTORY_NAME, hosts, group)
        if inventory is not None:
            inventory = inventory.resolve()
            write_inventory(inventory, hosts, group)
            listing = state_dir / EXTRA_INVENTORIES
            known = listing.read_text().splitlines() if listing.is_file() else []
            if str(inventory) not in known:
                listing.write_text("\n".join([*known, str(inventory)]) + "\n")
        return hosts


def _suites_per_host(suites: list[str], count: int) -> list[str]:
    for suite in suites:
        if not SUITE_NAME.match(suite):
            raise TestHostError(f"suite {suite!r}: give a Debian codename (bookworm, trixie)")
    if len(suites) == 1:
        return suites * count
    if len(suites) != count:
        raise TestHostError(
            f"{len(suites)} suites for {count} hosts: give one suite for all, or one per host"
        )
    return suites


def _answers(host: TestHost) -> bool:
    if not host.is_running():
        return False
    try:
        return host.run("true", timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _create_and_boot(
    state_dir: Path,
    wanted: list[tuple[str, str]],
    cache_dir: Path,
    spec: BaseTreeSpec,
    timings: Timings,
) -> list[TestHost]:
    started = time.monotonic()
    # one tree per suite, built one after the other (debootstrap is disk and network bound)
    bases = {
        suite: ensure_base_tree(replace(spec, suite=suite), cache_dir)
        for suite in dict.fromkeys(suite for _, suite in wanted)
    }
    timings.base_tree = time.monotonic() - started

    key_file, public_key = _client_key(state_dir)
    ports = _free_ports(len(wanted))
    hosts = []
    started = time.monotonic()
    for (name, suite), port in zip(wanted, ports, strict=True):
        host_dir = state_dir / "hosts" / name
        host = TestHost(
            name=name,
            machine=_machine_name(state_dir, name),
            port=port,
            host_dir=str(host_dir),
            key_file=str(key_file),
            known_hosts=str(host_dir / "known_hosts"),
            suite=suite,
        )
        hosts.append(host)
    # copying trees is kernel time: two at once uses both cores of a small machine
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in pool.map(lambda h: h.prepare_root(bases[h.suite], cache_dir, public_key), hosts):
            pass
    for host in hosts:
        host.save()
    timings.create = time.monotonic() - started

    started = time.monotonic()
    for host in hosts:
        host.boot()
    for host in hosts:
        state = host.wait_until_ready()
        if state != "running":
            print(f"testhosts: {host.name} booted {state}", file=sys.stderr)
    timings.boot_to_ssh = time.monotonic() - started
    return hosts


def running_hosts_on_machine() -> list[TestHost]:
    """Every test host running on this machine, whatever its state directory (for `list`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"systemd-nspawn"):
            continue
        for arg in argv:
            if arg.startswith(b"--directory="):
                host_dir = Path(arg.split(b"=", 1)[1].decode()).parent
                if (host_dir / RECORD_NAME).is_file():
                    found.append(TestHost.load(host_dir))
    return sorted(found, key=lambda h: h.host_dir)
