"""What every trial shares: a small fake library, real collector processes, the audit."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gphotos_collector.sidecars import SIDECAR_SUFFIX  # metadata beside a file, not media

from fakes.photos import FakePhotos

CHROMIUM = os.environ.get("GPHOTOS_TEST_BROWSER", "/usr/bin/chromium")
ACCOUNT = "alice@example.com"
SCALE = 0.02  # small media: the trials are about what survives, not about speed
STATE_DIR = ".gphotos-collector"
NOT_ITEMS = ("albums", "shared")  # album folders (links) and others' items: not the library
TEMPORARY_SUFFIXES = (".part", ".crdownload", ".tmp")


@dataclass
class TrialResult:
    """One row of the table."""

    name: str
    what: str
    passes_when: str
    measured: str = ""
    passed: bool = False
    seconds: float = 0.0


@dataclass
class Run:
    """A finished collector process: exit code, JSON-line events, stderr."""

    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    @property
    def summary(self) -> dict[str, Any]:
        found = self.named("summary")
        return found[-1] if found else {}

    @property
    def message(self) -> str:
        """What a person reads: stderr's last line, else the run-end message."""
        ends = self.named("run-end")
        if ends:
            return str(ends[-1].get("message", ""))
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def collector(*args: str) -> list[str]:
    return [sys.executable, "-m", "gphotos_collector", *args]


def sync_args(fake: FakePhotos, profile: Path, dest: Path, *extra: str) -> list[str]:
    return [
        "sync",
        "--profile",
        str(profile),
        "--dest",
        str(dest),
        "--base-url",
        fake.base_url,
        "--browser",
        CHROMIUM,
        "--stall-timeout",
        "4",
        "--workers",
        "2",
        *extra,
    ]


def run(args: list[str], timeout: float = 600, env: dict[str, str] | None = None) -> Run:
    """Run the collector as a real process (stdout a pipe: JSON lines)."""
    started = time.monotonic()
    completed = subprocess.run(
        collector(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(
        completed.returncode,
        completed.stdout,
        completed.stderr,
        round(time.monotonic() - started, 1),
    )


class Background:
    """A collector process whose events are read as they come, to act mid-run."""

    def __init__(self, args: list[str]) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            collector(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a kill takes Chrome too
        )
        self.lines: list[str] = []

    def wait_for(self, event: str, count: int = 1, timeout: float = 300) -> bool:
        """Read events until `count` of `event` came; False if the process ended first."""
        assert self.process.stdout is not None
        seen = sum(1 for line in self.lines if f'"event": "{event}"' in line)
        deadline = time.monotonic() + timeout
        while seen < count and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                return False
            self.lines.append(line)
            if f'"event": "{event}"' in line:
                seen += 1
        return seen >= count

    def kill(self) -> None:
        """kill -9 the collector and its browser, as a power cut would."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 600) -> Run:
        out, err = self.process.communicate(timeout=timeout)
        return Run(
            self.process.returncode,
            "".join(self.lines) + out,
            err,
            round(time.monotonic() - self.started, 1),
        )


@contextmanager
def library(
    workdir: Path, items: int, seed: int, scale: float = SCALE, **fake_options: Any
) -> Iterator[FakePhotos]:
    """A fake Google Photos with one account, and its signed-in profile in workdir/profile."""
    with FakePhotos(
        items=items, seed=seed, accounts=[ACCOUNT], media_scale=scale, **fake_options
    ) as fake:
        fake.make_profile(workdir / "profile")
        yield fake


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def expected_files(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(YYYY/MM folder, sha256) of every file a complete backup holds."""
    wanted = []
    for item in manifest["accounts"][ACCOUNT]["items"]:
        if item["state"] != "ok" or not item["files"]:
            continue
        taken = datetime.fromisoformat(item["taken"])
        folder = f"{taken.year:04d}/{taken.month:02d}"
        files = list(item["files"])
        if item.get("edited") and item.get("original"):
            files.append(item["original"])
        wanted += [(folder, f["sha256"]) for f in files]
    return wanted


@dataclass
class Audit:
    """DEST against the fake's manifest."""

    lost: int = 0  # expected files not in DEST
    partial: int = 0  # files in DEST that are no complete expected file
    duplicate: int = 0  # expected files present more than once
    temporary: int = 0  # leftovers in the scratch folders or *.part files
    unrecorded: int = 0  # complete files the state does not name
    state_ok: bool = True  # every file the state names is on disk, complete
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.partial or self.duplicate or self.temporary) and self.state_ok

    def __str__(self) -> str:
        return (
            f"{self.lost} lost, {self.partial} partial, {self.duplicate} duplicate, "
            f"{self.temporary} temporary"
        )


def audit(dest: Path, manifest: dict[str, Any], *, complete: bool = True) -> Audit:
    """complete=False: a run was cut short, only what is there is judged (nothing partial)."""
    result = Audit()
    found: Counter[tuple[str, str]] = Counter()
    for path in dest.rglob("*"):
        relative = path.relative_to(dest)
        if STATE_DIR in relative.parts or path.is_symlink() or not path.is_file():
            continue
        if relative.parts[0] in NOT_ITEMS or path.name.endswith(SIDECAR_SUFFIX):
            continue  # album folders' links, and the sidecars beside the files
        if path.name.endswith(TEMPORARY_SUFFIXES):
            result.temporary += 1
            result.problems.append(f"temporary file {relative}")
            continue
        found[(str(relative.parent), sha256(path))] += 1
    wanted = Counter(expected_files(manifest))
    for key, count in found.items():
        if key not in wanted:
            result.partial += count
            result.problems.append(f"unexpected or partial file in {key[0]}")
        elif count > wanted[key]:
            result.duplicate += count - wanted[key]
            result.problems.append(f"duplicate in {key[0]}")
    if complete:
        for key, count in wanted.items():
            if found[key] < count:
                result.lost += count - found[key]
                result.problems.append(f"missing in {key[0]}")
    for scratch in ("tmp", "downloads"):
        folder = dest / STATE_DIR / scratch
        if folder.is_dir():
            leftovers = list(folder.iterdir())
            result.temporary += len(leftovers)
    state = dest / STATE_DIR / "state.sqlite3"
    if state.is_file():
        import sqlite3

        db = sqlite3.connect(state)  # a hot journal is rolled back, as the next run would
        try:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                result.state_ok = False
                result.problems.append("the state file is damaged")
            for relative, size, digest in db.execute("SELECT path, size, sha256 FROM files"):
                path = dest / relative
                if not path.is_file() or path.stat().st_size != size or sha256(path) != digest:
                    result.state_ok = False
                    result.problems.append(f"the state names {relative}, not complete on disk")
        finally:
            db.close()
    return result


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under folder (links not followed): mode, size, and content hash."""
    entries: dict[str, tuple[int, int, str]] = {}
    for path in [folder, *folder.rglob("*")]:
        status = path.lstat()
        digest = sha256(path) if path.is_file() and not path.is_symlink() else ""
        entries[str(path.relative_to(folder))] = (status.st_mode, status.st_size, digest)
    return entries


def mounted(path: Path) -> bool:
    return os.path.ismount(path)


def sh(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=True)


def is_root() -> bool:
    return os.geteuid() == 0
