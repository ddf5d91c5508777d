"""`verify`: does DEST still hold, byte for byte, every file the state records?

Each recorded file is hashed again (sha256, streamed) and compared with its
row; a file no row claims is listed as unknown (it may be the user's own, so it
is reported, never touched). With repair, every item with a missing or changed
file is marked to be fetched again by the next sync, and a changed file is
first moved aside into the quarantine folder: nothing is ever deleted, and
nothing outside DEST is written. Symbolic links are never followed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gphotos_collector.dest import dest_lock
from gphotos_collector.errors import CollectorError, ExitCode, UsageError
from gphotos_collector.placer import numbered
from gphotos_collector.sidecars import SIDECAR_SUFFIX  # metadata beside a file, not media
from gphotos_collector.state import STATE_DIR_NAME, STATE_FILE_NAME, State, state_dir

CHUNK = 1024 * 1024
QUARANTINE_DIR_NAME = "quarantine"  # under DEST/.gphotos-collector/
# Top-level folders of DEST that hold no media: album links and shared albums.
NOT_MEDIA_FOLDERS = frozenset({STATE_DIR_NAME, "albums", "shared"})
MAX_QUARANTINE_NAMES = 10_000

MISSING = "missing"
CHANGED = "changed"
UNKNOWN = "unknown"


class VerifyFailedError(CollectorError):
    """Recorded files are missing or changed on disk."""

    exit_code = ExitCode.VERIFY_FAILED


@dataclass(frozen=True)
class Problem:
    """One file that is not as the state records it."""

    path: str  # relative to DEST, with / separators
    what: str  # MISSING, CHANGED or UNKNOWN
    item_id: str | None  # None for an unknown file
    detail: str  # for a person: what differs
    size: int | None = None  # bytes on disk, when it is a file

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "item_id": self.item_id,
            "detail": self.detail,
            "size": self.size,
        }


@dataclass(frozen=True)
class Repair:
    """What was done for one item: fetched again next sync, or why not."""

    item_id: str
    refetch: bool
    moved: dict[str, str] = field(default_factory=dict)  # path -> its quarantine path
    note: str = ""


@dataclass
class VerifyReport:
    dest: Path
    checked: int = 0  # recorded files looked at
    bytes: int = 0  # bytes hashed
    missing: list[Problem] = field(default_factory=list)
    changed: list[Problem] = field(default_factory=list)
    unknown: list[Problem] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Unknown files alone do not count: they may be the user's own."""
        return not self.missing and not self.changed

    @property
    def repaired(self) -> int:
        """Items marked to be fetched again."""
        return sum(1 for repair in self.repairs if repair.refetch)

    def as_dict(self) -> dict[str, Any]:
        quarantined = {
            path: target for repair in self.repairs for path, target in repair.moved.items()
        }
        changed = [{**p.as_dict(), "quarantined": quarantined.get(p.path)} for p in self.changed]
        return {
            "dest": str(self.dest),
            "checked": self.checked,
            "bytes": self.bytes,
            "missing": [p.as_dict() for p in self.missing],
            "changed": changed,
            "unknown": [p.as_dict() for p in self.unknown],
            "repaired": self.repaired,
        }


@dataclass(frozen=True)
class _Entry:
    """What the walk found at one path (never followed)."""

    kind: str  # "file", "link" or "other" (a FIFO, a socket, a device)
    size: int


def _walk(dest: Path) -> dict[str, _Entry]:
    """Every non-folder entry under DEST's media folders, by relative path."""
    entries: dict[str, _Entry] = {}
    for folder, dirnames, filenames in os.walk(dest, followlinks=False):
        relative_folder = os.path.relpath(folder, dest)
        prefix = "" if relative_folder == "." else relative_folder.replace(os.sep, "/") + "/"
        if not prefix:
            dirnames[:] = [name for name in dirnames if name not in NOT_MEDIA_FOLDERS]
        # os.walk lists a link to a folder among the folders, and does not enter it.
        for name in [*dirnames, *filenames]:
            try:
                info = (Path(folder) / name).lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                continue
            if stat.S_ISLNK(info.st_mode):
                kind = "link"
            elif stat.S_ISREG(info.st_mode):
                kind = "file"
            else:
                kind = "other"
            entries[prefix + name] = _Entry(kind, info.st_size)
    return entries


def _sha256(path: Path) -> tuple[int, str]:
    """Size and sha256 of a regular file, opened without following a link."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _linked_parent(path: str, entries: dict[str, _Entry]) -> str | None:
    """The first folder on path's way that is a symbolic link (or not a folder)."""
    parts = path.split("/")
    for end in range(1, len(parts)):
        prefix = "/".join(parts[:end])
        if prefix in entries:
            return prefix
    return None


def check(dest: Path, state: State) -> tuple[VerifyReport, dict[str, str]]:
    """Compare DEST with the state; also returns the path to move aside per changed file."""
    report = VerifyReport(dest)
    entries = _walk(dest)
    blocking: dict[str, str] = {}  # changed file -> the entry in its way (itself, or a link)
    recorded = state.recorded_files()
    claimed = set()
    for placed, item_id in recorded:
        claimed.add(placed.path)
        report.checked += 1
        entry = entries.get(placed.path)
        if entry is None:
            parent = _linked_parent(placed.path, entries)
            if parent is None:
                report.missing.append(Problem(placed.path, MISSING, item_id, "not on disk"))
            else:
                what = "a symbolic link" if entries[parent].kind == "link" else "not a folder"
                report.changed.append(
                    Problem(placed.path, CHANGED, item_id, f"{parent}, on its way, is {what}")
                )
                blocking[placed.path] = parent
            continue
        detail = ""
        size: int | None = entry.size
        if entry.kind == "link":
            detail, size = "a symbolic link stands in its place", None
        elif entry.kind == "other":
            detail, size = "not a regular file", None
        elif entry.size != placed.size:
            detail = f"{entry.size} bytes, {placed.size} recorded"
        else:
            try:
                size, digest = _sha256(dest / placed.path)
            except FileNotFoundError:
                report.missing.append(Problem(placed.path, MISSING, item_id, "not on disk"))
                continue
            report.bytes += size
            if size != placed.size:
                detail = f"{size} bytes, {placed.size} recorded"
            elif digest != placed.sha256:
                detail = "its content differs from the recorded sha256"
        if detail:
            report.changed.append(Problem(placed.path, CHANGED, item_id, detail, size))
            blocking[placed.path] = placed.path
    for path in sorted(entries):
        entry = entries[path]
        if entry.kind != "file" or path in claimed or path.lower().endswith(SIDECAR_SUFFIX):
            continue
        report.unknown.append(Problem(path, UNKNOWN, None, "no item claims it", entry.size))
    return report, blocking


def _quarantine_folder(dest: Path, relative_parent: str) -> Path:
    """DEST/.gphotos-collector/quarantine/<parent>, made 0700, never through a link."""
    folder = state_dir(dest)
    for part in [QUARANTINE_DIR_NAME, *[p for p in relative_parent.split("/") if p]]:
        folder = folder / part
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode):
                raise UsageError(
                    f"{folder} is not a plain folder (a link or a file): "
                    "remove it, then run verify --repair again."
                ) from None
    return folder


def move_aside(dest: Path, relative: str) -> str:
    """Rename DEST/relative into the quarantine (a free name); its path relative to DEST."""
    parent, _, name = relative.rpartition("/")
    folder = _quarantine_folder(dest, parent)
    for number in range(MAX_QUARANTINE_NAMES):
        target = folder / numbered(name, number)
        if os.path.lexists(target):
            continue
        try:
            (dest / relative).rename(target)
        except OSError as error:
            if error.errno == errno.EXDEV:
                raise UsageError(
                    f"cannot move {dest / relative} aside into {folder}: another filesystem "
                    "is mounted in between. Nothing was repaired for it."
                ) from None
            raise
        return target.relative_to(dest).as_posix()
    raise UsageError(f"{folder} holds too many copies of {name}: empty the quarantine.")


def repair_problems(
    dest: Path, state: State, report: VerifyReport, blocking: dict[str, str]
) -> None:
    """Move changed files aside and mark their items to be fetched again by the next sync."""
    deleted = state.deleted_on_google_ids()
    by_item: dict[str, list[Problem]] = {}
    for problem in [*report.missing, *report.changed]:
        assert problem.item_id is not None
        by_item.setdefault(problem.item_id, []).append(problem)
    moved_entries: dict[str, str] = {}
    for item_id in sorted(by_item):
        if item_id in deleted:
            report.repairs.append(
                Repair(item_id, False, note="deleted on Google: it cannot be fetched again")
            )
            continue
        moved: dict[str, str] = {}
        for problem in by_item[item_id]:
            entry = blocking.get(problem.path)
            if entry is None:
                continue
            if entry not in moved_entries:
                moved_entries[entry] = move_aside(dest, entry)
            moved[problem.path] = moved_entries[entry]
        state.forget_files(item_id)
        report.repairs.append(Repair(item_id, True, moved))


def verify(dest: Path, *, repair: bool = False) -> VerifyReport:
    """Check DEST against its state, under the sync lock; with repair, repair it."""
    path = state_dir(dest) / STATE_FILE_NAME
    if not path.is_file():
        raise UsageError(f"{dest} holds no backup yet (no {path}): run `gphotos-collector sync`.")
    with dest_lock(dest):
        state = State(path)
        try:
            report, blocking = check(dest, state)
            if repair:
                repair_problems(dest, state, report, blocking)
        finally:
            state.close()
    return report
