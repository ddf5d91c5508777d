"""The HTTP server: photos.google.com's pages, its internal JSON calls, sign-in,
downloads, and the `/_fake/` admin endpoints that tests use.

URL paths (P is empty or `/u/<n>`):

    P/                      the library grid (single-page app), by date taken
    P/photo/<id>            the viewer of one item (same app)
    P/search/_tra_          Recently added: every item by upload time (same app)
    P/search/_tra_/photo/<id>  its viewer (steps in upload order)
    P/archive               the archive grid, by date taken (same app)
    P/archive/photo/<id>    its viewer (steps within the archive)
    P/albums                the albums, as cards (virtualised, [role=main] scroller)
    P/album/<albumId>       an album's items (same app; scroller: a c-wiz c-wiz c-wiz)
    P/album/<albumId>/photo/<albumItemId>   its viewer (steps within the album)
    P/share/<shareId>?key=K a shared album (the key may be left out; a wrong one is a
                            404); /album/<albumId> of a shared album redirects here
    P/share/<shareId>/photo/<albumItemId>?key=K   its viewer
                            A page load of a viewer URL for a deleted or unknown
                            id (or an album item id outside its album, or a deleted
                            or unknown album) is an HTTP 404 with an empty body.
    /u/<n>                  redirects to /u/<n>/
    P/_/PhotosUi/data/batchexecute   the app's internal JSON calls (POST)
    /_/dl/<id>?authuser=..  a download (signed URL handed out by the app)
    /_/static/...           the app's script and style sheet
    /login                  signed in: to /; signed out: to sign-in
    /v3/signin/identifier   sign-in, step 1 (email); GET and POST
    /v3/signin/challenge/pwd  sign-in, step 2 (any password); GET and POST
    /Logout                 signs every account of the browser out
    /photos/about/          where signed-out visits end
    /storage                the storage upsell a confirmed dialog leads to
    /v3/signin/confirmidentifier, /AccountChooser/signinchooser,
    /v3/signin/challenge/dp, /signin/shadowdisambiguate,
    /signin/speedbump/passkeyenrollment, /v3/signin/rejected
                            sign-in interstitials (see INTERSTITIALS)
    /_fake/...              admin endpoints (never part of the contract):
        GET  manifest, stats
        POST revoke {"account"}, grow {"items"}, delete {"account", "id"},
             ready {"account", "id"},
             upload {"account", "taken" (ISO 8601 with offset), "count"},
             archive {"account", "id", "archived" (bool)},
             interstitial {"account", "kind" (see INTERSTITIALS; "" clears)},
             dialog {"account", "kind" (see DIALOGS; "" clears)},
             change {"mode" (see PAGE_CHANGES; "" or null: the normal page)},
             foreign-recent {"on" (bool)},
             caption {"account", "id", "text"}, people {"account", "id", "names"},
             album-rename {"account", "album", "title"}, album-delete {"account", "album"},
             album-remove {"account", "album", "id" (album item id or library id)},
             album-add {"account", "album", "id" (library id)}
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fakes.photos import i18n, pages
from fakes.photos.albums import DEFAULT_ALBUMS, Album, Albums
from fakes.photos.faults import FaultInjector, FaultSpec, parse_fault_spec
from fakes.photos.library import (
    VIEWS,
    ItemSpec,
    Library,
    deleted_probe_id,
    foreign_id,
    full_name,
    item_id,
    person_cast,
    person_id,
    stale_caption,
)
from fakes.photos.manifest import ManifestBuilder
from fakes.photos.media import MediaFactory
from fakes.photos.sessions import COOKIE_MAX_AGE, COOKIE_NAME, Sessions

STATIC_DIR = Path(__file__).parent / "static"
PAGE_SIZE = 200  # items per internal list call, as the real app fetches in pages
LIST_DELAY_MS = 120  # the list calls take a moment, so scrolling loads "a little later"
ITEM_DELAY_MS = 25
# An edited item's data (which adds "Download original" to the menu) takes longer.
EDITED_ITEM_DELAY_MS = (150, 300)
STALE_ANCHORS = 36  # anchors in the hidden stale grid copy
DOWNLOAD_URL_TTL = 3600
STALL_LIMIT_SECONDS = 1800
ABOUT_PATH = "/photos/about/"

_RPC_SKELETON = "lcxiM"
_RPC_PAGE = "EzkLib"
_RPC_ITEM = "VrseUb"
_RPC_DOWNLOAD = "pLFTfd"
_RPC_DIALOG = "Wd3Tfc"
_RPC_ALBUMS = "Z5xsfc"
STALE_ALBUM_ANCHORS = 12  # anchors in the hidden stale copy of an album's items

# View name -> the grid's path after the account prefix (the viewer adds photo/<id>).
VIEW_PATHS = {"library": "", "recent": "search/_tra_", "archive": "archive"}
_APP_PATH = re.compile(
    r"^(?:/u/(?P<user>\d{1,3}))?/"
    r"(?:(?P<view>search/_tra_|archive|albums|album/(?P<album>[A-Za-z0-9_-]{1,200})"
    r"|share/(?P<share>[A-Za-z0-9_-]{1,200}))(?:/|$))?"
    r"(?:photo/(?P<id>[A-Za-z0-9_-]{1,200}))?$"
)
_ALBUM_VIEW = re.compile(r"^album:[A-Za-z0-9_-]{1,200}$")
ALBUMS_VIEW = "albums"
DEFAULT_TITLE = "Photos - Google Photos"
_VIEW_BY_PATH = {path: view for view, path in VIEW_PATHS.items()}

# kind -> (path, page title, heading, text, button or None).
INTERSTITIALS: dict[str, tuple[str, str, str, str, str | None]] = {
    "confirmidentifier": (
        "/v3/signin/confirmidentifier",
        "Sign in - Google Accounts",
        "Verify it\u2019s you",
        "To help keep your account safe, Google wants to make sure it\u2019s really you.",
        "Next",
    ),
    "signinchooser": (
        "/AccountChooser/signinchooser",
        "Sign in - Google Accounts",
        "Choose an account",
        "to continue to Google Photos",
        None,
    ),
    "challenge/dp": (
        "/v3/signin/challenge/dp",
        "Sign in - Google Accounts",
        "Check your phone",
        "Google sent a notification to your phone. Tap Yes on the notification to continue.",
        None,
    ),
    "shadowdisambiguate": (
        "/signin/shadowdisambiguate",
        "Sign in - Google Accounts",
        "Choose an account type",
        "This email is used with more than one account.",
        None,
    ),
    "passkeyenrollment": (
        "/signin/speedbump/passkeyenrollment",
        "Sign in - Google Accounts",
        "Simplify your sign-in",
        "With passkeys, you can use your fingerprint, face or screen lock to sign in.",
        "Not now",
    ),
    "rejected": (
        "/v3/signin/rejected",
        "Sign in - Google Accounts",
        "Couldn\u2019t sign you in",
        "This browser or app may not be secure.",
        None,
    ),
}
_INTERSTITIAL_BY_PATH = {value[0]: kind for kind, value in INTERSTITIALS.items()}


def interstitial_kind(name: str) -> str:
    """The INTERSTITIALS key for `name`: the key itself or any tail of its path
    (`dp`, `signin/challenge/dp`, `/v3/signin/rejected`, ...)."""
    wanted = name.strip().strip("/")
    for kind, value in INTERSTITIALS.items():
        if wanted == kind or value[0].endswith("/" + wanted):
            return kind
    raise ValueError(f"no interstitial '{name}' (known: {', '.join(INTERSTITIALS)})")


STORAGE_PATH = "/storage"
# kind -> what the dialog says (sent to the page only when it is shown).
DIALOGS: dict[str, dict[str, str]] = {
    "storage-full": {
        "title": "Your storage is full",
        "text": "You can\u2019t back up new photos and videos. Get more storage to keep going.",
        "confirm": "Get storage",
        "cancel": "Not now",
    },
}
# How Google might change the page (`FakePhotos.change_page`): mode -> what changes.
# Each changes one thing the contract names; everything else keeps working.
PAGE_CHANGES: dict[str, str] = {
    "more-options": 'the viewer\'s "More options" button is labelled "More actions"',
    "info-labels": 'the info panel\'s labels read "File name:", "Taken on:", "Time:"',
    "grid-anchors": "grid items are div[role=link][data-id], not a[href*='/photo/']",
    "download": 'the menu entry is "Download - Shift+S" and Shift+S (not Shift+D) downloads',
    "recently-added": "a page load of Recently added (/search/_tra_...) is a 404, empty body",
}
DOWNLOAD_KEY = "D"
CHANGED_DOWNLOAD_KEY = "S"


def page_change_mode(mode: str | None) -> str | None:
    """The PAGE_CHANGES key for `mode`; None for the normal page (None or "")."""
    wanted = (mode or "").strip().lower()
    if not wanted or wanted in ("none", "normal"):
        return None
    if wanted not in PAGE_CHANGES:
        raise ValueError(f"no page change '{mode}' (known: {', '.join(PAGE_CHANGES)})")
    return wanted


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
        self.original_downloads: Counter[str] = Counter()
        self.dialog_confirms = 0
        self.dialog_cancels = 0
        self.interstitial_redirects = 0
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

    def download_completed(
        self, item_id: str, size: int, undo: bool = False, original: bool = False
    ) -> None:
        step = -1 if undo else 1
        with self._lock:
            self.downloads_completed[item_id] += step
            self.bytes_sent += step * size
            if self.downloads_completed[item_id] <= 0:
                del self.downloads_completed[item_id]
            if original:
                self.original_downloads[item_id] += step
                if self.original_downloads[item_id] <= 0:
                    del self.original_downloads[item_id]

    def dialog_answered(self, confirmed: bool) -> None:
        with self._lock:
            if confirmed:
                self.dialog_confirms += 1
            else:
                self.dialog_cancels += 1

    def interstitial_shown(self) -> None:
        with self._lock:
            self.interstitial_redirects += 1

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "by_kind": dict(self.by_kind),
                "downloads_started": dict(self.downloads_started),
                "downloads_completed": dict(self.downloads_completed),
                "original_downloads": dict(self.original_downloads),
                "dialog_confirms": self.dialog_confirms,
                "dialog_cancels": self.dialog_cancels,
                "interstitial_redirects": self.interstitial_redirects,
                "bytes_sent": self.bytes_sent,
                "headless_user_agents": self.headless_user_agents,
                "requests": len(self.requests),
            }


@dataclass(frozen=True)
class Resolved:
    """An id as a view shows it: a library item, or an item of an album."""

    view: ItemSpec  # the item under the id in the URL
    source: ItemSpec  # whose bytes, caption and people (the library item, or another's)
    foreign: bool  # someone else's item in a shared album (never in the library)


class PhotosApp:
    """The state behind the server: library, albums, media, sessions, faults, stats."""

    def __init__(
        self,
        items: int,
        seed: int,
        accounts: list[str],
        latency_ms: int = 0,
        faults: FaultSpec | str | None = None,
        media_scale: float = 1.0,
        manifest_path: Path | None = None,
        stale_copies: bool = True,
        albums: int = DEFAULT_ALBUMS,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency cannot be negative")
        self.seed = seed
        self.stale_copies = stale_copies
        self._account_lock = threading.Lock()
        self.interstitials: dict[str, str] = {}
        self.dialogs: dict[str, str] = {}
        self.page_change: str | None = None
        self.foreign_recent = False
        self.latency = latency_ms / 1000
        self.library = Library(seed, [a.strip().lower() for a in accounts], items)
        self.albums = Albums(self.library, albums)
        self.media = MediaFactory(seed, media_scale)
        self._sizes: dict[str, int] = {}
        self.sessions = Sessions(seed, self.library.accounts)
        spec = faults if isinstance(faults, FaultSpec) else parse_fault_spec(faults)
        self.faults = FaultInjector(spec)
        self.manifests = ManifestBuilder(self.library, self.media, self.albums)
        self.manifest_path = manifest_path
        self.stats = Stats()
        self.stopping = threading.Event()
        self._skeletons: dict[
            tuple[str, str, str],
            tuple[int, dict[str, Any], dict[str, int], list[tuple[int, int, int]]],
        ] = {}
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

    def upload_old(self, email: str, taken: dt.datetime, count: int = 1) -> list[str]:
        added = self.library.upload_old(email.strip().lower(), taken, count)
        self.write_manifest()
        return [spec.item_id for spec in added]

    def set_archived(self, email: str, target_id: str, archived: bool) -> dict[str, Any]:
        self.library.set_archived(email.strip().lower(), target_id, archived)
        return self.write_manifest()

    def set_caption(self, email: str, target_id: str, text: str) -> dict[str, Any]:
        self.library.set_caption(email.strip().lower(), target_id, text)
        return self.write_manifest()

    def set_people(self, email: str, target_id: str, names: list[str]) -> dict[str, Any]:
        self.library.set_people(email.strip().lower(), target_id, names)
        return self.write_manifest()

    def rename_album(self, email: str, album_id: str, title: str) -> dict[str, Any]:
        self.albums.rename(email.strip().lower(), album_id, title)
        return self.write_manifest()

    def delete_album(self, email: str, album_id: str) -> dict[str, Any]:
        self.albums.delete(email.strip().lower(), album_id)
        return self.write_manifest()

    def remove_from_album(self, email: str, album_id: str, target_id: str) -> str:
        """Returns the album item id the item had."""
        entry = self.albums.remove(email.strip().lower(), album_id, target_id)
        self.write_manifest()
        return entry.album_item_id

    def add_to_album(self, email: str, album_id: str, target_id: str) -> str:
        """Returns the item's album item id."""
        entry = self.albums.add(email.strip().lower(), album_id, target_id)
        self.write_manifest()
        return entry.album_item_id

    def _known(self, email: str) -> str:
        email = email.strip().lower()
        if email not in self.library.accounts:
            raise KeyError(f"no account {email} in this fake")
        return email

    def set_interstitial(self, email: str, kind: str | None) -> None:
        """Every app page load of `email` redirects to the interstitial `kind` ("" clears)."""
        email = self._known(email)
        if kind:
            kind = interstitial_kind(kind)
        with self._account_lock:
            if kind:
                self.interstitials[email] = kind
            else:
                self.interstitials.pop(email, None)

    def set_dialog(self, email: str, kind: str | None) -> None:
        """App page loads of `email` show the dialog `kind` until it is cancelled once."""
        email = self._known(email)
        if kind and kind not in DIALOGS:
            raise ValueError(f"no dialog '{kind}' (known: {', '.join(DIALOGS)})")
        with self._account_lock:
            if kind:
                self.dialogs[email] = kind
            else:
                self.dialogs.pop(email, None)

    def set_page_change(self, mode: str | None) -> str | None:
        """Serve the page as changed by `mode` (see PAGE_CHANGES; None/"": normal)."""
        changed = page_change_mode(mode)
        with self._account_lock:
            self.page_change = changed
        return changed

    def set_foreign_recent(self, on: bool) -> None:
        """Recently added lists its items under ids that are not the library's."""
        with self._account_lock:
            self.foreign_recent = bool(on)

    def change_now(self) -> str | None:
        with self._account_lock:
            return self.page_change

    def foreign_recent_now(self) -> bool:
        with self._account_lock:
            return self.foreign_recent

    def interstitial_for(self, email: str) -> str | None:
        with self._account_lock:
            return self.interstitials.get(email)

    def dialog_for(self, email: str) -> str | None:
        with self._account_lock:
            return self.dialogs.get(email)

    def answer_dialog(self, email: str, kind: str, confirmed: bool) -> None:
        with self._account_lock:
            pending = self.dialogs.get(email)
            if pending is None or pending != kind:
                return
            if not confirmed:
                del self.dialogs[email]
        self.stats.dialog_answered(confirmed)

    # --- what the app's JSON calls answer -----------------------------------------

    @staticmethod
    def sort_key(spec: ItemSpec, view: str) -> tuple[int, int, int]:
        return spec.upload_key if view == "recent" else spec.grid_key

    def version(self) -> int:
        """Changes whenever what a view shows may have changed (both only grow)."""
        return self.library.version + self.albums.version

    def view_specs(self, account: str, view: str) -> list[ItemSpec]:
        """A view's items, top first: a library view, or an album's (`album:<id>`)."""
        if view.startswith("album:"):
            album = self.albums.album(account, view[len("album:") :])
            return [entry.view for entry in album.entries] if album is not None else []
        return self.library.view(account, view)

    def resolve(self, account: str, shown_id: str) -> Resolved | None:
        """A library id or an album item id of the account; None for anything else.
        A deleted library item still resolves (its state says so); an album no longer
        holds it."""
        spec = self.library.find(account, shown_id)
        if spec is not None:
            return Resolved(spec, spec, False)
        entry = self.albums.entry(account, shown_id)
        if entry is not None:
            return Resolved(entry.view, entry.source, entry.foreign)
        return None

    def state_of(self, found: Resolved) -> str:
        return "ok" if found.foreign else self.library.state(found.source)

    def size_of(self, spec: ItemSpec) -> int:
        """Bytes of the item's download (what Shift+D gives)."""
        size = self._sizes.get(spec.item_id)
        if size is None:
            size = self.media.download(spec).blob.size
            self._sizes[spec.item_id] = size
        return size

    def skeleton(
        self, account: str, lang: str, view: str = "library"
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """A view's outline (pages and day runs) and each listed id's position."""
        found = self._skeleton(account, lang, view)
        return found[0], found[1]

    def _skeleton(
        self, account: str, lang: str, view: str
    ) -> tuple[dict[str, Any], dict[str, int], list[tuple[int, int, int]]]:
        version = self.version()
        with self._skeleton_lock:
            cached = self._skeletons.get((account, lang, view))
            if cached is not None and cached[0] == version:
                return cached[1], cached[2], cached[3]
        visible = self.view_specs(account, view)
        positions = {spec.item_id: index for index, spec in enumerate(visible)}
        # Negated sort keys, ascending: page tokens are key ranges found by bisection.
        keys = [_negate(self.sort_key(spec, view)) for spec in visible]
        page_list = []
        for start in range(0, len(visible), PAGE_SIZE):
            chunk = visible[start : start + PAGE_SIZE]
            runs: list[list[Any]] = []
            for spec in chunk:
                if view == "recent":
                    zone = dt.timezone(dt.timedelta(minutes=spec.utc_offset_minutes))
                    day = spec.uploaded_utc.astimezone(zone).date()
                else:
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
            high = _encode_key(self.sort_key(chunk[0], view))
            low = _encode_key(self.sort_key(chunk[-1], view))
            page_list.append({"t": f"{high}.{low}", "n": len(chunk), "d": runs})
        outline = {"total": len(visible), "view": view, "pages": page_list}
        with self._skeleton_lock:
            self._skeletons[(account, lang, view)] = (version, outline, positions, keys)
        return outline, positions, keys

    def item_aria(self, spec: ItemSpec, lang: str) -> str:
        kind = i18n.label(lang, "video" if spec.kind == "video" else "photo")
        shape = i18n.label(lang, "landscape" if spec.landscape else "portrait")
        return f"{kind} - {shape} - {i18n.grid_datetime(lang, spec.taken_local)}"

    def page_items(
        self, account: str, token: str, lang: str, view: str = "library"
    ) -> list[list[Any]]:
        try:
            high_text, low_text = token.split(".")
            high, low = _decode_key(high_text), _decode_key(low_text)
        except ValueError:
            return []
        _, _, keys = self._skeleton(account, lang, view)
        visible = self.view_specs(account, view)
        start = bisect.bisect_left(keys, _negate(high))
        end = bisect.bisect_right(keys, _negate(low))
        foreign = view == "recent" and self.foreign_recent_now()
        found = []
        for spec in visible[start:end]:
            found.append(
                [
                    foreign_id(self.seed, spec.item_id) if foreign else spec.item_id,
                    self.item_aria(spec, lang),
                    spec.kind,
                    spec.landscape,
                    spec.hue,
                ]
            )
        return found

    def item_info(
        self, account: str, found: Resolved, lang: str, view: str = "library"
    ) -> dict[str, Any]:
        _, positions = self.skeleton(account, lang, view)
        spec = found.view
        local = spec.taken_local
        state = self.state_of(found)
        info: dict[str, Any] = {
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
        info.update(self._item_details(account, found, lang))
        return info

    def album_link(self, album: Album, lang: str, in_panel: bool) -> dict[str, Any]:
        """An album as a link: `./album/<id>`, or `./share/<shareId>` (the albums list
        adds `?key=`); its count, and in the info panel ` · Shared` for a shared one."""
        spec = album.spec
        count = i18n.item_count(lang, len(album.entries))
        if spec.share_id is not None:
            href = f"./share/{spec.share_id}"
            if in_panel:
                count = f"{count} · {i18n.label(lang, 'shared')}"
            else:
                href += f"?key={spec.key}"
        else:
            href = f"./album/{spec.album_id}"
        return {"id": spec.album_id, "href": href, "title": album.title, "count": count}

    def _item_details(self, account: str, found: Resolved, lang: str) -> dict[str, Any]:
        """What the info panel adds from the item's data (with the date): caption, file
        size, albums and people, each with the different values of its hidden duplicate."""
        source = found.source
        caption = self.library.caption(source)
        albums = self.albums.albums_of(account, source.item_id)
        links = [self.album_link(album, lang, in_panel=True) for album in albums]
        inside = {album.album_id for album in albums}
        other = next((a for a in self.albums.albums(account) if a.album_id not in inside), None)
        if other is not None:
            stale_album = self.album_link(other, lang, in_panel=True)
        else:
            ghost = deleted_probe_id(self.seed, account)
            stale_album = {
                "id": ghost,
                "href": f"./album/{ghost}",
                "title": "Untitled",
                "count": i18n.item_count(lang, 0),
            }
        names = [] if found.foreign else list(self.library.people(source))
        cast = person_cast(self.seed, account)
        stale_name = next((n for n in cast if n not in names), "Unknown person")

        def person(name: str) -> dict[str, str]:
            return {"name": name, "href": f"./search/{person_id(self.seed, account, name)}"}

        return {
            "details": {
                "caption": caption,
                "staleCaption": stale_caption(caption),
                "size": i18n.file_size(lang, self.size_of(source)),
                "albums": links,
                "staleAlbums": [stale_album, *links],
                "people": [person(name) for name in names],
                "stalePeople": [person(stale_name), *(person(name) for name in names)],
            }
        }

    def album_cards(self, account: str, lang: str) -> list[list[Any]]:
        """The albums list: [href, title, count, hue] per album, in order."""
        cards = []
        for album in self.albums.albums(account):
            link = self.album_link(album, lang, in_panel=False)
            cards.append([link["href"], link["title"], link["count"], album.spec.hue])
        return cards


def _negate(key: tuple[int, int, int]) -> tuple[int, int, int]:
    return (-key[0], -key[1], -key[2])


def _encode_key(key: tuple[int, int, int]) -> str:
    return "_".join(str(part) for part in key)


def _decode_key(text: str) -> tuple[int, int, int]:
    parts = [int(part) for part in text.split("_")]
    if len(parts) != 3:
        raise ValueError(f"not a page key: {text}")
    return (parts[0], parts[1], parts[2])


def _view_arg(args: list[Any], position: int) -> str:
    view = str(args[position]) if len(args) > position and args[position] else "library"
    return view if view in VIEWS or _ALBUM_VIEW.match(view) else "library"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


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
        if path in _INTERSTITIAL_BY_PATH:
            self._kind = "signin"
            return self._interstitial_page(_INTERSTITIAL_BY_PATH[path])
        if path == STORAGE_PATH:
            self._kind = "storage"
            return self._send(200, pages.storage_page())
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
            user, photo = int(match.group("user") or 0), match.group("id")
            if match.group("album"):
                return self._app_page(user, photo, album_ref=("album", match.group("album")))
            if match.group("share"):
                return self._app_page(user, photo, album_ref=("share", match.group("share")))
            if match.group("view") == ALBUMS_VIEW:
                if photo is not None:
                    return self._error(404)
                return self._app_page(user, None, ALBUMS_VIEW)
            view = _VIEW_BY_PATH[match.group("view") or ""]
            return self._app_page(user, photo, view)
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

    def _interstitial_page(self, kind: str) -> None:
        _, title, heading, text, button = INTERSTITIALS[kind]
        continue_url = self._safe_continue(self._q("continue"))
        return self._send(200, pages.interstitial(title, heading, text, button, continue_url))

    def _stale(self, address: str, view: str, lang: str, photo_id: str | None) -> dict[str, Any]:
        """What the page keeps hidden from an earlier view: anchors of items that are not
        in this view (from another view, or deleted since) and another item's info panel
        (in a c-wiz whose data-media-key is no item's id)."""
        library = self.app.library
        other = {"library": "archive", "archive": "library", "recent": ""}.get(view, "library")
        candidates = list(library.view(address, other)[:STALE_ANCHORS]) if other else []
        generated = [library.spec(address, k) for k in range(min(library.items, 3000))]
        deleted = [s for s in generated if library.state(s) == "deleted"][:8]
        candidates = candidates[: STALE_ANCHORS - len(deleted)] + deleted
        items = [[s.item_id, self.app.item_aria(s, lang)] for s in candidates]
        probe = 0
        while len(items) < STALE_ANCHORS:
            probe += 1
            ghost = item_id(self.app.seed, address, -1_000_000 - probe)
            items.append([ghost, items[-1][1] if items else "Photo - Landscape"])
        current = library.find(address, photo_id) if photo_id else None
        pool = candidates + generated[:50]
        source = next(
            (
                s
                for s in pool
                if s.item_id != photo_id
                and (current is None or s.taken_local.date() != current.taken_local.date())
                and (current is None or s.filename != current.filename)
            ),
            None,
        )
        local = source.taken_local if source is not None else dt.datetime(1999, 12, 31, 23, 59)
        stale: dict[str, Any] = {
            "items": items,
            "info": {
                # Not any item's id: the copy never sits in a shown item's element.
                "id": deleted_probe_id(self.app.seed, address),
                "filename": source.filename if source is not None else "IMG_0000.JPG",
                "date": i18n.day_label(lang, local.date()),
                "time": i18n.info_time(lang, local),
            },
        }
        if view.startswith("album:"):
            stale["album"] = self._stale_album(address, view, lang)
        return stale

    def _stale_album(self, address: str, view: str, lang: str) -> list[list[str]]:
        """Another album's item links (a hidden copy of an earlier album page)."""
        albums = self.app.albums.albums(address)
        other = next((a for a in albums if a.spec.view != view and a.entries), None)
        links = []
        if other is not None:
            link = self.app.album_link(other, lang, in_panel=False)
            base, _, query = link["href"].partition("?")
            for entry in other.entries[:STALE_ALBUM_ANCHORS]:
                href = f"{base}/photo/{entry.album_item_id}" + (f"?{query}" if query else "")
                links.append([href, self.app.item_aria(entry.view, lang)])
        probe = 0
        while len(links) < STALE_ALBUM_ANCHORS:
            probe += 1
            ghost = item_id(self.app.seed, address, -2_000_000 - probe)
            links.append([f"./album/{ghost}/photo/{ghost}", "Photo - Landscape"])
        return links

    def _album_for(
        self, address: str, index: int, photo_id: str | None, album_ref: tuple[str, str]
    ) -> Album | str | None:
        """The album a page load names; a redirect's target (a shared album under
        /album/); None for a 404."""
        kind, ref = album_ref
        albums = self.app.albums
        album = albums.album(address, ref) if kind == "album" else albums.shared_album(address, ref)
        if album is None:
            return None
        spec = album.spec
        if kind == "share":
            key = self._q("key")
            if key is not None and key != spec.key:
                return None
        elif spec.share_id is not None:
            prefix = f"/u/{index}/" if index else "/"
            tail = f"/photo/{photo_id}" if photo_id else ""
            query = {"key": spec.key or ""}
            language = self._q("hl")
            if language:
                query["hl"] = language
            return f"{prefix}share/{spec.share_id}{tail}?{urllib.parse.urlencode(query)}"
        if photo_id is not None:
            entry = albums.entry(address, photo_id)
            if entry is None or entry.album_id != spec.album_id:
                return None
        return album

    def _app_page(
        self,
        index: int,
        photo_id: str | None,
        view: str = "library",
        album_ref: tuple[str, str] | None = None,
    ) -> None:
        address = self._account(index)
        if address is None:
            return self._redirect(ABOUT_PATH)
        kind = self.app.interstitial_for(address)
        if kind is not None:
            self.app.stats.interstitial_shown()
            continue_url = self._origin() + self.path
            query = urllib.parse.urlencode(
                {"continue": continue_url, "authuser": index, "flowName": "GlifWebSignIn"}
            )
            return self._redirect(f"{INTERSTITIALS[kind][0]}?{query}")
        change = self.app.change_now()
        if change == "recently-added" and view == "recent":
            return self._send(404, b"")  # the page was removed
        album: Album | None = None
        if album_ref is not None:
            found = self._album_for(address, index, photo_id, album_ref)
            if found is None:
                return self._send(404, b"")  # a deleted or unknown album, or not its item
            if isinstance(found, str):
                return self._redirect(found)
            album = found
            view = album.spec.view
        elif photo_id is not None:
            spec = self.app.library.find(address, photo_id)
            if spec is None or self.app.library.state(spec) == "deleted":
                return self._send(404, b"")  # Chrome shows its own error page
        if self.app.faults.server_error("page", self._path):
            return self._error(self.app.faults.error_status("page", self._path))
        lang = self._lang()
        prefix = f"/u/{index}/" if index else "/"
        name = full_name(address)
        signed_in = self.app.sessions.signed_in(self._cookie())
        labels = {k: v for k, v in i18n.LABELS[lang].items() if k not in ("account",)}
        if change is not None:
            labels.update(i18n.CHANGED_LABELS.get(change, {}).get(lang, {}))
        init = {
            "lang": lang,
            "prefix": prefix,
            "authuser": index,
            "account": {"name": name, "email": address},
            "accounts": [{"index": i, "name": full_name(e), "email": e} for i, e in signed_in],
            "labels": labels,
            "at": self.app.sessions.signer.sign("xsrf", address),
            "rpc": f"{prefix}_/PhotosUi/data/batchexecute",
            "view": "photo" if photo_id else "albums" if view == ALBUMS_VIEW else "grid",
            "list": view,
            "gridPath": VIEW_PATHS.get(view, ALBUMS_VIEW),
            "itemQuery": "",
            "gridTitle": DEFAULT_TITLE,
            "container": "main",  # the grid's scroller: [role=main], or "cwiz" in an album
            # How the page is built (a page change alters these; see PAGE_CHANGES).
            "downloadKey": CHANGED_DOWNLOAD_KEY if change == "download" else DOWNLOAD_KEY,
            "itemLinks": "div" if change == "grid-anchors" else "anchor",
            "photoId": photo_id,
            "addAccount": self._signin_url(self._origin() + "/"),
        }
        if view == ALBUMS_VIEW:
            init["gridTitle"] = f"{i18n.label(lang, 'albums')} - Google Photos"
        if album is not None:
            shown = album.spec
            shared = shown.share_id is not None
            init["gridPath"] = f"share/{shown.share_id}" if shared else f"album/{shown.album_id}"
            init["itemQuery"] = f"?key={shown.key}" if shared else ""
            init["gridTitle"] = f"{album.title} - Google Photos"
            init["albumTitle"] = album.title
            init["container"] = "cwiz"
        if self.app.stale_copies:
            init["stale"] = self._stale(address, view, lang, photo_id)
        dialog = self.app.dialog_for(address)
        if dialog is not None:
            init["dialog"] = {"kind": dialog, **DIALOGS[dialog]}
        account_label = i18n.label(lang, "account", name=name, email=address)
        title = DEFAULT_TITLE if photo_id else str(init["gridTitle"])
        return self._send(200, pages.app_shell(lang, prefix, account_label, init, title))

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
            _RPC_DIALOG: self._rpc_dialog,
            _RPC_ALBUMS: self._rpc_albums,
        }
        handler = handlers.get(rpc_id)
        if handler is None:
            return self._send(
                400, ')]}\'\n\n[["er",null,null,null,null,400]]', "application/json; charset=utf-8"
            )
        self._kind = f"rpc:{rpc_id}"
        listing = rpc_id in (_RPC_SKELETON, _RPC_PAGE, _RPC_ALBUMS)
        delay = LIST_DELAY_MS if listing else ITEM_DELAY_MS
        if rpc_id == _RPC_ITEM and args:
            found = self.app.resolve(address, str(args[0]))
            if found is not None and found.source.edited:
                low, high = EDITED_ITEM_DELAY_MS
                digest = hashlib.sha256(found.view.item_id.encode()).digest()
                delay = low + int.from_bytes(digest[:2], "big") % (high - low + 1)
        time.sleep(delay / 1000)
        return self._rpc_answer(rpc_id, handler(address, args, lang))

    def _rpc_skeleton(self, address: str, args: list[Any], lang: str) -> Any:
        outline, _ = self.app.skeleton(address, lang, _view_arg(args, 0))
        return outline

    def _rpc_page(self, address: str, args: list[Any], lang: str) -> Any:
        token = str(args[0]) if args else ""
        return {"t": token, "items": self.app.page_items(address, token, lang, _view_arg(args, 1))}

    def _rpc_albums(self, address: str, args: list[Any], lang: str) -> Any:
        return {"albums": self.app.album_cards(address, lang)}

    def _rpc_dialog(self, address: str, args: list[Any], lang: str) -> Any:
        kind = str(args[0]) if args else ""
        confirmed = len(args) > 1 and args[1] == "confirm"
        self.app.answer_dialog(address, kind, confirmed)
        return {"url": STORAGE_PATH} if confirmed else {}

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
        found = self.app.resolve(address, str(args[0])) if args else None
        if found is None or self.app.state_of(found) == "deleted":
            return self._not_found(lang, args)
        return self.app.item_info(address, found, lang, _view_arg(args, 2))

    def _rpc_download(self, address: str, args: list[Any], lang: str) -> Any:
        found = self.app.resolve(address, str(args[0])) if args else None
        original = bool(args[2]) if len(args) > 2 else False
        if found is None or self.app.state_of(found) == "deleted":
            return self._not_found(lang, args)
        if self.app.state_of(found) == "processing":
            return {"toast": i18n.sentence(lang, "processing_toast")}
        spec = found.view
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
        found = self.app.resolve(address, target_id)
        if found is None or self.app.state_of(found) != "ok":
            return self._error(404)
        spec = found.source  # an album item downloads its library item's bytes
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
                    self.app.stats.download_completed(target_id, size, original=original)
                    counted = True
                if chunk:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                if sent >= cut:
                    break
        except BaseException:
            if counted:
                self.app.stats.download_completed(target_id, size, undo=True, original=original)
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
                stats["change"] = app.change_now() or ""
                stats["foreign_recent"] = app.foreign_recent_now()
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
            if action == "upload":
                taken = dt.datetime.fromisoformat(str(body["taken"]))
                ids = app.upload_old(str(body["account"]), taken, int(body.get("count", 1)))
                return self._admin_json(200, {"ids": ids})
            if action == "archive":
                archived = _truthy(body.get("archived", True))
                app.set_archived(str(body["account"]), str(body["id"]), archived)
                return self._admin_json(200, {"id": body["id"], "archived": archived})
            if action == "interstitial":
                kind = str(body.get("kind") or "")
                app.set_interstitial(str(body["account"]), kind)
                return self._admin_json(200, {"interstitial": kind})
            if action == "dialog":
                kind = str(body.get("kind") or "")
                app.set_dialog(str(body["account"]), kind)
                return self._admin_json(200, {"dialog": kind})
            if action == "change":
                mode = body.get("mode")
                changed = app.set_page_change(None if mode is None else str(mode))
                return self._admin_json(200, {"change": changed or ""})
            if action == "foreign-recent":
                on = _truthy(body.get("on", True))
                app.set_foreign_recent(on)
                return self._admin_json(200, {"foreign_recent": on})
            if action == "caption":
                text = body.get("text")
                app.set_caption(str(body["account"]), str(body["id"]), str(text or ""))
                return self._admin_json(200, {"id": body["id"], "caption": text or ""})
            if action == "people":
                names = body.get("names") or []
                if isinstance(names, str):
                    names = [n for n in names.split(",") if n.strip()]
                if not isinstance(names, list):
                    raise ValueError("names must be a list of names")
                app.set_people(str(body["account"]), str(body["id"]), [str(n) for n in names])
                return self._admin_json(200, {"id": body["id"], "people": names})
            if action == "album-rename":
                title = str(body["title"])
                app.rename_album(str(body["account"]), str(body["album"]), title)
                return self._admin_json(200, {"album": body["album"], "title": title})
            if action == "album-delete":
                app.delete_album(str(body["account"]), str(body["album"]))
                return self._admin_json(200, {"deleted": body["album"]})
            if action == "album-remove":
                inner = app.remove_from_album(
                    str(body["account"]), str(body["album"]), str(body["id"])
                )
                return self._admin_json(200, {"album": body["album"], "removed": inner})
            if action == "album-add":
                inner = app.add_to_album(str(body["account"]), str(body["album"]), str(body["id"]))
                return self._admin_json(200, {"album": body["album"], "added": inner})
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
