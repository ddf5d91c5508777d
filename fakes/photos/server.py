"""The HTTP server: photos.google.com's pages, its internal JSON calls, sign-in,
downloads, and the `/_fake/` admin endpoints that tests use.

URL paths (P is empty or `/u/<n>`):

    P/                      the library grid (single-page app)
    P/photo/<id>            the viewer of one item (same app)
    /u/<n>                  redirects to /u/<n>/
    P/_/PhotosUi/data/batchexecute   the app's internal JSON calls (POST)
    /_/dl/<id>?authuser=..  a download (signed URL handed out by the app)
    /_/static/...           the app's script and style sheet
    /login                  signed in: to /; signed out: to sign-in
    /v3/signin/identifier   sign-in, step 1 (email); GET and POST
    /v3/signin/challenge/pwd  sign-in, step 2 (any password); GET and POST
    /Logout                 signs every account of the browser out
    /photos/about/          where signed-out visits end
    /_fake/...              admin endpoints (never part of the contract):
        GET  manifest, stats
        POST revoke {"account"}, grow {"items"}, delete {"account", "id"},
             ready {"account", "id"}
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import re
import select
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fakes.photos import i18n, pages
from fakes.photos.faults import FaultInjector, FaultSpec, parse_fault_spec
from fakes.photos.library import ItemSpec, Library, full_name
from fakes.photos.manifest import ManifestBuilder
from fakes.photos.media import MediaFactory
from fakes.photos.sessions import COOKIE_MAX_AGE, COOKIE_NAME, Sessions

STATIC_DIR = Path(__file__).parent / "static"
PAGE_SIZE = 200  # items per internal list call, as the real app fetches in pages
LIST_DELAY_MS = 120  # the list calls take a moment, so scrolling loads "a little later"
ITEM_DELAY_MS = 25
DOWNLOAD_URL_TTL = 3600
STALL_LIMIT_SECONDS = 1800
ABOUT_PATH = "/photos/about/"

_RPC_SKELETON = "lcxiM"
_RPC_PAGE = "EzkLib"
_RPC_ITEM = "VrseUb"
_RPC_DOWNLOAD = "pLFTfd"

_APP_PATH = re.compile(r"^(?:/u/(\d{1,3}))?/(?:photo/([A-Za-z0-9_-]{1,200}))?$")
_RPC_PATH = re.compile(r"^(?:/u/(\d{1,3}))?/_/PhotosUi/data/batchexecute$")
_BARE_USER = re.compile(r"^/u/(\d{1,3})$")
_DOWNLOAD_PATH = re.compile(r"^/_/dl/([A-Za-z0-9_-]{1,200})$")
_CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".zip": "application/zip",
}


class Stats:
    """What the server answered: for tests that count requests and downloads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: deque[dict[str, Any]] = deque(maxlen=200_000)
        self.by_kind: Counter[str] = Counter()
        self.downloads_started: Counter[str] = Counter()
        self.downloads_completed: Counter[str] = Counter()
        self.bytes_sent = 0
        self.headless_user_agents = 0

    def record(self, method: str, path: str, kind: str, status: int, user_agent: str) -> None:
        with self._lock:
            self.requests.append(
                {
                    "time": time.time(),
                    "method": method,
                    "path": path,
                    "kind": kind,
                    "status": status,
                }
            )
            self.by_kind[kind] += 1
            if "HeadlessChrome" in user_agent:
                self.headless_user_agents += 1

    def download_started(self, item_id: str) -> None:
        with self._lock:
            self.downloads_started[item_id] += 1

    def download_completed(self, item_id: str, size: int, undo: bool = False) -> None:
        step = -1 if undo else 1
        with self._lock:
            self.downloads_completed[item_id] += step
            self.bytes_sent += step * size
            if self.downloads_completed[item_id] <= 0:
                del self.downloads_completed[item_id]

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "by_kind": dict(self.by_kind),
                "downloads_started": dict(self.downloads_started),
                "downloads_completed": dict(self.downloads_completed),
                "bytes_sent": self.bytes_sent,
                "headless_user_agents": self.headless_user_agents,
                "requests": len(self.requests),
            }


class PhotosApp:
    """The state behind the server: library, media, sessions, faults, stats."""

    def __init__(
        self,
        items: int,
        seed: int,
        accounts: list[str],
        latency_ms: int = 0,
        faults: FaultSpec | str | None = None,
        media_scale: float = 1.0,
        manifest_path: Path | None = None,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency cannot be negative")
        self.seed = seed
        self.latency = latency_ms / 1000
        self.library = Library(seed, [a.strip().lower() for a in accounts], items)
        self.media = MediaFactory(seed, media_scale)
        self.sessions = Sessions(seed, self.library.accounts)
        spec = faults if isinstance(faults, FaultSpec) else parse_fault_spec(faults)
        self.faults = FaultInjector(spec)
        self.manifests = ManifestBuilder(self.library, self.media)
        self.manifest_path = manifest_path
        self.stats = Stats()
        self.stopping = threading.Event()
        self._skeletons: dict[tuple[str, str], tuple[int, dict[str, Any], dict[str, int]]] = {}
        self._skeleton_lock = threading.Lock()

    # --- what tests and the admin endpoints change ---------------------------------

    def write_manifest(self) -> dict[str, Any]:
        if self.manifest_path is not None:
            return self.manifests.write(self.manifest_path)
        return self.manifests.build()

    def revoke(self, email: str) -> None:
        email = email.strip().lower()
        if not self.sessions.knows(email):
            raise KeyError(f"no account {email} in this fake")
        self.sessions.revoke(email)

    def grow(self, items: int) -> dict[str, Any]:
        self.library.grow(items)
        return self.write_manifest()

    def delete(self, email: str, target_id: str) -> dict[str, Any]:
        self.library.delete(email.strip().lower(), target_id)
        return self.write_manifest()

    def make_ready(self, email: str, target_id: str) -> dict[str, Any]:
        self.library.make_ready(email.strip().lower(), target_id)
        return self.write_manifest()

    # --- what the app's JSON calls answer -----------------------------------------

    def skeleton(self, account: str, lang: str) -> tuple[dict[str, Any], dict[str, int]]:
        """The grid's outline (pages and day runs) and each visible id's position."""
        version = self.library.version
        with self._skeleton_lock:
            cached = self._skeletons.get((account, lang))
            if cached is not None and cached[0] == version:
                return cached[1], cached[2]
        visible = self.library.visible(account)
        positions = {spec.item_id: index for index, spec in enumerate(visible)}
        page_list = []
        for start in range(0, len(visible), PAGE_SIZE):
            chunk = visible[start : start + PAGE_SIZE]
            runs: list[list[Any]] = []
            for spec in chunk:
                day = spec.taken_local.date()
                key = day.isoformat()
                if runs and runs[-1][0] == key:
                    runs[-1][3] += 1
                else:
                    runs.append(
                        [
                            key,
                            i18n.label(lang, "select_all", date=i18n.day_label(lang, day)),
                            i18n.day_heading(lang, day),
                            1,
                        ]
                    )
            token = f"{chunk[0].k + 1}.{chunk[-1].k}"
            page_list.append({"t": token, "n": len(chunk), "d": runs})
        outline = {"total": len(visible), "pages": page_list}
        with self._skeleton_lock:
            self._skeletons[(account, lang)] = (version, outline, positions)
        return outline, positions

    def item_aria(self, spec: ItemSpec, lang: str) -> str:
        kind = i18n.label(lang, "video" if spec.kind == "video" else "photo")
        shape = i18n.label(lang, "landscape" if spec.landscape else "portrait")
        return f"{kind} - {shape} - {i18n.grid_datetime(lang, spec.taken_local)}"

    def page_items(self, account: str, token: str, lang: str) -> list[list[Any]]:
        try:
            high, low = (int(x) for x in token.split("."))
        except ValueError:
            return []
        specs = self.library.specs(account)
        found = []
        for k in range(min(high, len(specs)) - 1, max(low, 0) - 1, -1):
            spec = specs[k]
            if self.library.state(spec) == "deleted":
                continue
            found.append(
                [
                    spec.item_id,
                    self.item_aria(spec, lang),
                    spec.kind,
                    spec.landscape,
                    spec.hue,
                ]
            )
        return found

    def item_info(self, account: str, spec: ItemSpec, lang: str) -> dict[str, Any]:
        _, positions = self.skeleton(account, lang)
        local = spec.taken_local
        state = self.library.state(spec)
        info = {
            "id": spec.item_id,
            "index": positions.get(spec.item_id, -1),
            "kind": spec.kind,
            "state": state,
            "edited": spec.edited,
            "landscape": spec.landscape,
            "hue": spec.hue,
            "aria": self.item_aria(spec, lang),
            "filename": spec.filename,
            "date": i18n.day_label(lang, local.date()),
            "time": i18n.info_time(lang, local),
            "zone": i18n.gmt_offset(spec.utc_offset_minutes),
            "camera": f"{spec.camera.make} {spec.camera.model}",
        }
        if state == "processing":
            info["processing"] = i18n.sentence(lang, "processing")
        return info


def _http_date(moment: float) -> str:
    return email.utils.formatdate(moment, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    timeout = 120  # idle keep-alive connections end eventually

    server: _Server

    # --- plumbing ----------------------------------------------------------------------

    @property
    def app(self) -> PhotosApp:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are kept in Stats; the session cookie is never logged

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._kind = "other"
        self._status = 0
        parts = urllib.parse.urlsplit(self.path)
        self._path = parts.path
        self._query = urllib.parse.parse_qs(parts.query)
        self._body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length > 0 else b""
        try:
            if self._path.startswith("/_fake/"):
                self._kind = "admin"
                self._admin(method)
            else:
                if self.app.latency:
                    time.sleep(self.app.latency)
                self._route(method)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        finally:
            self.app.stats.record(
                method, self._path, self._kind, self._status, self.headers.get("User-Agent", "")
            )

    def _q(self, name: str) -> str | None:
        values = self._query.get(name)
        return values[0] if values else None

    def _cookie(self) -> str | None:
        for header in self.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                name, _, value = pair.strip().partition("=")
                if name == COOKIE_NAME:
                    return value
        return None

    def _origin(self) -> str:
        address = self.server.server_address
        host = self.headers.get("Host") or f"{address[0]!s}:{address[1]!s}"
        return f"http://{host}"

    def _send(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(302, "", headers={"Location": location, **(headers or {})})

    def _error(self, status: int) -> None:
        self._send(status, pages.google_error(status))

    def _lang(self) -> str:
        return i18n.pick_language(self._q("hl"), self.headers.get("Accept-Language"))

    def _account(self, index: int) -> str | None:
        """The account served at /u/<index>/, after a possible injected expiry."""
        email_address = self.app.sessions.account_at(self._cookie(), index)
        if email_address is not None and self.app.faults.expire(email_address):
            self.app.sessions.revoke(email_address)
            return None
        return email_address

    # --- routes ------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        path = self._path
        if path.startswith("/_/static/"):
            self._kind = "static"
            return self._static(path[len("/_/static/") :])
        if path == "/favicon.ico":
            return self._send(204, b"", "image/x-icon")
        if path in (ABOUT_PATH, ABOUT_PATH.rstrip("/")):
            self._kind = "about"
            if path != ABOUT_PATH:
                return self._redirect(ABOUT_PATH)
            return self._send(200, pages.about_page(self._lang(), "/login"))
        if path == "/login":
            self._kind = "login"
            return self._login()
        if path == "/Logout":
            self._kind = "signin"
            return self._redirect(ABOUT_PATH, {"Set-Cookie": self._cookie_header("", 0)})
        if path == "/v3/signin/identifier":
            self._kind = "signin"
            return self._signin_identifier(method)
        if path == "/v3/signin/challenge/pwd":
            self._kind = "signin"
            return self._signin_password(method)
        match = _DOWNLOAD_PATH.match(path)
        if match:
            self._kind = "download"
            return self._download(match.group(1))
        match = _RPC_PATH.match(path)
        if match and method == "POST":
            self._kind = "rpc"
            return self._rpc(int(match.group(1) or 0))
        match = _BARE_USER.match(path)
        if match:
            return self._redirect(f"/u/{match.group(1)}/")
        match = _APP_PATH.match(path)
        if match and method == "GET":
            self._kind = "page"
            return self._app_page(int(match.group(1) or 0), match.group(2))
        self._kind = "unknown"
        return self._error(404)

    def _static(self, name: str) -> None:
        target = (STATIC_DIR / name).resolve()
        if target.parent != STATIC_DIR.resolve() or not target.is_file():
            return self._error(404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        self._status = 200
        data = target.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "public, max-age=300")
        self.end_headers()
        self.wfile.write(data)

    def _cookie_header(self, value: str, max_age: int) -> str:
        expires = _http_date(time.time() + max_age) if max_age else _http_date(0)
        return (
            f"{COOKIE_NAME}={value}; Path=/; Expires={expires}; Max-Age={max_age}; "
            "HttpOnly; SameSite=Lax"
        )

    def _signin_url(self, continue_url: str) -> str:
        query = urllib.parse.urlencode(
            {
                "continue": continue_url,
                "followup": continue_url,
                "passive": "1209600",
                "service": "photos",
                "flowName": "GlifWebSignIn",
                "flowEntry": "ServiceLogin",
            }
        )
        return f"/v3/signin/identifier?{query}"

    def _login(self) -> None:
        if self._account(0) is not None:
            return self._redirect("/")
        return self._redirect(self._signin_url(self._origin() + "/"))

    def _safe_continue(self, raw: str | None) -> str:
        """Only this server's own paths; anything else continues to the library."""
        if not raw:
            return "/"
        parts = urllib.parse.urlsplit(raw)
        if parts.netloc and parts.netloc != (self.headers.get("Host") or ""):
            return "/"
        path = parts.path or "/"
        if not path.startswith("/") or path.startswith("//"):
            return "/"
        return urllib.parse.urlunsplit(("", "", path, parts.query, ""))

    def _form(self) -> dict[str, str]:
        fields = urllib.parse.parse_qs(self._body.decode("utf-8", "replace"))
        return {name: values[0] for name, values in fields.items()}

    def _signin_identifier(self, method: str) -> None:
        if method == "GET":
            return self._send(200, pages.signin_identifier(self._q("continue") or "/"))
        form = self._form()
        continue_url = form.get("continue") or "/"
        address = (form.get("identifier") or "").strip().lower()
        if not self.app.sessions.knows(address):
            page = pages.signin_identifier(
                continue_url, address, "Couldn\u2019t find your Google Account"
            )
            return self._send(200, page)
        state = self.app.sessions.signer.sign("tl", [address, int(time.time()) + 1800])
        query = urllib.parse.urlencode({"TL": state, "continue": continue_url})
        return self._redirect(f"/v3/signin/challenge/pwd?{query}")

    def _signin_state(self, token: str | None) -> str | None:
        payload = self.app.sessions.signer.verify("tl", token)
        if (
            isinstance(payload, list)
            and len(payload) == 2
            and isinstance(payload[0], str)
            and isinstance(payload[1], int)
            and payload[1] > time.time()
        ):
            return payload[0]
        return None

    def _signin_password(self, method: str) -> None:
        if method == "GET":
            continue_url = self._q("continue") or "/"
            address = self._signin_state(self._q("TL"))
            if address is None:
                return self._redirect(self._signin_url(continue_url))
            return self._send(
                200, pages.signin_password(address, self._q("TL") or "", continue_url)
            )
        form = self._form()
        continue_url = form.get("continue") or "/"
        address = self._signin_state(form.get("TL"))
        if address is None:
            return self._redirect(self._signin_url(continue_url))
        value, index = self.app.sessions.add(self._cookie(), address)
        target = self._safe_continue(continue_url)
        if target == "/" and index > 0:
            target = f"/u/{index}/"
        return self._redirect(target, {"Set-Cookie": self._cookie_header(value, COOKIE_MAX_AGE)})

    def _app_page(self, index: int, photo_id: str | None) -> None:
        address = self._account(index)
        if address is None:
            return self._redirect(ABOUT_PATH)
        if self.app.faults.server_error("page", self._path):
            return self._error(self.app.faults.error_status("page", self._path))
        lang = self._lang()
        prefix = f"/u/{index}/" if index else "/"
        name = full_name(address)
        signed_in = self.app.sessions.signed_in(self._cookie())
        labels = {k: v for k, v in i18n.LABELS[lang].items() if k not in ("account",)}
        init = {
            "lang": lang,
            "prefix": prefix,
            "authuser": index,
            "account": {"name": name, "email": address},
            "accounts": [{"index": i, "name": full_name(e), "email": e} for i, e in signed_in],
            "labels": labels,
            "at": self.app.sessions.signer.sign("xsrf", address),
            "rpc": f"{prefix}_/PhotosUi/data/batchexecute",
            "view": "photo" if photo_id else "grid",
            "photoId": photo_id,
            "addAccount": self._signin_url(self._origin() + "/"),
        }
        account_label = i18n.label(lang, "account", name=name, email=address)
        return self._send(200, pages.app_shell(lang, prefix, account_label, init))

    # --- the app's internal JSON calls -------------------------------------------------

    def _rpc_answer(self, rpc_id: str, payload: Any) -> None:
        envelope = [
            [
                "wrb.fr",
                rpc_id,
                json.dumps(payload, ensure_ascii=False),
                None,
                None,
                None,
                "generic",
            ],
            ["di", 42],
            ["af.httprm", 41, "-1", 7],
        ]
        body = ")]}'\n\n" + json.dumps(envelope, ensure_ascii=False)
        self._send(200, body, "application/json; charset=utf-8")

    def _rpc(self, index: int) -> None:
        self._authuser = index
        address = self._account(index)
        if address is None:
            return self._send(
                401, ')]}\'\n\n[["er",null,null,null,null,401]]', "application/json; charset=utf-8"
            )
        form = self._form()
        if self.app.sessions.signer.verify("xsrf", form.get("at")) != address:
            return self._send(
                400, ')]}\'\n\n[["er",null,null,null,null,400]]', "application/json; charset=utf-8"
            )
        try:
            request = json.loads(form.get("f.req") or "")
            rpc_id, raw_args = request[0][0][0], request[0][0][1]
            args = json.loads(raw_args) if raw_args else []
        except (ValueError, IndexError, TypeError, KeyError):
            return self._send(
                400, ')]}\'\n\n[["er",null,null,null,null,400]]', "application/json; charset=utf-8"
            )
        if not isinstance(args, list):
            args = []
        if self.app.faults.server_error("rpc", f"{rpc_id}:{json.dumps(args)}"):
            return self._error(self.app.faults.error_status("rpc", rpc_id))
        lang = i18n.pick_language(self._q("hl"), self.headers.get("Accept-Language"))
        handlers: dict[str, Callable[[str, list[Any], str], Any]] = {
            _RPC_SKELETON: self._rpc_skeleton,
            _RPC_PAGE: self._rpc_page,
            _RPC_ITEM: self._rpc_item,
            _RPC_DOWNLOAD: self._rpc_download,
        }
        handler = handlers.get(rpc_id)
        if handler is None:
            return self._send(
                400, ')]}\'\n\n[["er",null,null,null,null,400]]', "application/json; charset=utf-8"
            )
        self._kind = f"rpc:{rpc_id}"
        delay = LIST_DELAY_MS if rpc_id in (_RPC_SKELETON, _RPC_PAGE) else ITEM_DELAY_MS
        time.sleep(delay / 1000)
        return self._rpc_answer(rpc_id, handler(address, args, lang))

    def _rpc_skeleton(self, address: str, args: list[Any], lang: str) -> Any:
        outline, _ = self.app.skeleton(address, lang)
        return outline

    def _rpc_page(self, address: str, args: list[Any], lang: str) -> Any:
        token = str(args[0]) if args else ""
        return {"t": token, "items": self.app.page_items(address, token, lang)}

    def _not_found(self, lang: str, args: list[Any]) -> dict[str, Any]:
        url = str(args[1]) if len(args) > 1 else ""
        return {
            "notFound": {
                "title": i18n.sentence(lang, "not_found_title"),
                "text": i18n.sentence(lang, "not_found", url=url),
                "code": i18n.sentence(lang, "not_found_code"),
            }
        }

    def _rpc_item(self, address: str, args: list[Any], lang: str) -> Any:
        spec = self.app.library.find(address, str(args[0])) if args else None
        if spec is None or self.app.library.state(spec) == "deleted":
            return self._not_found(lang, args)
        return self.app.item_info(address, spec, lang)

    def _rpc_download(self, address: str, args: list[Any], lang: str) -> Any:
        spec = self.app.library.find(address, str(args[0])) if args else None
        original = bool(args[2]) if len(args) > 2 else False
        if spec is None or self.app.library.state(spec) == "deleted":
            return self._not_found(lang, args)
        if self.app.library.state(spec) == "processing":
            return {"toast": i18n.sentence(lang, "processing_toast")}
        index = self._authuser
        expires = int(time.time()) + DOWNLOAD_URL_TTL
        signature = self.app.sessions.signer.sign(
            "dl", [address, spec.item_id, int(original), expires]
        )
        query = urllib.parse.urlencode(
            {
                "authuser": index,
                "o": int(original),
                "exp": expires,
                "sig": signature,
            }
        )
        return {"url": f"/_/dl/{spec.item_id}?{query}"}

    # --- downloads ---------------------------------------------------------------------

    def _download(self, target_id: str) -> None:
        try:
            index = int(self._q("authuser") or 0)
            original = self._q("o") == "1"
            expires = int(self._q("exp") or 0)
        except ValueError:
            return self._error(400)
        address = self._account(index)
        if address is None:
            return self._redirect(self._signin_url(self._origin() + "/"))
        expected = [address, target_id, int(original), expires]
        if (
            self.app.sessions.signer.verify("dl", self._q("sig")) != expected
            or expires < time.time()
        ):
            return self._error(403)
        spec = self.app.library.find(address, target_id)
        if spec is None or self.app.library.state(spec) != "ok":
            return self._error(404)
        fault = self.app.faults.download_fault(f"{address}/{target_id}/{int(original)}")
        if fault == "5xx":
            return self._error(self.app.faults.error_status("download", target_id))
        named = self.app.media.download(spec, original=original)
        blob = named.blob
        size = blob.size
        suffix = "." + named.name.rsplit(".", 1)[-1].lower() if "." in named.name else ""
        self._status = 200
        self.app.stats.download_started(target_id)
        self.send_response(200)
        self.send_header("Content-Type", _CONTENT_TYPES.get(suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Disposition", content_disposition(named.name))
        self.send_header("Cache-Control", "private, max-age=86400, no-transform")
        self.send_header("Last-Modified", _http_date(spec.taken_utc.timestamp()))
        self.end_headers()
        cut = size
        if fault in ("stall", "reset"):
            cut = _cut_point(self.app.seed, target_id, size)
        sent = 0
        counted = False
        try:
            for chunk in blob.chunks():
                if self.app.stopping.is_set():
                    self.close_connection = True
                    return
                if sent + len(chunk) > cut:
                    chunk = chunk[: cut - sent]
                if cut == size and sent + len(chunk) == size:
                    # Counted before the last bytes leave, so a client that has them all
                    # never reads a stale count; taken back below if that write fails.
                    self.app.stats.download_completed(target_id, size)
                    counted = True
                if chunk:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                if sent >= cut:
                    break
        except BaseException:
            if counted:
                self.app.stats.download_completed(target_id, size, undo=True)
            raise
        if sent < size:
            self.wfile.flush()
            if fault == "stall":
                self._stall()
            self._reset()

    def _stall(self) -> None:
        """Send nothing more until the client gives up (or the server stops)."""
        connection = self.connection
        deadline = time.monotonic() + STALL_LIMIT_SECONDS
        while not self.app.stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([connection], [], [], 0.25)
            if readable:
                try:
                    if not connection.recv(1, socket.MSG_PEEK):
                        return  # the client closed the connection
                except OSError:
                    return

    def _reset(self) -> None:
        """Abort the connection with a TCP reset, as a failing front end would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    # --- admin -------------------------------------------------------------------------

    def _admin_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False), "application/json")

    def _admin(self, method: str) -> None:
        action = self._path[len("/_fake/") :].strip("/")
        app = self.app
        try:
            if method == "GET" and action == "manifest":
                return self._admin_json(200, app.manifests.build())
            if method == "GET" and action == "stats":
                stats = app.stats.snapshot()
                stats["faults"] = dict(app.faults.injected)
                return self._admin_json(200, stats)
            if method != "POST":
                return self._admin_json(405, {"error": f"{method} /_fake/{action} is not known"})
            body = self._admin_body()
            if action == "revoke":
                app.revoke(str(body["account"]))
                return self._admin_json(200, {"revoked": body["account"]})
            if action == "grow":
                manifest = app.grow(int(body["items"]))
                return self._admin_json(200, {"items": manifest["items_per_account"]})
            if action == "delete":
                app.delete(str(body["account"]), str(body["id"]))
                return self._admin_json(200, {"deleted": body["id"]})
            if action == "ready":
                app.make_ready(str(body["account"]), str(body["id"]))
                return self._admin_json(200, {"ready": body["id"]})
            return self._admin_json(404, {"error": f"no admin action '{action}'"})
        except KeyError as missing:
            return self._admin_json(400, {"error": f"missing or unknown: {missing}"})
        except ValueError as problem:
            return self._admin_json(400, {"error": str(problem)})

    def _admin_body(self) -> dict[str, Any]:
        if not self._body:
            return {name: values[0] for name, values in self._query.items()}
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            loaded = json.loads(self._body)
            if not isinstance(loaded, dict):
                raise ValueError("the body must be a JSON object")
            return loaded
        return self._form()


def _cut_point(seed: int, target_id: str, size: int) -> int:
    """Where a stalled or reset download stops: somewhere inside the body."""
    digest = hashlib.sha256(f"{seed}\x1fcut\x1f{target_id}".encode()).digest()
    fraction = 0.1 + 0.8 * int.from_bytes(digest[:4], "big") / 2**32
    return max(0, min(size - 1, int(size * fraction)))


def content_disposition(name: str) -> str:
    """An attachment header with an ASCII fallback and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in name)
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: PhotosApp) -> None:
        self.app = app
        super().__init__(address, _Handler)


class PhotosServer:
    """The fake listening on a socket; `serve_forever` in the caller's thread."""

    def __init__(self, app: PhotosApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = _Server((host, port), app)

    @property
    def base_url(self) -> str:
        address = self._server.server_address
        host, port = str(address[0]), int(address[1])
        if host in ("0.0.0.0", "::"):  # noqa: S104 - listening everywhere: loopback reaches it
            host = "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
