"""The cached Debian tree every test host is copied from, built once with debootstrap.

The cache is keyed by everything that goes into the tree, so changing the package list
builds a new one; a build happens in a temporary directory renamed into place, so an
interrupted build never leaves a tree that looks finished.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testhosts import shared_cache
from testhosts.apt_sources import debian_mirror
from testhosts.errors import TestHostError

DEFAULT_CACHE_DIR = Path(os.environ.get("GPHOTOS_TESTHOSTS_CACHE", "/var/cache/gphotos-testhosts"))
SUITE = "bookworm"
VARIANT = "minbase"
# A minimal server: booted by systemd, reached over SSH, with cron and Python for Ansible.
# What the roles install (browser, python3-venv, logrotate...) is deliberately absent.
INCLUDE = (
    "systemd",
    "systemd-sysv",
    "libpam-systemd",
    "dbus",
    "openssh-server",
    "cron",
    "python3",
    "sudo",
    "iproute2",
    "procps",
    "ca-certificates",
    "tzdata",
)
# Bump when the post-processing below changes, so existing caches are rebuilt.
TREE_FORMAT = 1
BUILD_PREFIX = ".building-"


@dataclass(frozen=True)
class BaseTreeSpec:
    suite: str = SUITE
    variant: str = VARIANT
    include: tuple[str, ...] = INCLUDE

    def key(self) -> str:
        recipe = {
            "suite": self.suite,
            "variant": self.variant,
            "include": sorted(self.include),
            "arch": os.uname().machine,
            "format": TREE_FORMAT,
        }
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
        return f"{self.suite}-{digest[:16]}"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _under_an_overlay(tree: Path) -> bool:
    mounts = Path("/proc/self/mounts").read_text()
    return f"lowerdir={tree}," in mounts or f"lowerdir={tree} " in mounts


def _bases_dir(cache_dir: Path) -> Path:
    return cache_dir / "base"


def cached_tree(spec: BaseTreeSpec, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path | None:
    tree = _bases_dir(cache_dir) / spec.key()
    return tree if (tree / "etc/os-release").is_file() else None


def _debootstrap(spec: BaseTreeSpec, target: Path, log_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise TestHostError(
            "debootstrap is not installed: run `make apt-deps` (or apt-get install debootstrap)"
        )
    mirror = debian_mirror(spec.suite)
    command = [
        "debootstrap",
        f"--variant={spec.variant}",
        f"--include={','.join(spec.include)}",
        spec.suite,
        str(target),
        mirror,
    ]
    with open(log_path, "w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise TestHostError(
            f"debootstrap of {spec.suite} from this machine's mirror failed "
            f"(exit {result.returncode}); full log in {log_path}; last lines:\n{tail}"
        )


def _tidy(tree: Path, cache_dir: Path) -> None:
    """Leave only what every host shares: per-host identity is made when a host is created."""
    shared_cache.harvest_apt_archives(tree, cache_dir)
    for deb in (tree / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (tree / "etc/machine-id").write_text("")
    (tree / "var/lib/dbus/machine-id").unlink(missing_ok=True)


def ensure_base_tree(spec: BaseTreeSpec | None = None, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The cached tree for `spec`, built now if missing. Safe against concurrent callers."""
    spec = spec or BaseTreeSpec()
    found = cached_tree(spec, cache_dir)
    if found:
        return found
    bases = _bases_dir(cache_dir)
    with _locked(bases / ".lock"):
        found = cached_tree(spec, cache_dir)
        if found:
            return found
        for stale in bases.glob(f"{BUILD_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        building = bases / f"{BUILD_PREFIX}{spec.key()}-{os.getpid()}"
        print(
            f"testhosts: building the Debian {spec.suite} base tree with debootstrap "
            "(once per package list, about a minute)",
            file=sys.stderr,
        )
        started = time.monotonic()
        try:
            _debootstrap(spec, building, bases / f"{spec.key()}.log")
            _tidy(building, cache_dir)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        seconds = time.monotonic() - started
        final = bases / spec.key()
        building.rename(final)
        (bases / f"{spec.key()}.json").write_text(
            json.dumps(
                {"include": list(spec.include), "debootstrap_seconds": round(seconds, 1)}, indent=2
            )
            + "\n"
        )
        print(f"testhosts: base tree ready in {seconds:.0f} s: {final}", file=sys.stderr)
        for other in bases.iterdir():
            # this suite's trees of an older package list (other suites' trees stay), unless
            # a running host's overlay still sits on it
            if (
                other.is_dir()
                and other.name != final.name
                and other.name.startswith(f"{spec.suite}-")
                and not _under_an_overlay(other)
            ):
                shutil.rmtree(other, ignore_errors=True)
                for sidecar in (other.with_suffix(".json"), other.with_suffix(".log")):
                    sidecar.unlink(missing_ok=True)
        return final


def base_tree_info(
    spec: BaseTreeSpec | None = None, cache_dir: Path = DEFAULT_CACHE_DIR
) -> dict[str, object]:
    spec = spec or BaseTreeSpec()
    meta = _bases_dir(cache_dir) / f"{spec.key()}.json"
    info: dict[str, object] = {"key": spec.key(), "tree": str(cached_tree(spec, cache_dir) or "")}
    if meta.is_file():
        info.update(json.loads(meta.read_text()))
    return info
