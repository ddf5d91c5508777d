"""The run lock (one run per library at a time) and the host-wide job slots.

Both are flock(2) locks, so they vanish with the process however it ends
(kill -9 included) and the util-linux `flock` command sees them too: an
Ansible task can wait for a member's running job with
`flock -w SECONDS LOCKFILE true`.

Lock and slot files are opened with O_NOFOLLOW and O_CLOEXEC (and O_NONBLOCK,
so a FIFO cannot hang the open), then checked to be regular files: the slots
folder is shared by every member's user, so a symbolic link, hard link or FIFO
planted there (or at a lock path) must never make a job create, write or chmod
anything through it. A lock path that is not a plain file is a usage error
naming it; such a slot file is skipped, as if busy (see JobSlots).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from gphotos_collector.errors import LockedError, TemporaryError, UsageError

SLOT_POLL_SECONDS = 1.0
RUN_LOCK_MODE = 0o600
SLOT_MODE_GROUP = 0o660  # a group-shared slots folder (setgid, e.g. 3770): the group opens them
SLOT_MODE_WORLD = 0o644  # a world-writable folder (e.g. 1777): others open them read-only
# Never follow a link at the last component, never inherit into children, never block on a FIFO.
OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class UnsafeLockFileError(UsageError):
    """Something that is not a plain file of its own sits where a lock or slot file goes."""

    def __init__(self, message: str, *, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class SlotsBusyError(TemporaryError):
    """No job slot came free in time: other backups kept every slot of this host."""

    def __init__(
        self, message: str, *, folder: Path, max_jobs: int, waited: float, unsafe: dict[Path, str]
    ) -> None:
        super().__init__(message)
        self.folder = folder
        self.max_jobs = max_jobs
        self.waited = waited
        self.unsafe = dict(unsafe)


def _unsafe(path: Path, what: str, reason: str) -> UnsafeLockFileError:
    fix = "remove or rename that folder" if reason == "is a folder" else f"remove it (`rm {path}`)"
    return UnsafeLockFileError(
        f"the {what} {path} {reason}: refusing to use it (a job locks only a plain file, "
        f"never through a link); {fix}",
        path=path,
        reason=reason,
    )


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder"
    if stat.S_ISFIFO(mode):
        return "is a FIFO"
    return "is not a regular file"


def _open_lock_file(path: Path, mode: int, what: str, fix: str) -> int:
    """An fd of the regular file at `path` (created with `mode` if missing), never via a link.

    UnsafeLockFileError when a symbolic link or anything but a regular file is there.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | OPEN_FLAGS, mode)
    except PermissionError:
        try:
            # Another user made the file (shared slots dir): a read-only fd can still flock.
            fd = os.open(path, os.O_RDONLY | OPEN_FLAGS)
        except OSError as error:
            if error.errno == errno.ELOOP and path.is_symlink():
                raise _unsafe(path, what, "is a symbolic link") from None
            raise UsageError(f"cannot create the {what} {path}: permission denied; {fix}") from None
    except FileNotFoundError:
        raise UsageError(
            f"cannot create the {what} {path}: the folder {path.parent} does not exist"
        ) from None
    except OSError as error:
        # O_NOFOLLOW: a link at the last component fails with ELOOP (dangling or not).
        if error.errno == errno.ELOOP and path.is_symlink():
            raise _unsafe(path, what, "is a symbolic link") from None
        if error.errno == errno.EISDIR:
            raise _unsafe(path, what, "is a folder") from None
        raise UsageError(f"cannot create the {what} {path}: {error.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _unsafe(path, what, _describe(info.st_mode))
    return fd


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class RunLock:
    """An exclusive, non-blocking lock: a second run fails at once with LockedError.

    The file is made 0600. A symbolic link or a non-regular file at the path is
    a UsageError naming it; the pid is written only into a file with no other
    hard link, so the lock never truncates another file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open_lock_file(
            self.path,
            RUN_LOCK_MODE,
            "lock file",
            "give a writable place with --lock FILE (or fix the folder's owner)",
        )
        if not _try_flock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise LockedError(
                f"another run holds the lock {self.path}{who}: this run did nothing; "
                f"the running one carries on"
            )
        if os.fstat(fd).st_nlink == 1:
            with contextlib.suppress(OSError):  # the pid is only a courtesy for the message
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only fd drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="ignore").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class JobSlots:
    """At most `max_jobs` runs at once on this host: one flock per slot file in `folder`.

    The folder is shared by every member's user. In a group-shared folder (the
    role's: setgid and sticky, 3770, group of all members) slot files are made
    0660, so the group opens them; in a world-writable one (1777) they are made
    0644 and other users open them read-only, which is enough to flock. They
    hold nothing.

    A slot file that is a symbolic link, a hard link, a FIFO or anything but a
    plain file is skipped, as if busy: the job never writes or chmods through
    it, the host runs fewer jobs at once (never more), and every other member's
    backup still gets the remaining slots. The name is reported (`on_unsafe`,
    and in the give-up message); when no slot file at all is usable, waiting
    cannot help, and acquire raises UnsafeLockFileError (a UsageError) at once.
    """

    def __init__(
        self,
        folder: Path,
        max_jobs: int,
        *,
        wait_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = SLOT_POLL_SECONDS,
    ) -> None:
        if max_jobs < 1:
            raise UsageError(f"--max-jobs must be at least 1, not {max_jobs}")
        self.folder = folder
        self.max_jobs = max_jobs
        self.wait_seconds = wait_seconds
        self._sleep = sleep
        self._clock = clock
        self._poll = poll_seconds
        self._fd: int | None = None
        self.slot: int | None = None
        self.waited = 0.0
        self.unsafe: dict[Path, str] = {}  # slot files skipped, and why
        self._on_unsafe: Callable[[Path, str], None] | None = None

    def _mode(self) -> int:
        try:
            folder_mode = self.folder.stat().st_mode
        except OSError as error:
            raise UsageError(
                f"the job slots folder {self.folder} cannot be used: {error.strerror}"
            ) from None
        return SLOT_MODE_WORLD if folder_mode & stat.S_IWOTH else SLOT_MODE_GROUP

    def _open_slot(self, path: Path, mode: int) -> int | None:
        """The slot file's fd, or None when it is not a plain file of its own (skipped)."""
        try:
            fd = _open_lock_file(
                path,
                mode,
                "job slot file",
                f"the job slots folder {self.folder} must be writable by every member's user "
                f"(mode 3770 with a group they all share)",
            )
        except UnsafeLockFileError as error:
            self._skip(path, error.reason)
            return None
        info = os.fstat(fd)
        if info.st_nlink != 1:
            os.close(fd)
            self._skip(path, f"has {info.st_nlink} hard links")
            return None
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & mode != mode:
            # Ours, narrowed by the umask: every member's user must still open it.
            with contextlib.suppress(OSError):
                os.fchmod(fd, stat.S_IMODE(info.st_mode) | mode)
        self.unsafe.pop(path, None)
        return fd

    def _skip(self, path: Path, reason: str) -> None:
        known = self.unsafe.get(path) == reason
        self.unsafe[path] = reason
        if not known and self._on_unsafe is not None:
            self._on_unsafe(path, reason)

    def _try_once(self) -> bool:
        mode = self._mode()
        for index in range(self.max_jobs):
            fd = self._open_slot(self.folder / f"slot-{index}.lock", mode)
            if fd is None:
                continue
            if _try_flock(fd):
                self._fd, self.slot = fd, index
                return True
            os.close(fd)
        if len(self.unsafe) >= self.max_jobs:
            raise UsageError(
                f"none of the {self.max_jobs} job slot files in {self.folder} can be used "
                f"safely ({self._unsafe_text()}): remove them; a job never writes through them"
            )
        return False

    def _unsafe_text(self) -> str:
        return "; ".join(f"{path.name} {reason}" for path, reason in sorted(self.unsafe.items()))

    def acquire(
        self,
        on_wait: Callable[[], None] | None = None,
        on_unsafe: Callable[[Path, str], None] | None = None,
    ) -> int:
        """Take a free slot, waiting at most wait_seconds; SlotsBusyError if none frees up.

        `on_wait` is called once when the wait begins, `on_unsafe(path, reason)`
        once per slot file skipped because it is not a plain file.
        """
        if not self.folder.is_dir():
            raise UsageError(f"the job slots folder {self.folder} does not exist")
        self._on_unsafe = on_unsafe
        started = self._clock()
        if self._try_once():
            return self._taken()
        if on_wait is not None:
            on_wait()
        while True:
            elapsed = self._clock() - started
            if elapsed >= self.wait_seconds:
                self.waited = elapsed
                skipped = (
                    f"; slot files skipped as unsafe, remove them: {self._unsafe_text()}"
                    if self.unsafe
                    else ""
                )
                raise SlotsBusyError(
                    f"all {self.max_jobs} job slots in {self.folder} stayed busy for "
                    f"{elapsed:.0f} s (other backups are running on this host): this run did "
                    f"nothing; the next one will try again, or raise --max-jobs{skipped}",
                    folder=self.folder,
                    max_jobs=self.max_jobs,
                    waited=elapsed,
                    unsafe=self.unsafe,
                )
            self._sleep(min(self._poll, self.wait_seconds - elapsed))
            if self._try_once():
                self.waited = self._clock() - started
                return self._taken()

    def _taken(self) -> int:
        if self.slot is None:  # pragma: no cover - _try_once set it
            raise RuntimeError("no slot taken")
        return self.slot

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.slot = None
