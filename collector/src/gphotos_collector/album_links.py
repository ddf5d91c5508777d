"""Album folders on disk: `DEST/albums/<title>/` holds links to the files under YYYY/MM.

A photo is stored once, under `YYYY/MM/`; an album folder holds a relative symbolic
link per file (and one per sidecar, so an application opening the album folder finds
the caption too). Where the filesystem has no symbolic links (some SMB shares), the
fallback is a hard link: the same file under a second name, no extra space. Only
links the collector makes are ever removed; anything else in the folder stays.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gphotos_collector.placer import numbered, safe_name
from gphotos_collector.sidecars import sidecar_path

ALBUMS_DIR = "albums"
NO_SYMLINK_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


@dataclass
class LinkReport:
    made: int = 0
    removed: int = 0
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old, new) folder names
    deleted: list[str] = field(default_factory=list)  # folders of deleted albums
    hard_links: bool = False  # the filesystem refused symbolic links: hard links instead
    problems: list[str] = field(default_factory=list)


def folder_names(
    titles: dict[str, str], current: dict[str, str | None], taken: Iterable[str] = ()
) -> dict[str, str]:
    """A folder name per album id: its title made safe, unique ignoring case. An album
    whose title still gives its current folder keeps it (renamed albums move)."""
    used = {name.casefold() for name in taken}
    names: dict[str, str] = {}
    for album_id in sorted(titles, key=lambda a: (current.get(a) is None, a)):
        base = safe_name(titles[album_id], album_id)
        folder = current.get(album_id)
        keeps = folder is not None and (folder == base or folder.startswith(f"{base} ("))
        if keeps and folder is not None and folder.casefold() not in used:
            names[album_id] = folder
            used.add(folder.casefold())
            continue
        number = 1
        name = base
        while name.casefold() in used:
            number += 1
            name = f"{base} ({number})"
        names[album_id] = name
        used.add(name.casefold())
    return names


def real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except FileNotFoundError:
        return False


class AlbumFolders:
    """Makes, updates, renames and removes album folders under DEST/albums."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.root = dest / ALBUMS_DIR
        self.report = LinkReport()
        self._ours: set[tuple[int, int]] | None = None  # inodes of DEST's files (hard links)
        self._recorded: list[str] = []
        self.no_links: str | None = None  # neither kind of link works on this filesystem

    def recorded_files(self, paths: list[str]) -> None:
        """Every file the state records: a hard link to one of them is one of ours."""
        self._recorded = paths

    def _ensure_root(self) -> bool:
        with contextlib.suppress(FileExistsError):
            self.root.mkdir()
        if not real_dir(self.root):
            self.report.problems.append(
                f"{self.root} is not a folder (a link?): album folders are not made; move it away"
            )
            return False
        return True

    def rename(self, old: str, new: str) -> str:
        """Move an album's folder to its new name; the name it has after (old if blocked)."""
        source, target = self.root / old, self.root / new
        if old == new:
            return old
        if not real_dir(source):  # nothing to move: the next sync makes the new folder
            return new
        if os.path.lexists(target):
            self.report.problems.append(f"cannot rename album folder {old!r}: {new!r} exists")
            return old
        source.rename(target)
        self.report.renamed.append((old, new))
        return new

    def sync(self, folder: str, files: list[str]) -> None:
        """Make DEST/albums/<folder> hold exactly a link per file (paths relative to DEST)
        and per sidecar beside it; links to other files are removed."""
        if not self._ensure_root():
            return
        here = self.root / folder
        with contextlib.suppress(FileExistsError):
            here.mkdir()
        if not real_dir(here):
            self.report.problems.append(f"{here} is not a folder (a link?): left alone")
            return
        wanted = self._wanted(files)
        for entry in sorted(here.iterdir()):
            name = entry.name
            target = wanted.get(name)
            if target is not None and self._is_link_to(entry, target):
                del wanted[name]
                continue
            if self._is_ours(entry):
                entry.unlink()
                self.report.removed += 1
            elif target is not None:  # something else has the name: leave it
                self.report.problems.append(f"{entry} is in the way of a link: left alone")
                del wanted[name]
        for name, target in sorted(wanted.items()):
            self._make(here / name, target)

    def remove(self, folder: str) -> None:
        """A deleted album: its links go, then the folder if nothing else is in it."""
        here = self.root / folder
        if not real_dir(here):
            return
        for entry in here.iterdir():
            if self._is_ours(entry):
                entry.unlink()
                self.report.removed += 1
        try:
            here.rmdir()
        except OSError:
            self.report.problems.append(f"{here} holds files the collector did not put there")
            return
        self.report.deleted.append(folder)

    # --- one link -------------------------------------------------------------------
    def _wanted(self, files: list[str]) -> dict[str, str]:
        """Link name -> the file it points to (relative to DEST), names made unique."""
        wanted: dict[str, str] = {}
        used: set[str] = set()
        for path in sorted(files):
            base = Path(path).name
            number = 0
            while numbered(base, number).casefold() in used:
                number += 1
            name = numbered(base, number)
            used.add(name.casefold())
            wanted[name] = path
            sidecar = sidecar_path(path)
            if os.path.lexists(self.dest / sidecar):
                wanted[sidecar_path(name)] = sidecar
                used.add(sidecar_path(name).casefold())
        return wanted

    def _relative(self, entry: Path, target: str) -> str:
        return os.path.relpath(self.dest / target, entry.parent)

    def _is_link_to(self, entry: Path, target: str) -> bool:
        try:
            status = entry.lstat()
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(status.st_mode):
            return str(entry.readlink()) == self._relative(entry, target)
        if stat.S_ISREG(status.st_mode):  # a hard link (no symbolic links here)
            try:
                other = (self.dest / target).lstat()
            except FileNotFoundError:
                return False
            return (status.st_dev, status.st_ino) == (other.st_dev, other.st_ino)
        return False

    def _is_ours(self, entry: Path) -> bool:
        """A symbolic link, or a hard link of a file the state records."""
        status = entry.lstat()
        if stat.S_ISLNK(status.st_mode):
            return True
        if not stat.S_ISREG(status.st_mode) or status.st_nlink < 2:
            return False
        if self._ours is None:
            self._ours = set()
            for path in self._recorded:
                for candidate in (path, sidecar_path(path)):
                    with contextlib.suppress(OSError):
                        found = (self.dest / candidate).lstat()
                        self._ours.add((found.st_dev, found.st_ino))
        return (status.st_dev, status.st_ino) in self._ours

    def _make(self, entry: Path, target: str) -> None:
        if self.no_links is not None:
            return
        if not self.report.hard_links:
            try:
                entry.symlink_to(self._relative(entry, target))
                self.report.made += 1
                return
            except OSError as error:
                if error.errno not in NO_SYMLINK_ERRNOS:
                    raise
                self.report.hard_links = True
        source = self.dest / target
        if not stat.S_ISREG(source.lstat().st_mode):  # never link through a planted link
            return
        try:
            os.link(source, entry, follow_symlinks=False)
        except OSError as error:  # no links at all (FAT, exFAT): say so once, copy nothing
            if error.errno not in NO_SYMLINK_ERRNOS:
                raise
            self.no_links = (
                f"{self.root} is on a filesystem without symbolic or hard links "
                f"({error.strerror}): album folders stay empty; the files are under YYYY/MM "
                "and each sidecar names its albums"
            )
            return
        self.report.made += 1
