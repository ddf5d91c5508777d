"""The fake's state: one project (API key, ping key) and its checks and pings.

It follows the real server's rules (../shared/healthchecks-ping.md and
Healthchecks' own views): exit status 0 is success and 1..255 failure, a
`rid` must be a UUID, a ping body is stored up to the body limit, a slug
check is created on `create=1`, and the v3 API creates or updates by the
fields named in `unique` (an absent one matches nothing, so a duplicate is
made, as on the real server).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import available_timezones

SLUG_RE = re.compile(r"^[a-z0-9_-]*$")
PING_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
UNIQUE_FIELDS = ("name", "slug", "tags", "timeout", "grace")
MIN_PERIOD, MAX_PERIOD = 60, 31_536_000
RATE_WINDOW_SECONDS = 60.0
# Cron fields: minute, hour, day of month, month, day of week.
_CRON_ITEM = r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
CRON_FIELD_RE = re.compile(rf"^{_CRON_ITEM}(,{_CRON_ITEM})*$")


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Ping:
    """One recorded ping, as the real server keeps it."""

    n: int
    kind: str  # start, success, fail or log
    exit_status: int | None
    rid: str | None
    method: str
    body: str  # the stored part: the first body-limit bytes
    body_bytes: int  # what the client sent
    time: str
    created: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "type": self.kind,
            "exitstatus": self.exit_status,
            "rid": self.rid,
            "method": self.method,
            "date": self.time,
            "body": self.body,
            "body_bytes": self.body_bytes,
        }


@dataclass
class Check:
    uuid: str
    name: str
    slug: str
    tags: str = ""
    desc: str = ""
    grace: int = 3600
    timeout: int | None = 86400
    schedule: str | None = None
    tz: str = "UTC"
    pings: list[Ping] = field(default_factory=list)
    status: str = "new"
    started_rid: str | None = None
    started: bool = False
    last_ping: str | None = None
    _recent: deque[float] = field(default_factory=deque, repr=False)

    @property
    def kind(self) -> str:
        return "cron" if self.schedule else "simple"

    def runs(self) -> dict[str | None, list[Ping]]:
        """Pings grouped by run id, in arrival order."""
        grouped: dict[str | None, list[Ping]] = {}
        for ping in self.pings:
            grouped.setdefault(ping.rid, []).append(ping)
        return grouped

    def to_dict(self, ping_url: str, api_url: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "slug": self.slug,
            "tags": self.tags,
            "desc": self.desc,
            "grace": self.grace,
            "n_pings": len(self.pings),
            "status": self.status,
            "started": self.started,
            "last_ping": self.last_ping,
            "next_ping": None,
            "manual_resume": False,
            "methods": "",
            "subject": "",
            "subject_fail": "",
            "start_kw": "",
            "success_kw": "",
            "failure_kw": "",
            "filter_subject": False,
            "filter_body": False,
            "uuid": self.uuid,
            "ping_url": ping_url,
            "update_url": f"{api_url}/api/v3/checks/{self.uuid}",
            "pause_url": f"{api_url}/api/v3/checks/{self.uuid}/pause",
            "resume_url": f"{api_url}/api/v3/checks/{self.uuid}/resume",
            "channels": "",
        }
        if self.schedule:
            result["schedule"] = self.schedule
            result["tz"] = self.tz
        else:
            result["timeout"] = self.timeout
        return result


class SpecError(ValueError):
    """A v3 API body the real server refuses with 400 and this message."""


def _valid_cron(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and all(CRON_FIELD_RE.match(part) for part in fields)


def validate_spec(spec: Any) -> dict[str, Any]:
    """Check a create/update body like the real v3 API (strict types)."""
    if not isinstance(spec, dict):
        raise SpecError("json validation error: request body is not an object")
    clean: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "api_key":
            continue
        if value is None:
            raise SpecError(f"json validation error: {key} is not a valid value")
        if key in ("name", "slug", "tags", "desc", "schedule", "tz", "channels"):
            if not isinstance(value, str):
                raise SpecError(f"json validation error: {key} is not a string")
            if key == "name" and len(value) > 100:
                raise SpecError("json validation error: name is too long")
            if key == "slug" and (len(value) > 100 or not SLUG_RE.match(value)):
                raise SpecError("json validation error: slug does not match pattern")
            if key == "schedule" and not _valid_cron(value):
                raise SpecError(
                    "json validation error: schedule is not a valid cron or OnCalendar expression"
                )
            if key == "tz" and value not in _timezones():
                raise SpecError("json validation error: tz is not a valid timezone")
        elif key in ("grace", "timeout"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(f"json validation error: {key} is not a number")
            if value < MIN_PERIOD:
                raise SpecError(f"json validation error: {key} is too small")
            if value > MAX_PERIOD:
                raise SpecError(f"json validation error: {key} is too large")
        elif key == "unique":
            if not isinstance(value, list):
                raise SpecError("json validation error: unique is not an array")
            for item in value:
                if item not in UNIQUE_FIELDS:
                    raise SpecError(
                        "json validation error: an item in 'unique' has unexpected value"
                    )
        elif key in ("manual_resume", "filter_subject", "filter_body"):
            if not isinstance(value, bool):
                raise SpecError(f"json validation error: {key} is not a boolean")
        else:
            # The real server ignores fields it does not know.
            continue
        clean[key] = value
    return clean


_TIMEZONES: set[str] | None = None


def _timezones() -> set[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = available_timezones() | {"UTC"}
    return _TIMEZONES


@dataclass(frozen=True)
class PingOutcome:
    """What became of one ping on a known check: recorded, or dropped by the rate limit."""

    ping: Ping | None = None
    rate_limited: bool = False


class Project:
    """One project: its keys, checks, and the rules for pings and the API."""

    def __init__(self, *, api_key: str, ping_key: str, body_limit: int, rate_limit: int) -> None:
        self.api_key = api_key
        self.ping_key = ping_key
        self.body_limit = body_limit
        self.rate_limit = rate_limit
        self.checks: list[Check] = []
        self.lock = threading.RLock()

    # Lookups --------------------------------------------------------------
    def by_uuid(self, code: str) -> Check | None:
        with self.lock:
            return next((c for c in self.checks if c.uuid == code), None)

    def by_slug(self, slug: str) -> list[Check]:
        with self.lock:
            return [c for c in self.checks if c.slug == slug]

    def add_check(self, name: str, slug: str = "", **fields: Any) -> Check:
        with self.lock:
            check = Check(uuid=str(uuid.uuid4()), name=name, slug=slug, **fields)
            self.checks.append(check)
            return check

    # Pings ----------------------------------------------------------------
    def ping(
        self,
        check: Check,
        *,
        action: str,
        exit_status: int | None,
        rid: str | None,
        method: str,
        body: bytes,
    ) -> PingOutcome:
        """Record a ping on a known check, unless its rate limit drops it."""
        with self.lock:
            now = time.monotonic()
            recent = check._recent
            while recent and now - recent[0] > RATE_WINDOW_SECONDS:
                recent.popleft()
            if self.rate_limit and len(recent) >= self.rate_limit:
                return PingOutcome(rate_limited=True)
            recent.append(now)
            kind = action
            if exit_status is not None:
                kind = "success" if exit_status == 0 else "fail"
            stored = body[: self.body_limit].decode("utf-8", errors="replace")
            ping = Ping(
                n=len(check.pings) + 1,
                kind=kind,
                exit_status=exit_status,
                rid=rid,
                method=method,
                body=stored,
                body_bytes=len(body),
                time=iso_now(),
                created=time.time(),
            )
            check.pings.append(ping)
            check.last_ping = ping.time
            if kind == "start":
                check.started = True
                check.started_rid = rid
            elif kind in ("success", "fail"):
                check.status = "up" if kind == "success" else "down"
                check.started = False
                check.started_rid = None
            return PingOutcome(ping=ping)

    # API ------------------------------------------------------------------
    def create_or_update(self, spec: dict[str, Any]) -> tuple[Check, bool]:
        """POST /api/v3/checks/: (check, created) after validate_spec()."""
        with self.lock:
            existing = self._lookup(spec)
            created = existing is None
            check = existing or Check(uuid=str(uuid.uuid4()), name="", slug="")
            self._update(check, spec)
            if created:
                self.checks.append(check)
            return check, created

    def update(self, check: Check, spec: dict[str, Any]) -> None:
        with self.lock:
            self._update(check, spec)

    def _lookup(self, spec: dict[str, Any]) -> Check | None:
        unique = spec.get("unique") or []
        if not unique or any(name not in spec for name in unique):
            return None  # as the real server: a missing unique field matches nothing
        for check in self.checks:
            if all(getattr(check, name) == spec[name] for name in unique):
                return check
        return None

    @staticmethod
    def _update(check: Check, spec: dict[str, Any]) -> None:
        for key in ("name", "slug", "tags", "desc", "grace", "tz"):
            if key in spec:
                setattr(check, key, spec[key])
        if "schedule" in spec:
            check.schedule = spec["schedule"]
            check.timeout = None
        elif "timeout" in spec:
            check.timeout = spec["timeout"]
            check.schedule = None
