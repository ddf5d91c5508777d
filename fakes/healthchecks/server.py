"""The fake Healthchecks HTTP server and its in-process API for tests.

It answers pings at the root (as hc-ping.com does) and under `/ping/` (as a
self-hosted server does), by UUID and by ping key + slug, and the v3
management API under `/api/v3/checks/`. `hosted` mode answers like
hc-ping.com: 200 with "OK (not found)" / "OK (rate limited)" where a
self-hosted server answers 404 / 429 (a rate-limited slug ping gets 429 on
both). Every request is appended to the record file as one JSON line.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.healthchecks.checks import (
    PING_KEY_RE,
    Check,
    PingOutcome,
    Project,
    SpecError,
    validate_spec,
)
from fakes.healthchecks.faults import FaultInjector, FaultPlan

MODES = ("selfhosted", "hosted")
DEFAULT_BODY_LIMITS = {"selfhosted": 10_000, "hosted": 100_000}
DEFAULT_RATE_LIMIT = 5  # pings a minute per check, as the hosted service allows
# Test-only credentials: the fake is never exposed beyond loopback.
DEFAULT_API_KEY = "fake-api-key-0123456789abcdefghij"
DEFAULT_PING_KEY = "fake-ping-key-0123456789"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACTIONS = ("start", "fail", "log")
MAX_BODY_READ = 10_000_000


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] | None = None


@dataclass
class RequestInfo:
    """What the record file keeps about a request (filled in while handling it)."""

    check: str | None = None
    slug: str | None = None
    kind: str | None = None
    rid: str | None = None
    exit_status: int | None = None
    stored_bytes: int | None = None
    fault: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a held-back (timeout fault) answer must not block stop()
    fake: FakeHealthchecks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "fake-healthchecks"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the record file is the log

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY_READ)) if length else b""

    def _handle(self) -> None:
        fake = self.server.fake
        body = self._read_body()
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        info = RequestInfo()
        scope = "api" if parts.path.startswith("/api/") else "ping"
        fault = fake.faults.draw(scope)
        info.fault = fault
        if fault in ("timeout", "reset"):
            fake.record(self.command, parts.path, query, body, None, b"", info)
            if fault == "timeout":
                fake.stopping.wait(fake.faults.plan.slow_seconds)
            self.close_connection = True
            return
        if fault is not None and fault != "ratelimit":
            answer = Answer(int(fault), f"{HTTPStatus(int(fault)).phrase}\n".encode())
        elif scope == "api":
            answer = fake.api(self.command, parts.path, query, body, self.headers, info, fault)
        else:
            answer = fake.ping(self.command, parts.path, query, body, info, fault)
        fake.record(self.command, parts.path, query, body, answer.status, answer.body, info)
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in (answer.headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, text.encode(), headers=headers)


def _json(status: int, doc: Any) -> Answer:
    return Answer(status, json.dumps(doc).encode(), content_type="application/json")


class FakeHealthchecks:
    """A real HTTP server on a free loopback port, in a thread; a context manager.

    `base_url` is the server's root; `ping_base` is where pings go in this
    mode (the root for `hosted`, `/ping` for `selfhosted`); `api_url` is the
    site root for the v3 management API.
    """

    def __init__(
        self,
        *,
        mode: str = "selfhosted",
        body_limit: int | None = None,
        faults: str | None = None,
        record: Path | str | None = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        api_key: str = DEFAULT_API_KEY,
        ping_key: str = DEFAULT_PING_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if not PING_KEY_RE.match(ping_key):
            raise ValueError(f"ping key {ping_key!r}: only letters, digits, - and _")
        self.mode = mode
        self.body_limit = body_limit if body_limit is not None else DEFAULT_BODY_LIMITS[mode]
        self.project = Project(
            api_key=api_key, ping_key=ping_key, body_limit=self.body_limit, rate_limit=rate_limit
        )
        self.faults = FaultInjector(FaultPlan.parse(faults))
        self.stopping = threading.Event()
        self._host = host
        self._port = port
        self._own_dir: Path | None = None
        if record is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="fake-healthchecks-"))
            record = self._own_dir / "record.jsonl"
        self.record_path = Path(record)
        self._record_lock = threading.Lock()
        self._record_file: Any = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle -------------------------------------------------------------
    def start(self) -> FakeHealthchecks:
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        self._record_file = open(self.record_path, "a", encoding="utf-8")  # noqa: SIM115
        self.record_path.chmod(0o600)  # ping bodies can hold a job's output
        self._server = _Server((self._host, self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns quickly
            name="fake-healthchecks",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._record_lock:
            if self._record_file is not None:
                self._record_file.close()
                self._record_file = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> FakeHealthchecks:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses and keys -----------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not running"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ping_base(self) -> str:
        return self.base_url if self.mode == "hosted" else f"{self.base_url}/ping"

    @property
    def api_url(self) -> str:
        return self.base_url

    @property
    def api_key(self) -> str:
        return self.project.api_key

    @property
    def ping_key(self) -> str:
        return self.project.ping_key

    def ping_url(self, check: Check) -> str:
        return f"{self.ping_base}/{check.uuid}"

    # State for tests ----------------------------------------------------------
    @property
    def checks(self) -> list[Check]:
        with self.project.lock:
            return list(self.project.checks)

    def check(self, slug: str) -> Check:
        """The one check with this slug (AssertionError if none or several)."""
        found = self.project.by_slug(slug)
        assert len(found) == 1, f"{len(found)} checks with slug {slug!r}"
        return found[0]

    def add_check(self, name: str, slug: str = "", **fields: Any) -> Check:
        return self.project.add_check(name, slug, **fields)

    def set_faults(self, spec: str | None) -> None:
        self.faults = FaultInjector(FaultPlan.parse(spec))

    def records(self) -> list[dict[str, Any]]:
        with self._record_lock:
            if self._record_file is not None:
                self._record_file.flush()
        if not self.record_path.exists():
            return []
        return [
            json.loads(line)
            for line in self.record_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]

    # Request handling ---------------------------------------------------------
    def record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        status: int | None,
        answer: bytes,
        info: RequestInfo,
    ) -> None:
        text = body.decode("utf-8", errors="replace")
        if path.startswith("/api/") and "api_key" in text:
            text = _hide_api_key(text)
        line = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "query": query,
            "body": text,
            "body_bytes": len(body),
            "status": status,
            "answer": answer.decode("utf-8", errors="replace")[:200],
            **info.__dict__,
        }
        with self._record_lock:
            if self._record_file is not None:
                self._record_file.write(json.dumps(line, ensure_ascii=False) + "\n")
                self._record_file.flush()

    def ping(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        info: RequestInfo,
        fault: str | None,
    ) -> Answer:
        if method not in ("GET", "POST", "HEAD"):
            return _text(405, "method not allowed")
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["ping"]:
            segments = segments[1:]
        target, action = self._route(segments)
        if target is None:
            return _text(404, "not found")
        info.kind = action
        exit_status: int | None = None
        if action.isdigit():
            exit_status = int(action)
            info.exit_status = exit_status
            action = "success" if exit_status == 0 else "fail"
        by_slug = len(target) == 2
        created = False
        check: Check | None
        if by_slug:
            ping_key, slug = target
            info.slug = slug
            found = self.project.by_slug(slug) if ping_key == self.project.ping_key else []
            if len(found) > 1:
                return _text(409, "ambiguous slug")
            check = found[0] if found else None
            if check is None and query.get("create") == "1" and ping_key == self.project.ping_key:
                check = self.project.add_check(slug, slug)
                created = True
        else:
            check = self.project.by_uuid(target[0])
        if check is None:
            return self._not_found()
        info.check = check.uuid
        info.slug = check.slug or info.slug
        if exit_status is not None and exit_status > 255:
            return _text(400, "invalid url format")
        rid = query.get("rid")
        if rid is not None:
            if not _is_uuid(rid):
                return _text(400, "invalid uuid format")
            info.rid = rid
        if fault == "ratelimit":
            outcome = PingOutcome(rate_limited=True)
        else:
            outcome = self.project.ping(
                check, action=action, exit_status=exit_status, rid=rid, method=method, body=body
            )
        if outcome.rate_limited:
            if self.mode == "hosted" and not by_slug:
                return _text(200, "OK (rate limited)")
            return _text(429, "rate limited")
        info.stored_bytes = min(len(body), self.body_limit)
        headers = {"Ping-Body-Limit": str(self.body_limit), "Access-Control-Allow-Origin": "*"}
        if created:
            return _text(201, "Created", headers)
        return _text(200, "OK", headers)

    @staticmethod
    def _route(segments: list[str]) -> tuple[tuple[str, ...] | None, str]:
        """(uuid,) or (ping key, slug), and the action: success, start, fail, log or digits."""
        if not segments or len(segments) > 3:
            return None, ""
        if UUID_RE.match(segments[0]):
            if len(segments) == 1:
                return (segments[0],), "success"
            if len(segments) == 2 and (segments[1] in ACTIONS or segments[1].isdigit()):
                return (segments[0],), segments[1]
            return None, ""
        if len(segments) < 2 or not PING_KEY_RE.match(segments[0]):
            return None, ""
        if not re.match(r"^[-a-zA-Z0-9_]+$", segments[1]):
            return None, ""
        if len(segments) == 2:
            return (segments[0], segments[1]), "success"
        if segments[2] in ACTIONS or segments[2].isdigit():
            return (segments[0], segments[1]), segments[2]
        return None, ""

    def _not_found(self) -> Answer:
        if self.mode == "hosted":
            return _text(200, "OK (not found)")
        return _text(404, "not found")

    def api(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        headers: Any,
        info: RequestInfo,
        fault: str | None,
    ) -> Answer:
        match = re.match(r"^/api/v3/checks/(?:([0-9a-f-]{36}))?$", path)
        if not match:
            return _json(404, {"error": "not found"})
        doc: Any = None
        if method == "POST":
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                return _json(400, {"error": "could not parse request body"})
        key = headers.get("X-Api-Key") or (doc.get("api_key") if isinstance(doc, dict) else None)
        if not key:
            return _json(401, {"error": "missing api key"})
        if key != self.project.api_key:
            return _json(401, {"error": "wrong api key"})
        if fault == "ratelimit":
            return _json(429, {"error": "rate limited"})
        code = match.group(1)
        if code is None and method == "GET":
            info.kind = "api-list"
            checks = self.checks
            if "slug" in query:
                checks = [c for c in checks if c.slug == query["slug"]]
                info.slug = query["slug"]
            return _json(200, {"checks": [self._check_dict(c) for c in checks]})
        if code is None and method == "POST":
            try:
                spec = validate_spec(doc)
            except SpecError as error:
                return _json(400, {"error": str(error)})
            check, created = self.project.create_or_update(spec)
            info.kind = "api-create" if created else "api-update"
            info.check, info.slug = check.uuid, check.slug
            return _json(201 if created else 200, self._check_dict(check))
        if code is not None and method in ("GET", "POST"):
            found = self.project.by_uuid(code)
            if found is None:
                return _json(404, {"error": "not found"})
            info.check, info.slug = found.uuid, found.slug
            if method == "POST":
                try:
                    self.project.update(found, validate_spec(doc))
                except SpecError as error:
                    return _json(400, {"error": str(error)})
                info.kind = "api-update"
            else:
                info.kind = "api-get"
            return _json(200, self._check_dict(found))
        return _json(405, {"error": "method not allowed"})

    def _check_dict(self, check: Check) -> dict[str, Any]:
        return check.to_dict(self.ping_url(check), self.api_url)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _hide_api_key(text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and "api_key" in doc:
        doc["api_key"] = "<hidden>"
        return json.dumps(doc)
    return text
