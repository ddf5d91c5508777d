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
import stat
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gphotos_collector import google_site
from gphotos_collector.state import EDITED, MEDIA, ORIGINAL, PlacedFile

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


def edited_name(original_name: str, edited_download_name: str) -> str:
    """<stem>-edited<ext>: the original's stem, the edited file's own extension."""
    stem, extension = _split_extension(original_name)
    _, edited_extension = _split_extension(edited_download_name)
    return f"{stem}{google_site.EDITED_SUFFIX}{edited_extension or extension}"


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
    """A regular file (never a link) with these bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_size != size:
            return False
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb", closefd=False) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StagedFile:
    """A complete, fsynced file in the temporary folder, waiting for its place."""

    tmp_path: Path
    name: str  # already sanitised
    size: int
    sha256: str
    role: str = MEDIA


class Placer:
    """Turns finished downloads into files in DEST; one per sync."""

    def __init__(self, dest: Path, tmp_dir: Path, is_claimed: Callable[[str], bool]) -> None:
        self.dest = dest
        self.tmp_dir = tmp_dir
        self._is_claimed = is_claimed
        self._reserved: set[str] = set()  # placed, not yet recorded in the state

    # --- stage: from a download to checked temporary files ------------------
    def stage(
        self, item_id: str, download: Path, suggested_name: str, role: str = MEDIA
    ) -> list[StagedFile]:
        """Check a finished download and turn it into staged files (a zip is extracted)."""
        size = download.stat().st_size
        if size == 0:
            raise IncompleteDownload("the download is empty")
        if suggested_name.lower().endswith(".zip") or _starts_like_zip(download):
            return self._stage_zip(item_id, download)
        staged = self.tmp_dir / f"{item_id}.{role}.part"
        download.replace(staged)
        size, sha256 = hash_and_sync(staged)
        return [StagedFile(staged, safe_name(suggested_name, item_id), size, sha256, role)]

    def stage_edited(
        self, item_id: str, edited: Path, edited_download_name: str, original: Path, name: str
    ) -> list[StagedFile]:
        """An edited photo: its original under its own name, the edited one as <stem>-edited."""
        staged = self.stage(item_id, original, name, ORIGINAL)
        try:
            staged += self.stage(item_id, edited, edited_name(name, edited_download_name), EDITED)
        except BaseException:
            self.discard(staged)
            raise
        return staged

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
            os.utime(target, (timestamp, timestamp), follow_symlinks=False)
        return PlacedFile(relative, staged.size, staged.sha256, staged.role)

    def split_edited(
        self,
        recorded: list[PlacedFile],
        original: StagedFile,
        taken: datetime | None,
        record_move: Callable[[str, str], None],
    ) -> PlacedFile:
        """An item backed up by release 0.1 turns out edited: keep its original too.

        Its recorded file (the edited version) gets the name <stem>-edited beside
        it (a hard link first, then the state is told), and the original takes
        the old name, or a free one. Each step can be interrupted and redone.
        """
        done = [f for f in recorded if f.role == EDITED]
        if not done:
            media = [f for f in recorded if f.role == MEDIA]
            if len(media) != 1:  # not a single photo: place the original beside it
                return self.place(original, taken)
            current = media[0]
            folder_rel = current.path.rpartition("/")[0]
            edited_staged = StagedFile(
                self.dest / current.path,
                safe_name(edited_name(original.name, current.path.rpartition("/")[2]), "edited"),
                current.size,
                current.sha256,
                EDITED,
            )
            new_path = self._place_as(edited_staged, edited_staged.name, folder_rel, keep=True)
            _fsync_dir(self.dest / folder_rel)
            record_move(current.path, new_path)
            done = [PlacedFile(new_path, current.size, current.sha256, EDITED)]
        edited_file = self.dest / done[0].path
        folder_rel = done[0].path.rpartition("/")[0]
        old = self.dest / folder_rel / original.name
        old_relative = f"{folder_rel}/{original.name}"
        # The old name, if it is still our own extra link to the edited bytes, is reused.
        if not self._is_claimed(old_relative) and _same_inode(old, edited_file):
            original.tmp_path.replace(old)
            _fsync_dir(old.parent)
            if taken is not None:
                os.utime(old, (taken.timestamp(), taken.timestamp()), follow_symlinks=False)
            return PlacedFile(old_relative, original.size, original.sha256, ORIGINAL)
        return self.place(original, taken)

    def _place_as(
        self, staged: StagedFile, name: str, folder_rel: str, *, keep: bool = False
    ) -> str:
        """Link under name, or name (1), (2)...; the relative path it got.

        keep: the source stays where it is (a second name for a placed file).
        """
        for number in range(MAX_COLLISIONS):
            relative = f"{folder_rel}/{numbered(name, number)}"
            if relative.casefold() in self._reserved or self._is_claimed(relative):
                continue
            target = self.dest / relative
            if self._link(staged.tmp_path, target, keep=keep):
                return relative
            # An unclaimed identical file is ours, from a run killed before it recorded it.
            if _same_content(target, staged.size, staged.sha256):
                if not keep:
                    staged.tmp_path.unlink(missing_ok=True)
                return relative
        raise IncompleteDownload(f"no free name for {name} in {self.dest / folder_rel}")

    def _make_folder(self, folder: Path) -> None:
        """Create DEST/YYYY/MM, one real folder at a time (a link there is never followed);
        a new folder's entry is flushed in its parent too."""
        current = self.dest
        for part in folder.relative_to(self.dest).parts:
            current = current / part
            try:
                current.mkdir()
            except FileExistsError:
                if not stat.S_ISDIR(current.lstat().st_mode):
                    raise OSError(
                        errno.ENOTDIR,
                        "something that is not a folder (a link?) is in the way; the collector "
                        "never writes through links: move it away",
                        str(current),
                    ) from None
            else:
                _fsync_dir(current.parent)

    @staticmethod
    def _link(source: Path, target: Path, *, keep: bool = False) -> bool:
        """Move (keep: link or copy) source to target unless target exists; False if it does."""
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            # No hard links on this filesystem (some NAS mounts): check, then rename.
            if os.path.lexists(target):
                return False
            if keep:
                _copy_exclusive(source, target)
            else:
                source.rename(target)
            return True
        if not keep:
            source.unlink()
        return True

    def release(self, placed: list[PlacedFile]) -> None:
        """The state now records these files: they no longer need a reservation."""
        for file in placed:
            self._reserved.discard(file.path.casefold())

    def discard(self, staged: list[StagedFile]) -> None:
        for file in staged:
            file.tmp_path.unlink(missing_ok=True)


def _same_inode(first: Path, second: Path) -> bool:
    try:
        return first.samefile(second)
    except OSError:
        return False


def _copy_exclusive(source: Path, target: Path) -> None:
    """Copy to a name that must not exist yet, flushed (for filesystems without links)."""
    with open(source, "rb") as reader, open(target, "xb") as writer:
        shutil.copyfileobj(reader, writer, CHUNK)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, target)


def clean_tmp(tmp_dir: Path) -> None:
    """Remove what an interrupted run left in the temporary folder; never follows a link
    (a link in the folder's place is removed itself, not what it points to)."""
    if os.path.lexists(tmp_dir) and not stat.S_ISDIR(tmp_dir.lstat().st_mode):
        tmp_dir.unlink()
    if tmp_dir.exists():
        for child in tmp_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    child.unlink()
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
