"""Healthchecks: the ping client of the nightly job and the management API client.

Monitoring is best effort: a ping never raises into the job and never takes
longer than its bounded retries. A ping counts only when the server answers
2xx with the body `OK` or `Created` (the hosted service answers 200 with
"OK (not found)" or "OK (rate limited)" where a self-hosted one answers 404
or 429). Only transient failures are retried: timeouts, connection errors
and the statuses in TRANSIENT_STATUSES. Secrets (the ping URL, ping key, API
key) never appear in events or messages: a ping URL is shown as its scheme,
host and the last four characters of its path, a key as its last four.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from gphotos_collector import __version__
from gphotos_collector.errors import CollectorError, TemporaryError, UsageError
from gphotos_collector.events import EventSink

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RECORDED_ANSWERS = frozenset({"OK", "Created"})
DEFAULT_PING_BASE = "https://hc-ping.com"
# Until a server announces its Ping-Body-Limit, assume the smallest default (self-hosted).
DEFAULT_BODY_LIMIT = 10_000
DEFAULT_PING_TIMEOUT = 5.0
DEFAULT_PING_ATTEMPTS = 3
DEFAULT_BACKOFF = 1.0
SLUG_RE = re.compile(r"^[a-z0-9_-]+$")
PING_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
USER_AGENT = f"gphotos-collector/{__version__}"
PingKind = str  # "success", "start", "fail", "log" or an exit status "0".."255"


def redact(secret: str) -> str:
    """A secret as a person may see it in a log: its last four characters only."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"


def redact_url(url: str) -> str:
    """A ping URL for logs: scheme and host, then only the last 4 characters of the path.

    Every path segment is hidden: a slug URL holds the project's ping key in
    the middle (`/<ping-key>/<slug>`), a UUID URL the check's UUID at the end.
    """
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # user:password@ would be a secret too
    return f"{parts.scheme}://{host}/{redact(parts.path.strip('/'))}"


def _check_http_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{what} must be an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise UsageError(f"{what} must not have a ?query or #fragment")
    return url.rstrip("/")


@dataclass(frozen=True)
class PingEndpoint:
    """Where one check's pings go: its ping URL, or base + ping key + slug."""

    base: str  # no trailing slash; pings are base, base/start, base/fail, base/<code>...
    secret: str  # the part of `base` that lets anyone ping the check (key or UUID)
    create: bool = False  # ask the server to create a missing slug check

    @property
    def redacted(self) -> str:
        """The endpoint for logs: scheme, host and the last 4 characters of the path."""
        return redact_url(self.base)

    def secrets(self) -> dict[str, str]:
        """Each secret text of the endpoint and what a log shows instead, for RedactingSink.

        Besides the URL, its path and the known secret, every path segment longer than
        8 characters counts as one: which segment of a given --ping-url is the key
        cannot be known, and a check's UUID or a ping key is never that short.
        """
        parts = urlsplit(self.base)
        path = parts.path.strip("/")
        found = {self.base: self.redacted, path: redact(path), self.secret: redact(self.secret)}
        for segment in path.split("/"):
            if len(segment) > 8:
                found[segment] = redact(segment)
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            found[userinfo] = "…"
        return {secret: shown for secret, shown in found.items() if secret}

    def url(self, kind: PingKind, rid: str | None = None) -> str:
        path = self.base if kind == "success" else f"{self.base}/{kind}"
        query: dict[str, str] = {}
        if self.create:
            query["create"] = "1"
        if rid:
            query["rid"] = rid
        return f"{path}?{urlencode(query)}" if query else path


def endpoint_from_options(
    ping_url: str | None = None,
    ping_base: str | None = None,
    ping_key: str | None = None,
    slug: str | None = None,
    create: bool = False,
) -> PingEndpoint | None:
    """The job's ping endpoint from its options; None when it runs unmonitored."""
    if ping_url:
        if ping_key or slug or ping_base:
            raise UsageError(
                "give either --ping-url, or --ping-key and --slug (with --ping-base for a "
                "self-hosted server), not both"
            )
        if create:
            raise UsageError("--create works with --ping-key and --slug, not with --ping-url")
        base = _check_http_url(ping_url, "--ping-url")
        secret = base.rsplit("/", 1)[-1]
        if base.count("/") < 3 or not secret:
            raise UsageError("--ping-url must be a check's full ping URL, ending in its UUID")
        return PingEndpoint(base=base, secret=secret)
    if not (ping_key or slug):
        if ping_base or create:
            raise UsageError("--ping-base and --create need --ping-key and --slug")
        return None
    if not ping_key or not slug:
        missing = "--ping-key" if not ping_key else "--slug"
        raise UsageError(f"pinging by slug needs both --ping-key and --slug: {missing} is missing")
    if not PING_KEY_RE.match(ping_key):
        raise UsageError("--ping-key may only hold letters, digits, - and _")
    if not SLUG_RE.match(slug):
        raise UsageError(f"--slug {slug!r} may only hold a-z, 0-9, - and _")
    base = _check_http_url(ping_base or DEFAULT_PING_BASE, "--ping-base")
    return PingEndpoint(base=f"{base}/{quote(ping_key)}/{slug}", secret=ping_key, create=create)


@dataclass(frozen=True)
class PingResult:
    kind: PingKind
    recorded: bool
    status: int | None  # HTTP status of the last attempt, None if no answer
    answer: str  # the start of the last answer's body, or what went wrong
    attempts: int
    seconds: float


@dataclass(frozen=True)
class _Reply:
    status: int | None
    body: str
    headers: Any
    error: str | None = None
    transient: bool = False


def _request(
    opener: urllib.request.OpenerDirector,
    method: str,
    url: str,
    *,
    data: bytes | None,
    headers: dict[str, str],
    timeout: float,
) -> _Reply:
    """One HTTP request; every failure becomes a _Reply (transient or not), never an exception."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(65536).decode("utf-8", errors="replace")
            return _Reply(response.status, body, response.headers)
    except urllib.error.HTTPError as error:
        try:
            body = error.read(65536).decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException):
            body = ""
        return _Reply(error.code, body, error.headers, transient=error.code in TRANSIENT_STATUSES)
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            return _Reply(None, "", None, error=f"TLS certificate refused: {reason.reason}")
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return _Reply(None, "", None, error="timed out", transient=True)
        if isinstance(reason, socket.gaierror):
            return _Reply(None, "", None, error="host name not found", transient=True)
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        return _Reply(None, "", None, error=f"connection failed: {text}", transient=True)
    except TimeoutError:
        return _Reply(None, "", None, error="timed out", transient=True)
    except (OSError, http.client.HTTPException) as error:
        return _Reply(
            None, "", None, error=f"connection failed: {type(error).__name__}", transient=True
        )


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class PingClient:
    """Sends one check's pings; learns the server's Ping-Body-Limit from its answers."""

    def __init__(
        self,
        endpoint: PingEndpoint,
        events: EventSink,
        *,
        timeout: float = DEFAULT_PING_TIMEOUT,
        attempts: int = DEFAULT_PING_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self._events = events
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._opener = urllib.request.build_opener()
        self.body_limit = DEFAULT_BODY_LIMIT
        self.body_limit_announced = False

    @property
    def budget_seconds(self) -> float:
        """The longest one ping may take, all attempts and waits included."""
        waits = sum(self.backoff * 2.0**n * 1.25 for n in range(self.attempts - 1))
        return float(self.attempts * self.timeout + waits)

    def ping(self, kind: PingKind, body: str | bytes = b"", rid: str | None = None) -> PingResult:
        """Send one ping with retries; never raises, never exceeds budget_seconds."""
        started = self._clock()
        try:
            result = self._ping(kind, body, rid, started)
        except Exception as error:  # a bug here must not cost the backup its result
            result = PingResult(kind, False, None, f"client error: {type(error).__name__}", 0, 0.0)
        self._events.emit(
            "ping",
            kind=kind,
            recorded=result.recorded,
            status=result.status,
            answer=result.answer,
            attempts=result.attempts,
            seconds=round(result.seconds, 3),
            target=self.endpoint.redacted,
        )
        return result

    def _ping(
        self, kind: PingKind, body: str | bytes, rid: str | None, started: float
    ) -> PingResult:
        data = body.encode("utf-8") if isinstance(body, str) else body
        data = data[: self.body_limit]  # the server would keep only this much anyway
        deadline = started + self.budget_seconds
        url = self.endpoint.url(kind, rid)
        headers = {"User-Agent": USER_AGENT, "Content-Type": "text/plain; charset=utf-8"}
        reply = _Reply(None, "", None, error="not sent")
        attempt = 0
        while attempt < self.attempts:
            remaining = deadline - self._clock()
            if remaining <= 0.05:
                break
            attempt += 1
            reply = _request(
                self._opener,
                "POST",
                url,
                data=data,
                headers=headers,
                timeout=min(self.timeout, remaining),
            )
            self._learn_body_limit(reply.headers)
            answer = reply.body.strip()
            if reply.status is not None and 200 <= reply.status < 300:
                recorded = answer in RECORDED_ANSWERS
                transient = answer == "OK (rate limited)"
                if recorded or not transient:
                    return self._result(kind, recorded, reply, attempt, started)
            elif not reply.transient:
                return self._result(kind, False, reply, attempt, started)
            if attempt >= self.attempts:
                break
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.75, 1.25)  # noqa: S311
            delay = max(delay, min(_retry_after(reply.headers) or 0.0, 30.0))
            if self._clock() + delay >= deadline:
                break
            self._sleep(delay)
        return self._result(kind, False, reply, attempt, started)

    def _learn_body_limit(self, headers: Any) -> None:
        value = headers.get("Ping-Body-Limit") if headers is not None else None
        if value is None:
            return
        try:
            limit = int(value)
        except ValueError:
            return
        if limit > 0:
            self.body_limit = limit
            self.body_limit_announced = True

    def _result(
        self, kind: PingKind, recorded: bool, reply: _Reply, attempts: int, started: float
    ) -> PingResult:
        answer = reply.error if reply.error else reply.body.strip()[:100]
        return PingResult(kind, recorded, reply.status, answer, attempts, self._clock() - started)


def fit_body(first_line: str, output: str, limit: int, total_bytes: int | None = None) -> bytes:
    """A ping body of at most `limit` bytes: the first line, then the end of the output.

    When the output does not fit, its start is cut (at a line boundary when one
    is near) and a note says how much was left out; `total_bytes` is the size of
    the whole output when `output` is already only its tail.
    """
    head = (first_line.rstrip("\n") + "\n").encode("utf-8")
    if len(head) >= limit:
        return _cut_utf8(head[:limit])
    tail = output.encode("utf-8")
    if len(head) + len(tail) <= limit:
        return head + tail
    total = max(len(tail), total_bytes or 0)
    note_template = (
        "[output cut to fit the server's {limit}-byte limit: {cut} earlier bytes left out]\n"
    )
    longest_note = note_template.format(limit=limit, cut=total).encode("utf-8")
    room = limit - len(head) - len(longest_note)
    if room <= 0:
        return _cut_utf8(head + longest_note[: max(0, limit - len(head))])
    kept = tail[-room:]
    newline = kept.find(b"\n")
    if 0 <= newline < len(kept) - 1 and newline < 2000:
        kept = kept[newline + 1 :]  # start on a whole line
    kept = _skip_continuation_bytes(kept)
    note = note_template.format(limit=limit, cut=total - len(kept)).encode("utf-8")
    return head + note + kept


def _skip_continuation_bytes(data: bytes) -> bytes:
    start = 0
    while start < len(data) and start < 4 and (data[start] & 0xC0) == 0x80:
        start += 1
    return data[start:]


def _cut_utf8(data: bytes) -> bytes:
    return data.decode("utf-8", errors="ignore").encode("utf-8")


# Management API -----------------------------------------------------------------


@dataclass(frozen=True)
class CheckSpec:
    """What `healthchecks ensure` makes sure exists: one check per job, found by slug."""

    name: str
    slug: str
    schedule: str
    tz: str
    grace: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "slug": self.slug,
            "schedule": self.schedule,
            "tz": self.tz,
            "grace": self.grace,
            "unique": ["slug"],
        }

    def matches(self, check: dict[str, Any]) -> bool:
        return all(
            check.get(key) == value for key, value in self.as_json().items() if key != "unique"
        )


@dataclass(frozen=True)
class EnsureResult:
    action: str  # created, updated, unchanged; would-create, would-update on a dry run
    ping_url: str | None
    uuid: str | None

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"


def site_root(api_url: str) -> str:
    """The site root from what a person may give: the site, or its /api/v3/ URL."""
    url = _check_http_url(api_url, "--api-url")
    for suffix in ("/checks", "/api/v3", "/api/v2", "/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


class ManagementClient:
    """The v3 management API of one project (hosted or self-hosted)."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.site = site_root(api_url)
        self._key = api_key
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._opener = urllib.request.build_opener()

    @property
    def host(self) -> str:
        return urlsplit(self.site).netloc

    def _call(self, method: str, path: str, doc: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = f"{self.site}/api/v3/{path}"
        headers = {"User-Agent": USER_AGENT, "X-Api-Key": self._key, "Accept": "application/json"}
        data = None
        if doc is not None:
            data = json.dumps(doc).encode("utf-8")
            headers["Content-Type"] = "application/json"
        reply = _Reply(None, "", None, error="not sent")
        for attempt in range(1, self.attempts + 1):
            reply = _request(
                self._opener, method, url, data=data, headers=headers, timeout=self.timeout
            )
            if not reply.transient:
                break
            if attempt < self.attempts:
                self._sleep(self.backoff * 2 ** (attempt - 1))
        if reply.status is None and not reply.transient:
            raise UsageError(f"cannot reach the Healthchecks API at {self.host}: {reply.error}")
        if reply.status is None or reply.transient:
            what = reply.error or f"HTTP {reply.status}"
            raise TemporaryError(
                f"the Healthchecks API at {self.host} did not answer ({what}) after "
                f"{self.attempts} attempts: try again later"
            )
        try:
            body = json.loads(reply.body) if reply.body else None
        except ValueError:
            body = None
        if reply.status in (401, 403):
            raise UsageError(
                f"the Healthchecks API at {self.host} refused the API key (HTTP {reply.status}): "
                f"use the project's read-write API key (key {redact(self._key)})"
            )
        if reply.status >= 400:
            detail = body.get("error") if isinstance(body, dict) else reply.body.strip()[:200]
            raise UsageError(
                f"the Healthchecks API at {self.host} answered HTTP {reply.status}: {detail}"
            )
        return reply.status, body

    def find_checks(self, slug: str) -> list[dict[str, Any]]:
        _, body = self._call("GET", f"checks/?{urlencode({'slug': slug})}")
        checks = body.get("checks") if isinstance(body, dict) else None
        if not isinstance(checks, list):
            raise CollectorError(f"the Healthchecks API at {self.host} sent an unexpected answer")
        return [c for c in checks if isinstance(c, dict) and c.get("slug") == slug]

    def ensure_check(self, spec: CheckSpec, *, dry_run: bool = False) -> EnsureResult:
        """Create the check with spec.slug, or bring it in line with spec; idempotent."""
        found = self.find_checks(spec.slug)
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} checks on {self.host} have the slug {spec.slug!r}, so pings by "
                f"slug are refused as ambiguous: delete the extra ones in the web interface"
            )
        if found and spec.matches(found[0]):
            return EnsureResult("unchanged", found[0].get("ping_url"), found[0].get("uuid"))
        if dry_run:
            action = "would-update" if found else "would-create"
            existing = found[0] if found else {}
            return EnsureResult(action, existing.get("ping_url"), existing.get("uuid"))
        status, body = self._call("POST", "checks/", spec.as_json())
        if not isinstance(body, dict) or not body.get("ping_url"):
            raise CollectorError(
                f"the Healthchecks API at {self.host} did not return the check's ping URL "
                f"(is the key read-only?)"
            )
        return EnsureResult(
            "created" if status == 201 else "updated", body["ping_url"], body.get("uuid")
        )
