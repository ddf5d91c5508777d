"""Errors a person can act on, each with its own exit code.

They are raised anywhere and caught once, at the CLI edge, which prints the
message and exits with the code. Anything else is a bug and shows a traceback
(exit code 1).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every command, documented in the README."""

    OK = 0
    UNEXPECTED = 1  # a bug: Python's own code for an uncaught exception
    USAGE = 2  # bad usage or configuration: nothing was touched
    SIGNED_OUT = 3  # the login profile is signed out: refresh it
    ITEMS_FAILED = 4  # the run finished but some items failed after retries
    LOCKED = 5  # another run holds the lock: nothing was touched
    TEMPORARY = 6  # the site or the browser failed in a way that may pass
    VERIFY_FAILED = 7  # verify: recorded files are missing or changed on disk
    PAGE_CHANGED = 8  # Google's page changed: a step the backup needs fails (run doctor)


class CollectorError(Exception):
    """Base of the errors with a message for a person and an exit code."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    transient: bool = False  # worth retrying the whole run
    retry_now: bool = True  # transient may pass within minutes (else: wait for the next run)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CollectorError):
    """Bad usage or configuration: a missing profile, an unwritable dest..."""

    exit_code = ExitCode.USAGE


class SignedOutError(CollectorError):
    """The profile is not signed in to Google Photos (any more)."""

    exit_code = ExitCode.SIGNED_OUT

    def __init__(
        self,
        message: str,
        *,
        profile: str | None = None,
        account: str | None = None,
        asks: str | None = None,
    ) -> None:
        super().__init__(message)
        self.profile = profile
        self.account = account  # the Google account, when known (from an earlier run)
        self.asks = asks  # what a sign-in interstitial asks a person for, if that was it


class ItemsFailedError(CollectorError):
    """Some items still failed after their retries; they are retried next run."""

    exit_code = ExitCode.ITEMS_FAILED
    transient = True


class LockedError(CollectorError):
    """Another run already holds the lock."""

    exit_code = ExitCode.LOCKED


class TemporaryError(CollectorError):
    """The site or the browser failed in a way that may pass: retry later."""

    exit_code = ExitCode.TEMPORARY
    transient = True


class PageChangedError(CollectorError):
    """A step of Google's web app fails the same way item after item: the page changed."""

    exit_code = ExitCode.PAGE_CHANGED

    def __init__(self, message: str, *, step: str, target: str) -> None:
        super().__init__(message)
        self.step = step  # the contract's step (e.g. "the More options menu")
        self.target = target  # its selector, URL or key


class NotMountedError(TemporaryError):
    """DEST's share is not mounted: the next run may find it, retrying now will not."""

    retry_now = False


class DestUnwritableError(TemporaryError):
    """DEST's disk is full or read-only: not a bug, not failed items; the next run carries
    on once a person frees space or remounts it (retrying within minutes would not help)."""

    retry_now = False
