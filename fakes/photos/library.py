"""What is in each account's library: items as pure functions of (seed, account, k).

Item k of an account never changes with the library's size: a library of N
items holds k = 0..N-1, and k = N-1 is the newest upload (and, unless it is
backdated, the latest date taken: the top of the grid). Growing the library
only adds newer uploads. What can change with the size is an item's *state*:

- a video among the `PROCESSING_WINDOW` newest items is still processing
  (Google processes fresh uploads), and item k=5 is a video that stays
  processing until `/_fake/ready` is posted for it;
- about 1% of items are deleted on Google once `DELETE_LAG` newer items exist
  (so a library grown after a first sync has deletions a `--full-scan` must
  report); item k=9 is deleted from the start (reachable only by id); and
  `/_fake/delete` deletes any item on demand.

Deleted items are absent from every view; a page load of their viewer URL is
an HTTP 404.

Capture and upload time. Items are uploaded in k order: item k's upload time
(`uploaded_utc`) is a pure function of k, strictly increasing in k, minutes to
days after its event ("slot"). Most items are taken at their slot; one item in
every block of ten (k // 10, for k past the fixed items) is *backdated*: taken
1 to 20 years before it was uploaded (a scan, a picture saved from a chat), so
it lands deep in the date-taken grid although it is a new upload. Growing the
library by ten or more items therefore always adds at least one such item.
`Library.upload_old` adds items uploaded "now" (just after the newest upload
in the library's own time line, between k = N-1 and the next k) but taken at
any given date.

Views: the grid (`/`) holds non-deleted, non-archived items by date taken,
newest first; Recently added (`/search/_tra_`) every non-deleted item, archived
ones included, by upload time, newest first; the archive (`/archive`) the
non-deleted archived items by date taken. About 2% of items are archived, and
item k=13 is archived from the start; `Library.set_archived` moves any item.

What Google adds to an item (not in its bytes): about one item in four has a
caption (`item_caption`; the fixed items k=0, 2, 3, 4 always do, among them
non-Latin text with emoji, quotes with `<` and `&`, and several lines), and some
items name 0-3 people from the account's small cast (`person_cast`, names with
accents and other scripts; `item_people`). `Library.set_caption` and
`Library.set_people` change them. Albums: `fakes.photos.albums`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import math
import threading
import unicodedata
from dataclasses import dataclass

DELETE_LAG = 100
DELETE_RATE = 0.01
PROCESSING_WINDOW = 2
EDITED_RATE = 0.03
ARCHIVED_RATE = 0.02
BACKDATED_BLOCK = 10  # one backdated item in every block of this many k
BACKDATED_MIN_DAYS, BACKDATED_MAX_DAYS = 365, 7300
VIEWS = ("library", "recent", "archive")

# Sizes at media scale 1, in bytes.
PHOTO_MIN, PHOTO_MAX = 500_000, 5_000_000
VIDEO_MIN, VIDEO_MAX = 10_000_000, 80_000_000
MOTION_MIN, MOTION_MAX = 1_500_000, 4_000_000

_EPOCH = dt.datetime(2001, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
_ITEMS_PER_EVENT = 5
# Gap between events shrinks as the library grows (people take more photos
# over time): event e starts SPREAD_DAYS * ln(1 + e / SPREAD_KNEE) days in.
_SPREAD_KNEE = 50.0
_SPREAD_DAYS = 1636.0

_HOME_PLACES = [
    (52.5200, 13.4050, 34.0),  # Berlin
    (48.1372, 11.5756, 519.0),  # Munich
    (50.1109, 8.6821, 112.0),  # Frankfurt
]
# (UTC offset in minutes, latitude, longitude, altitude)
_TRAVEL = [
    (-300, 40.7128, -74.0060, 10.0),
    (-480, 37.7749, -122.4194, 16.0),
    (540, 35.6762, 139.6503, 40.0),
    (330, 19.0760, 72.8777, 14.0),
    (-180, -22.9068, -43.1729, 5.0),
    (600, -33.8688, 151.2093, 58.0),
    (0, 51.5074, -0.1278, 11.0),
]


@dataclass(frozen=True)
class Camera:
    make: str
    model: str
    style: str


_CAMERAS = [
    (0.34, Camera("Apple", "iPhone 12", "apple")),
    (0.22, Camera("Google", "Pixel 7", "pixel")),
    (0.14, Camera("samsung", "SM-G991B", "samsung")),
    (0.12, Camera("Canon", "Canon EOS 80D", "canon")),
    (0.10, Camera("SONY", "ILCE-7M3", "sony")),
    (0.08, Camera("FUJIFILM", "X-T3", "fuji")),
]
_APPLE = _CAMERAS[0][1]
_CANON = _CAMERAS[3][1]
_SAMSUNG = _CAMERAS[2][1]

KINDS = ("photo", "video", "live")


@dataclass(frozen=True)
class ItemSpec:
    """Everything about one item that never changes."""

    account: str
    k: int
    item_id: str
    kind: str
    filename: str  # the name Google shows (a live photo's still)
    motion_name: str | None  # the video part of a live photo
    taken_utc: dt.datetime
    utc_offset_minutes: int
    camera: Camera
    landscape: bool
    edited: bool
    pinned_processing: bool
    pinned_deleted: bool
    delete_candidate: bool
    latitude: float
    longitude: float
    altitude: float
    photo_bytes: int  # target size at scale 1
    video_bytes: int  # target size at scale 1 (videos and live motion parts)
    duration_seconds: float
    hue: int
    uploaded_utc: dt.datetime
    backdated: bool  # taken long before it was uploaded
    archive_candidate: bool  # archived unless moved out with set_archived
    upload_rank: tuple[int, int]  # upload order: (k, 0), or (N-1, 1+j) for upload_old

    @property
    def taken_local(self) -> dt.datetime:
        zone = dt.timezone(dt.timedelta(minutes=self.utc_offset_minutes))
        return self.taken_utc.astimezone(zone)

    @property
    def taken_iso(self) -> str:
        return self.taken_local.isoformat(timespec="seconds")

    @property
    def uploaded_iso(self) -> str:
        return self.uploaded_utc.isoformat(timespec="seconds")

    @functools.cached_property
    def grid_key(self) -> tuple[int, int, int]:
        """Sort key of the date-taken views (larger is nearer the top)."""
        return (int(self.taken_utc.timestamp()), *self.upload_rank)

    @functools.cached_property
    def upload_key(self) -> tuple[int, int, int]:
        """Sort key of Recently added (larger is nearer the top)."""
        return (int(self.uploaded_utc.timestamp()), *self.upload_rank)

    @property
    def download_name(self) -> str:
        """The name in Content-Disposition: a live photo downloads as a zip."""
        if self.kind == "live":
            stem = self.filename.rsplit(".", 1)[0]
            return f"{stem}.zip"
        return self.filename


def _digest(seed: int, account: str, k: int, field: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{account}\x1f{k}\x1f{field}".encode()).digest()


def _unit(seed: int, account: str, k: int, field: str) -> float:
    """A uniform number in [0, 1) that depends only on its arguments."""
    return int.from_bytes(_digest(seed, account, k, field)[:8], "big") / 2**64


def _log_uniform(u: float, low: int, high: int) -> int:
    return int(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))


def item_id(seed: int, account: str, k: int) -> str:
    raw = _digest(seed, account, k, "id") + _digest(seed, account, k, "id2")
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    length = 40 + int(_unit(seed, account, k, "id-length") * 31)  # 40..70 in all
    return "AF1Qip" + text[: length - 6]


def deleted_probe_id(seed: int, account: str) -> str:
    """An id shaped like the others that never existed in this library."""
    return item_id(seed, account, -1)


def foreign_id(seed: int, item: str) -> str:
    """The id an item would carry in a view with scoped (album-like) ids: shaped like a
    library id (`AF1Qip`, the same length), but no library's id."""
    raw = hashlib.sha256(f"{seed}\x1fforeign\x1f{item}".encode()).digest()
    raw += hashlib.sha256(f"{seed}\x1fforeign2\x1f{item}".encode()).digest()
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return "AF1Qip" + text[: max(34, len(item) - 6)]


def _event_start(event: int) -> float:
    """Days after the epoch at which event `event` starts."""
    return _SPREAD_DAYS * math.log1p(event / _SPREAD_KNEE)


def _event_gap(event: int) -> float:
    return _event_start(event + 1) - _event_start(event)


def _home_offset(moment: dt.datetime) -> int:
    return 120 if 4 <= moment.month <= 10 else 60


def _uploaded(seed: int, account: str, k: int) -> dt.datetime:
    """Upload time: the event's batch, after its last capture and before the next
    event starts; strictly increasing in k."""
    event, position = divmod(k, _ITEMS_PER_EVENT)
    gap = _event(seed, account, event)[2]
    end = _event_start(event) + 0.6 * gap
    delay = 0.35 * gap * _event(seed, account, event)[5]
    utc = _EPOCH + dt.timedelta(days=end + delay, seconds=120 + 10 * position)
    return utc.replace(microsecond=0)


def is_backdated(seed: int, account: str, k: int) -> bool:
    """Exactly one item in each block of BACKDATED_BLOCK k's (past the fixed ones)."""
    if k < _FIRST_ORDINARY_K:
        return False
    return k == _backdated_in_block(seed, account, k // BACKDATED_BLOCK)


@functools.lru_cache(maxsize=4096)
def _backdated_in_block(seed: int, account: str, block: int) -> int:
    return block * BACKDATED_BLOCK + int(_unit(seed, account, block, "backdated") * BACKDATED_BLOCK)


@functools.lru_cache(maxsize=4096)
def _event(
    seed: int, account: str, event: int
) -> tuple[float, float, float, tuple[int, float, float, float] | None, int, float]:
    """Per event: start and duration (days), gap to the next, travel or None, home, and
    the upload delay's fraction (computed once for the event's items)."""
    gap = _event_gap(event)
    start = _event_start(event) + 0.3 * gap * _unit(seed, account, event, "event-jitter")
    duration = 0.3 * gap * _unit(seed, account, event, "event-length")
    travel = None
    if _unit(seed, account, event, "travel") < 0.25:
        travel = _TRAVEL[int(_unit(seed, account, event, "where") * len(_TRAVEL))]
    home = int(_unit(seed, account, event, "home") * len(_HOME_PLACES))
    return start, duration, gap, travel, home, _unit(seed, account, event, "upload-delay")


def _slot(seed: int, account: str, k: int) -> tuple[dt.datetime, int, tuple[float, float, float]]:
    """Slot time (UTC), UTC offset and place; strictly increasing in k."""
    event, position = divmod(k, _ITEMS_PER_EVENT)
    start, duration, _, travel, home, _ = _event(seed, account, event)
    within = (position + 0.9 * _unit(seed, account, k, "in-event")) / _ITEMS_PER_EVENT
    utc = _EPOCH + dt.timedelta(days=start + duration * within)
    utc = utc.replace(microsecond=0)
    if travel is not None:
        offset, lat, lon, alt = travel
    else:
        lat, lon, alt = _HOME_PLACES[home]
        offset = _home_offset(utc)
    jitter_lat = (_unit(seed, account, k, "lat") - 0.5) * 0.05
    jitter_lon = (_unit(seed, account, k, "lon") - 0.5) * 0.05
    return utc, offset, (round(lat + jitter_lat, 6), round(lon + jitter_lon, 6), alt)


def _camera(seed: int, account: str, k: int) -> Camera:
    u = _unit(seed, account, k // _ITEMS_PER_EVENT, "camera")
    for weight, camera in _CAMERAS:
        if u < weight:
            return camera
        u -= weight
    return _CAMERAS[-1][1]


def _counter(seed: int, account: str, k: int) -> int:
    # A small range, so that many items share a name as on real cameras.
    return 1 + int(_unit(seed, account, k, "counter") * 400)


def _file_names(
    style: str, kind: str, counter: int, utc: dt.datetime, local: dt.datetime, k: int
) -> tuple[str, str | None]:
    """(name, motion part name) in the style of the camera."""
    if style == "apple":
        stem = f"IMG_{counter:04d}"
        if kind == "video":
            return f"{stem}.MOV", None
        if kind == "live":
            return f"{stem}.JPG", f"{stem}.MOV"
        return f"{stem}.JPG", None
    if style == "pixel":
        stamp = f"{utc:%Y%m%d_%H%M%S}{k % 1000:03d}"
        return (f"PXL_{stamp}.mp4" if kind == "video" else f"PXL_{stamp}.jpg"), None
    if style == "samsung":
        stamp = f"{local:%Y%m%d_%H%M%S}"
        return (f"{stamp}.mp4" if kind == "video" else f"{stamp}.jpg"), None
    if style == "canon":
        return (f"MVI_{counter:04d}.MOV" if kind == "video" else f"IMG_{counter:04d}.JPG"), None
    if style == "sony":
        return (f"C{counter:04d}.MP4" if kind == "video" else f"DSC0{counter:04d}.JPG"), None
    return (f"DSCF{counter:04d}.MOV" if kind == "video" else f"DSCF{counter:04d}.JPG"), None


# Fixed items near the bottom of every library, so that even a tiny library
# holds each hard case: (kind, camera, name or None for the camera's style).
_SPECIAL: dict[int, tuple[str, Camera, str | None]] = {
    0: ("photo", _APPLE, "IMG_0001.JPG"),
    1: ("live", _APPLE, "IMG_0001.JPG"),
    2: ("photo", _CANON, "IMG_0001.JPG"),
    3: ("photo", _SAMSUNG, "Страница 1.jpg"),
    4: ("photo", _APPLE, "夏休み.JPG"),
    5: ("video", _SAMSUNG, None),  # stays processing
    6: ("photo", _CANON, unicodedata.normalize("NFD", "Crème brûlée.jpg")),
    7: ("photo", _SAMSUNG, "../../etc/passwd"),
    8: ("video", _CANON, None),
    9: ("photo", _APPLE, None),  # deleted from the start
    10: ("photo", _APPLE, None),  # edited
    11: ("photo", _SAMSUNG, "🎂 Geburtstag 2001.jpg"),
    # 150 characters, 290 bytes in UTF-8: a valid name for most file systems only
    # when counted in characters.
    12: ("photo", _CANON, ("Очень длинное имя файла " * 7)[:146] + ".jpg"),
    13: ("photo", _SAMSUNG, None),  # archived from the start
}
PINNED_PROCESSING_K = 5
PINNED_DELETED_K = 9
PINNED_EDITED_K = 10
PINNED_ARCHIVED_K = 13
_FIRST_ORDINARY_K = len(_SPECIAL)


def _taken(seed: int, account: str, k: int) -> tuple[dt.datetime, int, tuple[float, float, float]]:
    """Capture time (UTC), UTC offset and place: the slot, or years before it."""
    utc, offset, place = _slot(seed, account, k)
    if is_backdated(seed, account, k):
        days = _log_uniform(
            _unit(seed, account, k, "backdated-days"), BACKDATED_MIN_DAYS, BACKDATED_MAX_DAYS
        )
        seconds = int(_unit(seed, account, k, "backdated-seconds") * 86400)
        utc = utc - dt.timedelta(days=days, seconds=seconds)
        offset = _home_offset(utc) if offset in (60, 120) else offset
    return utc, offset, place


def generate_item(seed: int, account: str, k: int) -> ItemSpec:
    """Item k of `account`'s library for `seed`: a pure function of its arguments."""
    utc, offset, (lat, lon, alt) = _taken(seed, account, k)
    local = utc.astimezone(dt.timezone(dt.timedelta(minutes=offset)))
    special = _SPECIAL.get(k)
    if special is not None:
        kind, camera, fixed_name = special
    else:
        camera = _camera(seed, account, k)
        u = _unit(seed, account, k, "kind")
        kind = "photo" if u < 0.84 else "video" if u < 0.93 else "live"
        fixed_name = None
        if kind == "live":
            camera = _APPLE
    name, motion = _file_names(camera.style, kind, _counter(seed, account, k), utc, local, k)
    if special is not None and special[0] == "live":
        name, motion = "IMG_0001.JPG", "IMG_0001.MOV"
    elif fixed_name is not None:
        name = fixed_name
    if kind == "video":
        video_bytes = _log_uniform(_unit(seed, account, k, "size"), VIDEO_MIN, VIDEO_MAX)
        duration = max(2.0, video_bytes / 1_500_000)
    elif kind == "live":
        video_bytes = _log_uniform(_unit(seed, account, k, "motion-size"), MOTION_MIN, MOTION_MAX)
        duration = 3.0
    else:
        video_bytes = 0
        duration = 0.0
    edited = kind == "photo" and (
        k == PINNED_EDITED_K
        or (special is None and _unit(seed, account, k, "edited") < EDITED_RATE)
    )
    return ItemSpec(
        account=account,
        k=k,
        item_id=item_id(seed, account, k),
        kind=kind,
        filename=name,
        motion_name=motion,
        taken_utc=utc,
        utc_offset_minutes=offset,
        camera=camera,
        landscape=_unit(seed, account, k, "landscape") < 0.75,
        edited=edited,
        pinned_processing=k == PINNED_PROCESSING_K,
        pinned_deleted=k == PINNED_DELETED_K,
        delete_candidate=special is None and _unit(seed, account, k, "delete") < DELETE_RATE,
        latitude=lat,
        longitude=lon,
        altitude=alt,
        photo_bytes=_log_uniform(_unit(seed, account, k, "photo-size"), PHOTO_MIN, PHOTO_MAX),
        video_bytes=video_bytes,
        duration_seconds=duration,
        hue=int(_unit(seed, account, k, "hue") * 360),
        uploaded_utc=_uploaded(seed, account, k),
        backdated=is_backdated(seed, account, k),
        archive_candidate=k == PINNED_ARCHIVED_K
        or (special is None and _unit(seed, account, k, "archived") < ARCHIVED_RATE),
        upload_rank=(k, 0),
    )


def generate_upload(
    seed: int, account: str, j: int, taken: dt.datetime, uploaded: dt.datetime, after_k: int
) -> ItemSpec:
    """The j-th item added by `upload_old`: a photo saved from a chat, taken at `taken`
    (its UTC offset is kept), uploaded at `uploaded`, just after item `after_k`."""
    k = -2 - j  # -1 is the probe id that never existed
    offset_delta = taken.utcoffset()
    offset = int(offset_delta.total_seconds() // 60) if offset_delta is not None else 0
    utc = taken.astimezone(dt.timezone.utc).replace(microsecond=0)
    lat, lon, alt = _HOME_PLACES[0]
    return ItemSpec(
        account=account,
        k=k,
        item_id=item_id(seed, account, k),
        kind="photo",
        filename=f"IMG-{taken:%Y%m%d}-WA{j % 10000:04d}.jpg",
        motion_name=None,
        taken_utc=utc,
        utc_offset_minutes=offset,
        camera=_SAMSUNG,
        landscape=_unit(seed, account, k, "landscape") < 0.5,
        edited=False,
        pinned_processing=False,
        pinned_deleted=False,
        delete_candidate=False,
        latitude=lat,
        longitude=lon,
        altitude=alt,
        photo_bytes=_log_uniform(_unit(seed, account, k, "photo-size"), PHOTO_MIN, PHOTO_MAX),
        video_bytes=0,
        duration_seconds=0.0,
        hue=int(_unit(seed, account, k, "hue") * 360),
        uploaded_utc=uploaded.astimezone(dt.timezone.utc).replace(microsecond=0),
        backdated=True,
        archive_candidate=False,
        upload_rank=(after_k, 1 + j),
    )


# Captions: most items have none. The fixed items k=0, 2, 3, 4 always carry the hard ones.
_PLAIN_CAPTIONS = (
    "Sunset at the lake",
    "Birthday cake",
    "First day of school",
    "View from the hotel",
    "Our new flat",
    "Snow!",
    "Harbour walk",
    "Picnic in the park",
)
_AWKWARD_CAPTIONS = (
    "Café ☕ — 東京 🗼",
    'Grandma said "cheese" & we laughed <3 — it\'s <b>not</b> bold',
    "Day 1\nBeach & boats\n\n  then 'dinner' at \"Zur Post\"",
    "Fête de la musique 🎶 — Zoë's 30th",
    "«Ünïcödé» „Anführung“ ×÷ Ελληνικά العربية",  # noqa: RUF001 - on purpose
)
_PINNED_CAPTIONS = {
    0: _AWKWARD_CAPTIONS[0],
    2: _AWKWARD_CAPTIONS[1],
    3: _AWKWARD_CAPTIONS[2],
    4: _PLAIN_CAPTIONS[0],
}
CAPTION_RATE = 0.25
# Captions the page keeps in its hidden duplicates of the description (never an item's).
STALE_CAPTIONS = ("Trip to the mountains", "Old description")

# The people Google names: each account's cast is a few of these.
_PEOPLE_POOL = (
    "Ana García",
    "Jörg Müller",
    "Zoë Laurent",
    "Émile Dubois",
    "李雷",
    "Σοφία Παπαδοπούλου",
    "Olivia Smith",
    "Noah O'Brien",
    "Ingrid Øster",
    "Mateus Conceição",
    "Priya Nair",
    "Ayşe Yılmaz",  # noqa: RUF001 - a real Turkish name
)
CAST_SIZE = 6
_PINNED_PEOPLE = {0: (0, 1), 2: (2,), 4: (0, 3, 4)}  # k -> indexes into the cast


def item_caption(seed: int, account: str, k: int) -> str:
    """The caption Google shows for item k ("" for none): one item in four."""
    if k < 0:
        return ""
    pinned = _PINNED_CAPTIONS.get(k)
    if pinned is not None:
        return pinned
    if k < _FIRST_ORDINARY_K or _unit(seed, account, k, "caption") >= CAPTION_RATE:
        return ""
    pool = _PLAIN_CAPTIONS + _AWKWARD_CAPTIONS
    return pool[int(_unit(seed, account, k, "caption-text") * len(pool))]


def stale_caption(caption: str) -> str:
    """A caption that differs from `caption` (what a hidden duplicate holds)."""
    return next(text for text in STALE_CAPTIONS if text != caption)


@functools.lru_cache(maxsize=64)
def person_cast(seed: int, account: str) -> tuple[str, ...]:
    """The account's named people, in the order the app lists them."""
    ranked = sorted(
        range(len(_PEOPLE_POOL)), key=lambda index: _digest(seed, account, index, "cast")
    )
    return tuple(_PEOPLE_POOL[index] for index in ranked[:CAST_SIZE])


def person_id(seed: int, account: str, name: str) -> str:
    """The id in a person's search URL (`/search/<id>`), per account and name."""
    raw = _digest(seed, account, 0, f"person:{name}")
    return "AF1Qip" + base64.urlsafe_b64encode(raw).decode().rstrip("=")[:30]


def item_people(seed: int, account: str, k: int) -> tuple[str, ...]:
    """The people named on item k (0-3 of the cast, in cast order)."""
    if k < 0:
        return ()
    cast = person_cast(seed, account)
    pinned = _PINNED_PEOPLE.get(k)
    if pinned is not None:
        return tuple(cast[index] for index in pinned)
    if k < _FIRST_ORDINARY_K:
        return ()
    u = _unit(seed, account, k, "people-count")
    count = 0 if u < 0.65 else 1 if u < 0.85 else 2 if u < 0.95 else 3
    picked = {int(_unit(seed, account, k, f"people-{i}") * len(cast)) for i in range(count)}
    return tuple(cast[index] for index in sorted(picked))


def full_name(email: str) -> str:
    """A plausible full name for an account: alice@example.com -> Alice Example."""
    local, _, domain = email.partition("@")
    words = [w for w in local.replace("_", ".").replace("-", ".").replace("+", ".").split(".") if w]
    if len(words) < 2:
        words.append(domain.split(".")[0] or "User")
    return " ".join(w[:1].upper() + w[1:] for w in words)


class Library:
    """The libraries of all accounts, and what has changed since they were made.

    Thread-safe: the server answers several pages at once.
    """

    def __init__(self, seed: int, accounts: list[str], items: int) -> None:
        if not accounts:
            raise ValueError("at least one account is needed")
        if len(set(accounts)) != len(accounts):
            raise ValueError("accounts must be different")
        if items < 0:
            raise ValueError("the number of items cannot be negative")
        self.seed = seed
        self.accounts = list(accounts)
        self._lock = threading.RLock()
        self._specs: dict[str, list[ItemSpec]] = {a: [] for a in accounts}
        self._uploads: dict[str, list[ItemSpec]] = {a: [] for a in accounts}
        self._by_id: dict[str, ItemSpec] = {}
        self._deleted: dict[str, set[int]] = {a: set() for a in accounts}
        self._ready: dict[str, set[int]] = {a: set() for a in accounts}
        self._archived: dict[str, dict[int, bool]] = {a: {} for a in accounts}
        self._captions: dict[str, str] = {}  # item id -> caption set by set_caption
        self._people: dict[str, tuple[str, ...]] = {}  # item id -> names set by set_people
        self._version = 0
        self._view_cache: dict[tuple[str, str], tuple[int, list[ItemSpec]]] = {}
        self.items = 0
        self.grow(items)

    @property
    def version(self) -> int:
        """Changes whenever what a view shows may have changed."""
        return self._version

    def grow(self, items: int) -> None:
        with self._lock:
            if items < self.items:
                raise ValueError(
                    f"the library has {self.items} items per account and cannot shrink to {items}"
                )
            for account in self.accounts:
                specs = self._specs[account]
                for k in range(len(specs), items):
                    spec = generate_item(self.seed, account, k)
                    specs.append(spec)
                    self._by_id[spec.item_id] = spec
            self.items = items
            self._version += 1

    def upload_old(self, account: str, taken: dt.datetime, count: int = 1) -> list[ItemSpec]:
        """Add `count` photos taken at `taken` (1 s apart), uploaded now: just after the
        newest upload of the library, so at the top of Recently added."""
        if taken.tzinfo is None:
            raise ValueError("the capture time needs a UTC offset")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            if account not in self._specs:
                raise KeyError(f"no account {account} in this fake")
            uploads = self._uploads[account]
            newest = max(
                [s.uploaded_utc for s in uploads]
                + [s.uploaded_utc for s in self._specs[account][-1:]]
                + [dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)]
            )
            added = []
            for index in range(count):
                spec = generate_upload(
                    self.seed,
                    account,
                    len(uploads),
                    taken + dt.timedelta(seconds=index),
                    newest + dt.timedelta(seconds=1 + index),
                    self.items - 1,
                )
                uploads.append(spec)
                self._by_id[spec.item_id] = spec
                added.append(spec)
            self._version += 1
            return added

    def spec(self, account: str, k: int) -> ItemSpec:
        with self._lock:
            return self._specs[account][k]

    def specs(self, account: str) -> list[ItemSpec]:
        """Generated items, k = 0..N-1 (not those added by `upload_old`)."""
        with self._lock:
            return list(self._specs[account])

    def uploads(self, account: str) -> list[ItemSpec]:
        """Items added by `upload_old`, in the order they were added."""
        with self._lock:
            return list(self._uploads[account])

    def all_specs(self, account: str) -> list[ItemSpec]:
        with self._lock:
            return self._specs[account] + self._uploads[account]

    def find(self, account: str, item_id: str) -> ItemSpec | None:
        with self._lock:
            spec = self._by_id.get(item_id)
        if spec is None or spec.account != account:
            return None
        return spec

    def state(self, spec: ItemSpec) -> str:
        """`ok`, `processing` or `deleted`, for the library as it is now."""
        with self._lock:
            newer = self.items - 1 - spec.k
            if spec.pinned_deleted or spec.k in self._deleted[spec.account]:
                return "deleted"
            if spec.delete_candidate and newer >= DELETE_LAG:
                return "deleted"
            if (
                spec.kind == "video"
                and spec.k not in self._ready[spec.account]
                and (spec.pinned_processing or newer < PROCESSING_WINDOW)
            ):
                return "processing"
            return "ok"

    def archived(self, spec: ItemSpec) -> bool:
        with self._lock:
            return self._archived[spec.account].get(spec.k, spec.archive_candidate)

    def was_visible(self, spec: ItemSpec) -> bool:
        """Whether the item was ever in a view (so a backup may hold it)."""
        return not spec.pinned_deleted

    def delete(self, account: str, target_id: str) -> ItemSpec:
        with self._lock:
            spec = self.find(account, target_id)
            if spec is None:
                raise KeyError(f"{account} has no item {target_id}")
            self._deleted[account].add(spec.k)
            self._version += 1
            return spec

    def make_ready(self, account: str, target_id: str) -> ItemSpec:
        with self._lock:
            spec = self.find(account, target_id)
            if spec is None:
                raise KeyError(f"{account} has no item {target_id}")
            self._ready[account].add(spec.k)
            self._version += 1
            return spec

    def set_archived(self, account: str, target_id: str, archived: bool) -> ItemSpec:
        with self._lock:
            spec = self.find(account, target_id)
            if spec is None:
                raise KeyError(f"{account} has no item {target_id}")
            self._archived[account][spec.k] = archived
            self._version += 1
            return spec

    def caption(self, spec: ItemSpec) -> str:
        """The item's caption now ("" for none); also for items not in a library."""
        with self._lock:
            found = self._captions.get(spec.item_id)
        return item_caption(self.seed, spec.account, spec.k) if found is None else found

    def people(self, spec: ItemSpec) -> tuple[str, ...]:
        """The people named on the item now."""
        with self._lock:
            found = self._people.get(spec.item_id)
        return item_people(self.seed, spec.account, spec.k) if found is None else found

    def set_caption(self, account: str, target_id: str, text: str) -> ItemSpec:
        with self._lock:
            spec = self.find(account, target_id)
            if spec is None:
                raise KeyError(f"{account} has no item {target_id}")
            self._captions[spec.item_id] = str(text)
            return spec

    def set_people(self, account: str, target_id: str, names: list[str]) -> ItemSpec:
        cleaned: list[str] = []
        for name in names:
            name = str(name).strip()
            if not name:
                raise ValueError("a person's name cannot be empty")
            if name not in cleaned:
                cleaned.append(name)
        with self._lock:
            spec = self.find(account, target_id)
            if spec is None:
                raise KeyError(f"{account} has no item {target_id}")
            self._people[spec.item_id] = tuple(cleaned)
            return spec

    def view(self, account: str, name: str) -> list[ItemSpec]:
        """The items of a view, top first (cached per library version):

        - `library`: not deleted, not archived, by date taken, newest first;
        - `recent`: not deleted (archived included), by upload time, newest first;
        - `archive`: archived and not deleted, by date taken, newest first.
        """
        if name not in VIEWS:
            raise KeyError(f"no view {name}")
        with self._lock:
            cached = self._view_cache.get((account, name))
            if cached is not None and cached[0] == self._version:
                return cached[1]
            alive = [s for s in self.all_specs(account) if self.state(s) != "deleted"]
            if name == "recent":
                shown = sorted(alive, key=lambda s: s.upload_key, reverse=True)
            else:
                wanted = name == "archive"
                shown = sorted(
                    (s for s in alive if self.archived(s) == wanted),
                    key=lambda s: s.grid_key,
                    reverse=True,
                )
            self._view_cache[(account, name)] = (self._version, shown)
            return shown

    def visible(self, account: str) -> list[ItemSpec]:
        """The grid: items not deleted and not archived, newest taken first."""
        return self.view(account, "library")
