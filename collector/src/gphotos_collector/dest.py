"""DEST: checks before a run writes into it, its lock, and the sentences for a disk
that filled up or went read-only under the run.

Nothing outside DEST is ever written: the state folder is refused when a link
stands in its place, and a share that is not mounted is never filled from below.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from gphotos_collector.errors import (
    DestUnwritableError,
    LockedError,
    NotMountedError,
    UsageError,
)
from gphotos_collector.lock import RunLock
from gphotos_collector.state import real_state_dir, state_dir

LOCK_FILE_NAME = "lock"
MIN_FREE_BYTES = 8 * 1024 * 1024
DEST_UNWRITABLE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
WRITE_PROBE_NAME = "write-probe"


def dest_trouble(dest: Path) -> DestUnwritableError | None:
    """DEST's filesystem is read-only or full (then writes fail whatever raised)."""
    try:
        stats = os.statvfs(dest)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return DestUnwritableError(
            f"{dest} is on a read-only filesystem (remounted read-only after a disk error?): "
            "the run stopped and nothing was lost; check the disk (`dmesg`), remount it "
            "read-write, and the next run carries on."
        )
    free = stats.f_bavail * stats.f_frsize
    probe = _write_probe(dest)
    if probe == errno.EROFS:  # ext4's errors=remount-ro shows only here, not in statvfs
        return DestUnwritableError(
            f"{dest} became read-only (a disk error? see `dmesg`): the run stopped and "
            "nothing was lost; check the disk, mount it read-write again, and the next run "
            "carries on."
        )
    if free < MIN_FREE_BYTES or stats.f_favail == 0 or probe in (errno.ENOSPC, errno.EDQUOT):
        return DestUnwritableError(
            f"the disk of {dest} is full ({free / 1e6:.1f} MB free): the run stopped and "
            "nothing was lost; free some space or grow the disk, and the next run carries on "
            "where this one stopped."
        )
    return None


def _write_probe(dest: Path) -> int | None:
    """The errno of creating a small file in DEST's state folder (None: it worked)."""
    folder = state_dir(dest)
    if folder.is_symlink() or not folder.is_dir():
        return None
    probe = folder / WRITE_PROBE_NAME
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as error:
        with contextlib.suppress(OSError):
            probe.unlink()
        return error.errno
    return None


def dest_unwritable(dest: Path, error: OSError) -> DestUnwritableError:
    """The sentence for a write DEST refused (ENOSPC, EDQUOT, EROFS)."""
    found = dest_trouble(dest)
    if found is not None:
        return found
    if error.errno == errno.EROFS:
        return DestUnwritableError(
            f"{dest} refused a write as read-only: the run stopped and nothing was lost; "
            "remount it read-write, and the next run carries on."
        )
    what = "this user's disk quota" if error.errno == errno.EDQUOT else "the disk"
    return DestUnwritableError(
        f"{what} of {dest} is full ({error.strerror}): the run stopped and nothing was lost; "
        "free some space, and the next run carries on where this one stopped."
    )


def prepare_dest(dest: Path) -> None:
    """DEST must be a writable folder (created if only the last part is missing)."""
    if not dest.exists():
        if not dest.parent.is_dir():
            raise UsageError(
                f"--dest {dest}: its parent folder does not exist (is a disk not mounted?)"
            )
        try:
            dest.mkdir(mode=0o750)
        except OSError as error:
            raise UsageError(f"--dest {dest} cannot be created: {error.strerror}") from None
    if not dest.is_dir():
        raise UsageError(f"--dest {dest} is not a folder.")
    if (trouble := dest_trouble(dest)) is not None:
        raise trouble
    if not os.access(dest, os.W_OK | os.X_OK):
        raise UsageError(f"--dest {dest} is not writable by this user: fix its owner or mode.")
    real_state_dir(dest)  # a link planted in its place is refused, never followed


@contextlib.contextmanager
def dest_lock(dest: Path) -> Iterator[None]:
    """Only one sync writes into a DEST at a time."""
    folder = state_dir(dest)
    folder.mkdir(mode=0o700, exist_ok=True)
    lock = RunLock(folder / LOCK_FILE_NAME)
    try:
        lock.acquire()
    except LockedError:
        raise LockedError(f"another sync is writing into {dest}: try again later.") from None
    try:
        yield
    finally:
        lock.release()


def check_mount(dest: Path, mount: Path) -> None:
    """DEST is on a share: refuse to fill the local disk when the share is not mounted."""
    if not dest.resolve().is_relative_to(mount.resolve()):
        raise UsageError(f"--dest {dest} is not inside --require-mount {mount}.")
    if not os.path.ismount(mount):
        raise NotMountedError(
            f"the share {mount} is not mounted, and {dest} is on it: nothing was touched; "
            "mount it (or fix /etc/fstab) and the next run carries on."
        )
