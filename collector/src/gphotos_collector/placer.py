"""Place stage: a finished download becomes complete files under DEST/YYYY/MM/.

Every file is written under a temporary name on DEST's filesystem, checked,
fsynced, then linked into place under a name that never overwrites a different
file. Names from the server are sanitised: they are data, never paths.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gphotos_collector.state import PlacedFile

CHUNK = 1024 * 1024
MAX_NAME_BYTES = 200  # leaves room for " (n)" under the usual 255-byte limit
# Some filesystems allow less (eCryptfs home folders: 143 bytes): retried with this.
SHORT_NAME_BYTES = 100
MAX_EXTENSION_BYTES = 16
MAX_COLLISIONS = 100_000
UNDATED_FOLDER = "undated"
# Characters that are path syntax somewhere (POSIX, Windows, SMB shares of a NAS).
UNSAFE_CHARACTERS = frozenset('/\\<>:"|?*')
# Invisible characters that can disguise a name: every format character (bidi
# overrides and marks, zero-width spaces, BOM) except the joiners that scripts
# and emoji need, and the line and paragraph separators.
REPLACED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
KEPT_FORMAT_CHARACTERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
ZIP_MAGIC = b"PK\x03\x04"


class IncompleteDownload(Exception):
    """The downloaded bytes are not a complete file (empty, or a broken zip)."""


def _starts_like_zip(path: Path) -> bool:
    """A zip by its first bytes (not zipfile.is_zipfile: a JPEG or MP4 may end like one)."""
    with open(path, "rb") as handle:
        return handle.read(len(ZIP_MAGIC)) == ZIP_MAGIC


def safe_name(raw: str, fallback: str) -> str:
    """A file name that is only a name: no separators, no '..', no control characters."""
    name = unicodedata.normalize("NFC", raw)
    cleaned = []
    for character in name:
        if character in UNSAFE_CHARACTERS or (
            unicodedata.category(character) in REPLACED_CATEGORIES
            and character not in KEPT_FORMAT_CHARACTERS
        ):
            cleaned.append("_")
        else:
            cleaned.append(character)
    name = "".join(cleaned).strip().strip(".").strip()
    if not name or set(name) <= {"_", " ", "."}:
        name = fallback
    return _bounded(name)


def _bounded(name: str, limit: int = MAX_NAME_BYTES) -> str:
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, extension = _split_extension(name)
    if len(extension.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, extension = name, ""
    budget = limit - len(extension.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(" .")
    return stem + extension


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + extension


def numbered(name: str, number: int) -> str:
    """IMG_0001.JPG, IMG_0001 (1).JPG, IMG_0001 (2).JPG, ..."""
    if number == 0:
        return name
    stem, extension = _split_extension(name)
    return f"{stem} ({number}){extension}"


def folder_for(taken: datetime | None) -> str:
    if taken is None:
        return UNDATED_FOLDER
    return f"{taken.year:04d}/{taken.month:02d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:  # some network filesystems cannot fsync a directory
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def hash_and_sync(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, flushed to disk."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb+") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(handle.fileno())
    return size, digest.hexdigest()


def _same_content(path: Path, size: int, sha256: str) -> bool:
    try:
        if path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256
    except OSError:
        return False


@dataclass(frozen=True)
class StagedFile:
    """A complete, fsynced file in the temporary folder, waiting for its place."""

    tmp_path: Path
    name: str  # already sanitised
    size: int
    sha256: str


class Placer:
    """Turns finished downloads into files in DEST; one per sync."""

    def __init__(self, dest: Path, tmp_dir: Path, is_claimed: Callable[[str], bool]) -> None:
        self.dest = dest
        self.tmp_dir = tmp_dir
        self._is_claimed = is_claimed
        self._reserved: set[str] = set()  # placed, not yet recorded in the state

    # --- stage: from a download to checked temporary files ------------------
    def stage(self, item_id: str, download: Path, suggested_name: str) -> list[StagedFile]:
        """Check a finished download and turn it into staged files (a zip is extracted)."""
        size = download.stat().st_size
        if size == 0:
            raise IncompleteDownload("the download is empty")
        if suggested_name.lower().endswith(".zip") or _starts_like_zip(download):
            return self._stage_zip(item_id, download)
        staged = self.tmp_dir / f"{item_id}.part"
        download.replace(staged)
        size, sha256 = hash_and_sync(staged)
        return [StagedFile(staged, safe_name(suggested_name, item_id), size, sha256)]

    def _stage_zip(self, item_id: str, download: Path) -> list[StagedFile]:
        """A live/motion photo: the still and the video inside one zip."""
        staged: list[StagedFile] = []
        try:
            with zipfile.ZipFile(download) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if not members:
                    raise IncompleteDownload("the zip holds no file")
                for number, member in enumerate(members):
                    target = self.tmp_dir / f"{item_id}.{number}.part"
                    digest = hashlib.sha256()
                    size = 0
                    # Reading to the end makes zipfile check the member's CRC.
                    with archive.open(member) as source, open(target, "wb") as sink:
                        while chunk := source.read(CHUNK):
                            digest.update(chunk)
                            size += len(chunk)
                            sink.write(chunk)
                        sink.flush()
                        os.fsync(sink.fileno())
                    base = member.filename.replace("\\", "/").rsplit("/", 1)[-1]
                    fallback = f"{item_id}-{number}"
                    staged.append(
                        StagedFile(target, safe_name(base, fallback), size, digest.hexdigest())
                    )
        except (zipfile.BadZipFile, EOFError) as error:
            for file in staged:
                file.tmp_path.unlink(missing_ok=True)
            raise IncompleteDownload(f"the zip is broken: {error}") from None
        download.unlink(missing_ok=True)
        return staged

    # --- place: from staged files to their final names ----------------------
    def place(self, staged: StagedFile, taken: datetime | None) -> PlacedFile:
        """Link a staged file into DEST/YYYY/MM under a free (or identical) name."""
        folder_rel = folder_for(taken)
        folder = self.dest / folder_rel
        self._make_folder(folder)
        try:
            relative = self._place_as(staged, staged.name, folder_rel)
        except OSError as error:
            if error.errno != errno.ENAMETOOLONG:
                raise
            # This filesystem allows shorter names than most (eCryptfs, some shares).
            relative = self._place_as(staged, _bounded(staged.name, SHORT_NAME_BYTES), folder_rel)
        target = self.dest / relative
        self._reserved.add(relative.casefold())
        _fsync_dir(folder)
        if taken is not None:
            timestamp = taken.timestamp()
            os.utime(target, (timestamp, timestamp))
        return PlacedFile(relative, staged.size, staged.sha256)

    def _place_as(self, staged: StagedFile, name: str, folder_rel: str) -> str:
        """Link under name, or name (1), (2)...; the relative path it got."""
        for number in range(MAX_COLLISIONS):
            relative = f"{folder_rel}/{numbered(name, number)}"
            if relative.casefold() in self._reserved or self._is_claimed(relative):
                continue
            target = self.dest / relative
            if self._link(staged.tmp_path, target):
                return relative
            # An unclaimed identical file is ours, from a run killed before it recorded it.
            if _same_content(target, staged.size, staged.sha256):
                staged.tmp_path.unlink(missing_ok=True)
                return relative
        raise IncompleteDownload(f"no free name for {name} in {self.dest / folder_rel}")

    def _make_folder(self, folder: Path) -> None:
        """Create DEST/YYYY/MM; a new folder's entry is flushed in its parent too."""
        if folder.is_dir():
            return
        missing = []
        current = folder
        while not current.exists() and current != self.dest:
            missing.append(current)
            current = current.parent
        folder.mkdir(parents=True, exist_ok=True)
        for created in missing:
            _fsync_dir(created.parent)

    @staticmethod
    def _link(source: Path, target: Path) -> bool:
        """Move source to target unless target exists; False if it exists."""
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            # No hard links on this filesystem (some NAS mounts): check, then rename.
            if target.exists():
                return False
            source.rename(target)
            return True
        source.unlink()
        return True

    def release(self, placed: list[PlacedFile]) -> None:
        """The state now records these files: they no longer need a reservation."""
        for file in placed:
            self._reserved.discard(file.path.casefold())

    def discard(self, staged: list[StagedFile]) -> None:
        for file in staged:
            file.tmp_path.unlink(missing_ok=True)


def clean_tmp(tmp_dir: Path) -> None:
    """Remove what an interrupted run left in the temporary folder."""
    if tmp_dir.exists():
        for child in tmp_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    child.unlink()
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
