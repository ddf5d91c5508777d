"""The run lock (one run per library at a time) and the host-wide job slots.

Both are flock(2) locks, so they vanish with the process however it ends
(kill -9 included) and the util-linux `flock` command sees them too: an
Ansible task can wait for a member's running job with
`flock -w SECONDS LOCKFILE true`.
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


def _open_lock_file(path: Path, mode: int, what: str) -> int:
    flags = os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | os.O_RDWR, mode)
    except PermissionError:
        try:
            # Another user made the file (shared slots dir): a read-only fd can still flock.
            return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            pass
        raise UsageError(
            f"cannot create the {what} {path}: permission denied; "
            f"give a writable place with --lock FILE (or fix the folder's owner)"
        ) from None
    except FileNotFoundError:
        raise UsageError(
            f"cannot create the {what} {path}: the folder {path.parent} does not exist"
        ) from None
    except OSError as error:
        raise UsageError(f"cannot create the {what} {path}: {error.strerror}") from None


def _share(fd: int) -> None:
    """Slot files must stay openable by every member's user, whatever our umask."""
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o044 != 0o044:
        with contextlib.suppress(OSError):
            os.fchmod(fd, stat.S_IMODE(info.st_mode) | 0o444)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class RunLock:
    """An exclusive, non-blocking lock: a second run fails at once with LockedError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open_lock_file(self.path, 0o600, "lock file")
        if not _try_flock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise LockedError(
                f"another run holds the lock {self.path}{who}: this run did nothing; "
                f"the running one carries on"
            )
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

    The folder is shared by every member's user, so slot files are made 0644:
    anyone may open them to flock, and they hold nothing. The role creates the
    folder writable by all members (for example 1777, or 2770 with a shared group).
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

    def _try_once(self) -> bool:
        for index in range(self.max_jobs):
            fd = _open_lock_file(self.folder / f"slot-{index}.lock", 0o644, "job slot file")
            _share(fd)
            if _try_flock(fd):
                self._fd, self.slot = fd, index
                return True
            os.close(fd)
        return False

    def acquire(self, on_wait: Callable[[], None] | None = None) -> int:
        """Take a free slot, waiting at most wait_seconds; TemporaryError if none frees up."""
        if not self.folder.is_dir():
            raise UsageError(f"the job slots folder {self.folder} does not exist")
        started = self._clock()
        if self._try_once():
            return self.slot  # type: ignore[return-value]
        if on_wait is not None:
            on_wait()
        while True:
            elapsed = self._clock() - started
            if elapsed >= self.wait_seconds:
                self.waited = elapsed
                raise TemporaryError(
                    f"all {self.max_jobs} job slots in {self.folder} stayed busy for "
                    f"{elapsed:.0f} s (other backups are running on this host): this run did "
                    f"nothing; the next one will try again, or raise --max-jobs"
                )
            self._sleep(min(self._poll, self.wait_seconds - elapsed))
            if self._try_once():
                self.waited = self._clock() - started
                return self.slot  # type: ignore[return-value]

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.slot = None
