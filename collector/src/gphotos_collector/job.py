"""The nightly job (`run`): the whole night's work, and the truth about it to Healthchecks.

One run: take the run lock (held by another run: a `/log` ping saying so,
exit 5, nothing else touched); wait for a host-wide job slot if asked to (none
free in time: a `/6` ping saying so, exit 6, nothing else touched); only then
ping `start` with the run's id, so Healthchecks measures the work and not the
wait; run the sync, retrying only transient failures; then ping success with
the summary, or `/<exit code>` with a first line a person can act on and the
tail of the output cut to the server's Ping-Body-Limit. The lock and the slot
are held until that last ping is sent, so the next job's `start` comes after
it. The job's exit code is the sync's, whatever the pings did; pings cost at
most their bounded retries.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import gphotos_collector.sync as sync_stage
from gphotos_collector.albums import describe_albums
from gphotos_collector.dest import dest_trouble
from gphotos_collector.errors import (
    CollectorError,
    DestUnwritableError,
    ExitCode,
    LockedError,
    SignedOutError,
    UsageError,
)
from gphotos_collector.events import (
    EventSink,
    NullSink,
    RedactingSink,
    TailBuffer,
    event_line,
)
from gphotos_collector.healthchecks import (
    DEFAULT_BACKOFF,
    DEFAULT_PING_ATTEMPTS,
    DEFAULT_PING_TIMEOUT,
    PingClient,
    PingEndpoint,
    fit_body,
)
from gphotos_collector.lock import JobSlots, RunLock, SlotsBusyError
from gphotos_collector.state import state_dir
from gphotos_collector.sync import SyncOptions, SyncSummary

SyncFunction = Callable[[SyncOptions, EventSink], SyncSummary]
LOCK_NAME = "run.lock"  # in DEST's state folder, beside the sync's own lock
DEFAULT_ATTEMPTS = 3
DEFAULT_RETRY_DELAY = 60.0  # seconds before the 2nd attempt; doubles after each
DEFAULT_SLOT_WAIT = 4 * 3600.0
# Worth another attempt in the same run; a signed-out profile or bad config never is.
RETRYABLE = frozenset({ExitCode.ITEMS_FAILED, ExitCode.TEMPORARY})
NEVER_RETRIED = frozenset(
    {ExitCode.USAGE, ExitCode.SIGNED_OUT, ExitCode.LOCKED, ExitCode.PAGE_CHANGED}
)
INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C (SIGINT)


@dataclass(frozen=True)
class JobOptions:
    """Everything `run` takes besides the sync's own options."""

    sync: SyncOptions
    ping: PingEndpoint | None = None
    attempts: int = DEFAULT_ATTEMPTS
    retry_delay: float = DEFAULT_RETRY_DELAY
    lock: Path | None = None  # default: DEST/.gphotos-collector/run.lock
    log_file: Path | None = None
    slots_dir: Path | None = None
    max_jobs: int = 1
    slot_wait: float = DEFAULT_SLOT_WAIT
    account_name: str | None = None  # the member's name, for messages a person reads
    refresh_hint: str | None = None  # how to refresh a signed-out profile, in the ping
    ping_timeout: float = DEFAULT_PING_TIMEOUT
    ping_attempts: int = DEFAULT_PING_ATTEMPTS
    ping_backoff: float = DEFAULT_BACKOFF

    def secrets(self) -> dict[str, str]:
        """Each secret and how it may be shown instead."""
        return {} if self.ping is None else self.ping.secrets()


@dataclass
class Outcome:
    exit_code: int
    attempts: int = 0
    summary: SyncSummary | None = None
    error: BaseException | None = None
    detail: str = ""  # traceback of a bug


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    message: str  # the first line of the final ping: what happened, what to do
    rid: str
    pings: list[str] = field(default_factory=list)  # kinds recorded by the server


class JobOutput:
    """Each event as one JSON line, the very same line to stdout, the log file and the tail."""

    def __init__(self, streams: list[IO[str]], tail: TailBuffer) -> None:
        self._streams = streams
        self._tail = tail
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = event_line(event, fields)
        with self._lock:
            for stream in self._streams:
                with contextlib.suppress(OSError):  # a closed stdout must not stop the backup
                    stream.write(line + "\n")
                    stream.flush()
        self._tail.append(line)


def default_lock_path(dest: Path, *, create: bool = True) -> Path | None:
    """The lock lives with the library it protects, in DEST's state folder (made now if
    missing, as the sync would, so that two first runs still exclude each other)."""
    folder = state_dir(dest)
    if folder.is_symlink():  # never followed: nothing is written outside DEST
        raise UsageError(
            f"{folder} is a symbolic link: the collector never writes through links or "
            f"outside DEST; remove it (`rm {folder}`) and run again."
        )
    if create and not folder.is_dir() and dest.parent.is_dir():
        with contextlib.suppress(OSError):  # the sync reports an unusable DEST clearly
            dest.mkdir(mode=0o750, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
    return folder / LOCK_NAME if folder.is_dir() else None


def open_log_file(path: Path) -> IO[str]:
    """The job's log, appended; created 0600, and never left readable by everyone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise UsageError(f"cannot open the log file {path}: {path.parent} does not exist") from None
    except OSError as error:
        raise UsageError(f"cannot open the log file {path}: {error.strerror}") from None
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & stat.S_IRWXO:
        try:
            os.fchmod(fd, mode & ~stat.S_IRWXO)  # the log can name accounts and paths
        except OSError:
            os.close(fd)
            raise UsageError(
                f"the log file {path} is readable by every user (mode {mode:04o}) and this "
                f"user cannot change that: run `chmod o-rwx {path}`"
            ) from None
    return os.fdopen(fd, "a", encoding="utf-8")


def plural(count: int, noun: str) -> str:
    """`1 item`, `2 items`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def human_seconds(seconds: float) -> str:
    """A duration for a person: 45 s, 12 min, 4 h 5 min."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"


class NightlyJob:
    """One run of the job; see the module's docstring for the order of things."""

    def __init__(
        self,
        options: JobOptions,
        *,
        sync: SyncFunction,
        stdout: IO[str],
        sleep: Callable[[float], None],
    ) -> None:
        self.options = options
        self._sync = sync
        self._stdout = stdout
        self._sleep = sleep
        self.rid = str(uuid.uuid4())
        self.host = socket.gethostname()
        self.tail = TailBuffer()
        self.redactor = RedactingSink(NullSink(), options.secrets())
        self.events: EventSink = self.redactor
        self.pinger: PingClient | None = None
        self.recorded: list[str] = []

    # Messages -----------------------------------------------------------------
    def who(self, outcome: Outcome | None = None) -> str:
        """Whose backup this is, for a person: member name and Google account when known."""
        email = ""
        if outcome is not None:
            email = str(getattr(outcome.error, "account", "") or "")
            if not email and outcome.summary is not None:
                email = outcome.summary.account
        name = self.options.account_name or ""
        if name and email and email != name:
            label = f"{name} ({email})"
        else:
            label = name or email or f"the backup of profile {self.options.sync.profile}"
        return f"{label} on {self.host}"

    def refresh_hint(self) -> str:
        if self.options.refresh_hint:
            return self.options.refresh_hint
        profile = self.options.sync.profile
        return (
            f"run `gphotos-collector login --profile DIR` on a desktop to sign in again, "
            f"then copy that profile folder to {profile} on {self.host}"
        )

    def headline(self, outcome: Outcome) -> str:
        """The first line of a failure ping: what happened and what to do about it."""
        code, error, who = outcome.exit_code, outcome.error, self.who(outcome)
        message = error.message if isinstance(error, CollectorError) else ""
        tries = plural(outcome.attempts, "attempt")
        if code == ExitCode.SIGNED_OUT:
            hint = self.refresh_hint()
            asks = error.asks if isinstance(error, SignedOutError) else None
            if asks:
                return f"{who} must sign in again ({asks}), nothing was backed up: {hint}"
            return f"{who} is signed out of Google Photos, nothing was backed up: {hint}"
        if code == ExitCode.USAGE:
            return f"{who}: nothing was backed up, fix the configuration: {message}"
        if code == ExitCode.PAGE_CHANGED:
            return f"{who}: Google's page changed, the backup stopped: {message}"
        if code == ExitCode.LOCKED:
            return f"{who}: {message}"
        if isinstance(error, SlotsBusyError):
            return (
                f"{who}: nothing was backed up: no job slot came free in "
                f"{human_seconds(error.waited)} (other backups on this host held all "
                f"{error.max_jobs}); the next run tries again. If this happens often, raise "
                f"max_jobs or slot_wait in the job's config, or spread the members' schedules"
            )
        if code == ExitCode.ITEMS_FAILED:
            summary = outcome.summary
            if summary is not None:
                return (
                    f"{who}: {plural(summary.failed, 'item')} still failed after {tries} "
                    f"({plural(summary.new, 'new item')} saved); nothing to do: failed items "
                    f"are tried again on the next run (the log's item-failed lines name them)"
                )
            return f"{who}: some items still failed after {tries}: {message}"
        if code == ExitCode.TEMPORARY:
            return f"{who}: temporary failure after {tries}, the next run tries again: {message}"
        if code == INTERRUPTED:
            return f"{who}: the run was interrupted before it finished; the next run carries on"
        if code == ExitCode.UNEXPECTED:
            kind = type(error).__name__ if error is not None else "error"
            return (
                f"{who}: the collector crashed (a bug: please report it with this log): "
                f"{kind}: {error}"
            )
        return f"{who}: the run failed with exit code {code}: {message}"

    def success_body(self, outcome: Outcome) -> str:
        summary = outcome.summary or SyncSummary()
        after = f", after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        line = (
            f"{self.who(outcome)}: backup done: {summary.new} new, {summary.skipped} skipped "
            f"(not downloadable now), {summary.failed} failed, {human_bytes(summary.bytes)} in "
            f"{summary.seconds:.0f} s{after}"
        )
        if summary.sidecars_unavailable:
            line += (
                "; captions, people and albums were NOT kept (no XMP sidecars): "
                f"{summary.sidecars_unavailable}"
            )
        if summary.albums is not None:
            line += "; " + describe_albums(summary.albums)
        if summary.details_unread:
            line += (
                f"; the info panel of {plural(summary.details_unread, 'item')} did not show: "
                "their captions, people and albums are read again on the next run"
            )
        if summary.failing_for_good:
            named = "; ".join(
                f"{item['id']} ({item['nights']} nights: {item['error']})"
                for item in summary.failing_for_good[:10]
            )
            line += (
                f"; {plural(len(summary.failing_for_good), 'item')} failing for good, tried "
                f"again every night but no longer failing the run: {named}. If Google's own web "
                "app cannot download it either, nothing can be done here; otherwise report it"
            )
        return line + "\n" + json.dumps({"summary": asdict(summary), "rid": self.rid}) + "\n"

    # Pings --------------------------------------------------------------------
    def _ping(self, kind: str, body: str | bytes = b"", *, with_rid: bool = True) -> None:
        if self.pinger is None:
            return
        result = self.pinger.ping(kind, body, rid=self.rid if with_rid else None)
        if result.recorded:
            self.recorded.append(kind)

    def _failure_body(self, head: str) -> bytes:
        limit = self.pinger.body_limit if self.pinger is not None else 10_000
        text = self.tail.text()
        return fit_body(self.redactor.scrub(head), text, limit, self.tail.seen_bytes)

    # The run --------------------------------------------------------------------
    def run(self) -> JobResult:
        started = time.monotonic()
        with contextlib.ExitStack() as stack:
            streams: list[IO[str]] = [self._stdout]
            log_error: UsageError | None = None
            if self.options.log_file is not None:
                try:
                    streams.append(stack.enter_context(open_log_file(self.options.log_file)))
                except UsageError as error:
                    log_error = error
            output = JobOutput(streams, self.tail)
            self.redactor = RedactingSink(output, self.options.secrets())
            self.events = self.redactor
            if self.options.ping is not None:
                self.pinger = PingClient(
                    self.options.ping,
                    self.events,
                    timeout=self.options.ping_timeout,
                    attempts=self.options.ping_attempts,
                    backoff=self.options.ping_backoff,
                )
            self.events.emit(
                "run-start",
                rid=self.rid,
                host=self.host,
                account=self.options.account_name,
                pid=os.getpid(),
                monitored=self.pinger is not None,
                ping=self.options.ping.redacted if self.options.ping else None,
                attempts=self.options.attempts,
            )
            if log_error is not None:
                return self._end(self._refuse(log_error), started)
            try:
                lock = self._lock()
            except LockedError as error:
                return self._end(self._locked(error), started)
            except DestUnwritableError as error:  # no lock file on a full or read-only disk
                outcome = Outcome(error.exit_code, error=error)
                self.events.emit("refused", exit_code=int(error.exit_code), message=error.message)
                self._report(outcome)
                return self._end(outcome, started)
            except UsageError as error:
                return self._end(self._refuse(error), started)
            if lock is not None:
                stack.callback(lock.release)  # held until the final ping is sent
            outcome = self._guarded(lambda: self._slot_then_sync(stack))
            self._report(outcome)
            result = self._end(outcome, started)
            if outcome.exit_code in (ExitCode.UNEXPECTED, INTERRUPTED) and outcome.error:
                raise outcome.error
            return result

    def _lock(self) -> RunLock | None:
        # A missing profile is a usage error the sync reports, and a share that is not
        # mounted a temporary one: then DEST is not made either (not on the local disk).
        sync = self.options.sync
        mounted = sync.require_mount is None or os.path.ismount(sync.require_mount)
        path = self.options.lock or default_lock_path(
            sync.dest, create=sync.profile.is_dir() and mounted
        )
        if path is None:
            self.events.emit("lock", path=None, note="DEST cannot be made: no lock taken")
            return None
        lock = RunLock(path)
        try:
            lock.acquire()
        except UsageError:
            trouble = dest_trouble(sync.dest)
            if trouble is not None:
                raise trouble from None
            raise
        self.events.emit("lock", path=str(path))
        return lock

    def _locked(self, error: LockedError) -> Outcome:
        outcome = Outcome(ExitCode.LOCKED, error=error)
        self.events.emit("locked", message=error.message)
        self._ping("log", self.redactor.scrub(self.headline(outcome)) + "\n", with_rid=False)
        return outcome

    def _refuse(self, error: UsageError) -> Outcome:
        """Bad configuration found before the run began: say so, touch nothing."""
        outcome = Outcome(ExitCode.USAGE, error=error)
        self.events.emit("refused", exit_code=int(ExitCode.USAGE), message=error.message)
        self._ping(str(int(ExitCode.USAGE)), self._failure_body(self.headline(outcome)))
        return outcome

    def _guarded(self, work: Callable[[], Outcome]) -> Outcome:
        """Run `work`; a bug or Ctrl-C becomes an outcome so it is still reported."""
        try:
            return work()
        except KeyboardInterrupt as error:
            self.events.emit("interrupted")
            return Outcome(INTERRUPTED, error=error)
        except Exception as error:
            detail = traceback.format_exc()
            self.events.emit("crash", error=f"{type(error).__name__}: {error}", traceback=detail)
            return Outcome(ExitCode.UNEXPECTED, error=error, detail=detail)

    def _slot_then_sync(self, stack: contextlib.ExitStack) -> Outcome:
        """Slot first, then `start`: time spent waiting for a slot is not run time."""
        refused = self._take_slot(stack)
        if refused is not None:
            return refused
        self._ping("start")
        return self._attempts()

    def _take_slot(self, stack: contextlib.ExitStack) -> Outcome | None:
        """Take a host-wide job slot if asked to, held (on `stack`) until the final ping.

        None when the run may go on; otherwise the outcome that ends it (no slot
        free in time: exit 6; a slots folder that cannot be used: exit 2).
        """
        if self.options.slots_dir is None:
            return None
        slots = JobSlots(
            self.options.slots_dir, self.options.max_jobs, wait_seconds=self.options.slot_wait
        )
        try:
            slot = slots.acquire(
                on_wait=lambda: self.events.emit(
                    "slot-wait",
                    folder=str(self.options.slots_dir),
                    max_jobs=self.options.max_jobs,
                    wait_seconds=self.options.slot_wait,
                ),
                on_unsafe=lambda path, reason: self.events.emit(
                    "slot-unsafe", path=str(path), reason=reason
                ),
            )
        except CollectorError as error:
            self.events.emit("slot-busy", exit_code=int(error.exit_code), message=error.message)
            return Outcome(error.exit_code, error=error)
        stack.callback(slots.release)  # released after the final ping, before the lock
        self.events.emit("slot", slot=slot, waited=round(slots.waited, 1))
        return None

    def _attempts(self) -> Outcome:
        total = max(1, self.options.attempts)
        outcome = Outcome(ExitCode.UNEXPECTED)
        for attempt in range(1, total + 1):
            self.events.emit("attempt", n=attempt, of=total)
            try:
                summary = self._sync(self.options.sync, self.events)
            except CollectorError as error:
                outcome = Outcome(error.exit_code, attempts=attempt, error=error)
                retryable = (error.transient or error.exit_code in RETRYABLE) and error.retry_now
                message = error.message
            else:
                outcome = Outcome(summary.exit_code, attempts=attempt, summary=summary)
                if summary.exit_code == ExitCode.OK:
                    return outcome
                retryable = summary.exit_code in RETRYABLE
                message = f"{summary.failed} items failed"
            retryable = retryable and outcome.exit_code not in NEVER_RETRIED
            self.events.emit(
                "attempt-failed",
                n=attempt,
                exit_code=int(outcome.exit_code),
                retryable=retryable,
                message=message,
            )
            if not retryable or attempt == total:
                return outcome
            delay = self.options.retry_delay * 2 ** (attempt - 1)
            self.events.emit("retry-wait", seconds=delay)
            self._sleep(delay)
        return outcome

    def _report(self, outcome: Outcome) -> None:
        if outcome.exit_code == ExitCode.OK:
            self._ping("success", self.success_body(outcome))
            return
        head = self.headline(outcome)
        if isinstance(outcome.error, CollectorError) and outcome.error.message not in head:
            head += "\n" + outcome.error.message
        code = outcome.exit_code if 0 < outcome.exit_code <= 255 else 1
        self._ping(str(int(code)), self._failure_body(head))

    def _end(self, outcome: Outcome, started: float) -> JobResult:
        message = (
            self.success_body(outcome).splitlines()[0]
            if outcome.exit_code == ExitCode.OK
            else self.headline(outcome)
        )
        self.events.emit(
            "run-end",
            rid=self.rid,
            exit_code=int(outcome.exit_code),
            attempts=outcome.attempts,
            seconds=round(time.monotonic() - started, 3),
            pings_recorded=list(self.recorded),
            message=message,
        )
        return JobResult(
            int(outcome.exit_code), self.redactor.scrub(message), self.rid, list(self.recorded)
        )


def run_job(
    options: JobOptions,
    *,
    sync: SyncFunction | None = None,
    stdout: IO[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> JobResult:
    """Run the nightly job once. `sync` defaults to the real sync (looked up at call time)."""
    job = NightlyJob(
        options,
        sync=sync or sync_stage.run_sync,
        stdout=stdout or sys.stdout,
        sleep=sleep,
    )
    return job.run()
