"""The backup's memory: one SQLite file under DEST.

It records every item id seen, the files each downloaded item became (path
relative to DEST, size, sha256), failures to retry, and each run. A file row
is written only after the file is complete and renamed into place, so the
state never names a file that is not on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gphotos_collector.errors import UsageError
from gphotos_collector.info_panel import ItemDetails

STATE_DIR_NAME = ".gphotos-collector"
STATE_FILE_NAME = "state.sqlite3"
SCHEMA_VERSION = 3

# Item statuses.
DONE = "done"  # every file of the item is in DEST
FAILED = "failed"  # failed after retries: retried on the next run
PROCESSING = "processing"  # a video Google is still processing: retried on the next run
GONE = "gone"  # deleted on Google before it could be downloaded
LISTED = "listed"  # listed by a run, not downloaded yet: the next run fetches it
PENDING_STATUSES = (LISTED, FAILED, PROCESSING)
# meta key: "1" once a listing without a date window ended normally, so the
# state knows every item down to the first run of known ids.
LISTING_COMPLETE = "listing_complete"
# meta key: set once the files of a DEST whose state was lost were listed in `orphans`.
ORPHANS_INDEXED = "orphans_indexed"
NOT_MEDIA_FOLDERS = frozenset({STATE_DIR_NAME, "albums", "shared"})
EDITED_SUFFIX = "-edited"
NUMBERED = re.compile(r" \(\d+\)$")

# File roles: what a file is to its item.
MEDIA = "media"  # what Download gives (a live photo's still and video are both media)
EDITED = "edited"  # an edited photo's edited version, <stem>-edited<ext>
ORIGINAL = "original"  # an edited photo's camera original ("Download original")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    kind TEXT,
    status TEXT NOT NULL,
    taken TEXT,
    first_seen TEXT NOT NULL,
    downloaded_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    deleted_on_google_at TEXT,
    archived INTEGER,
    edited INTEGER
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES items(id),
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'media'
);
CREATE INDEX IF NOT EXISTS files_item ON files(item_id);
CREATE TABLE IF NOT EXISTS orphans (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failure_nights (
    item_id TEXT NOT NULL,
    night TEXT NOT NULL,
    PRIMARY KEY (item_id, night)
);
-- What the info panel showed of an item (info_panel.ItemDetails as JSON), and when.
CREATE TABLE IF NOT EXISTS details (
    item_id TEXT PRIMARY KEY REFERENCES items(id),
    data TEXT NOT NULL,
    read_at TEXT NOT NULL
);
-- The albums /albums showed (id: album id, or share id for a shared album), the folder
-- under albums/ that holds their links, and what the last walk of each found.
CREATE TABLE IF NOT EXISTS albums (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    url TEXT NOT NULL,
    count INTEGER,
    folder TEXT,
    walked_count INTEGER,
    walked_at TEXT
);
-- An album's items by their album-scoped id, and the library item each one is
-- (NULL: not in the member's library, such as items others added to a shared album).
CREATE TABLE IF NOT EXISTS album_items (
    album_id TEXT NOT NULL,
    album_item_id TEXT NOT NULL,
    item_id TEXT,
    filename TEXT,
    PRIMARY KEY (album_id, album_item_id)
);
-- Items others added to a shared album, kept under shared/<folder>/ (--shared-albums).
CREATE TABLE IF NOT EXISTS shared_files (
    album_id TEXT NOT NULL,
    album_item_id TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (album_id, album_item_id, path)
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_path_nocase ON files(path COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER,
    new INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    full_scan INTEGER NOT NULL DEFAULT 0
);
"""


# From schema N-1 to N. Schema 1 (release 0.1) had no archive flag, no edited
# flag (NULL: not yet checked for a "Download original") and no file roles.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE items ADD COLUMN archived INTEGER",
        "ALTER TABLE items ADD COLUMN edited INTEGER",
        "ALTER TABLE files ADD COLUMN role TEXT NOT NULL DEFAULT 'media'",
    ),
    3: (),  # details, albums, album_items: made by SCHEMA (details are read on a revisit)
}


# SQLite's result codes for a file that is not a database or is damaged.
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
CORRUPT_MESSAGES = ("file is not a database", "database disk image is malformed")
JOURNAL_SUFFIXES = ("-journal", "-wal", "-shm")


class CorruptStateError(UsageError):
    """The state file is damaged or not a database: `sync` sets it aside and rebuilds it."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail  # SQLite's own words


def _is_corrupt(error: sqlite3.DatabaseError) -> bool:
    """Damaged or not a database (not: locked, read-only, I/O, permissions)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return int(code) & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    return any(text in str(error) for text in CORRUPT_MESSAGES)


def _set_aside(path: Path) -> Path:
    """Rename a state file (and its journals) out of the way; nothing is ever deleted."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 0
    while os.path.lexists(aside):
        number += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in JOURNAL_SUFFIXES:
        journal = path.with_name(path.name + suffix)
        if os.path.lexists(journal):
            journal.rename(aside.with_name(aside.name + suffix))
    if os.path.lexists(path):
        path.rename(aside)
    return aside


def _stem(path: str) -> str:
    """The name without extension and without the placer's " (n)" for a taken name."""
    name = path.rpartition("/")[2]
    stem, dot, _ = name.rpartition(".")
    return NUMBERED.sub("", stem if dot and stem else name)


def _extension(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.rpartition(".")[2].lower() if "." in name else ""


def _roles_of_one_item(paths: list[str], kind: str | None) -> list[str] | None:
    """The roles of files (sorted by path) if they can only be one item's, else None."""
    paths = sorted(paths)
    if len(paths) == 1:
        return [MEDIA]
    if len(paths) != 2 or kind == "video":
        return None
    first, second = _stem(paths[0]), _stem(paths[1])
    if first == second and _extension(paths[0]) != _extension(paths[1]):
        return [MEDIA, MEDIA]  # a live photo's still and video
    if second == first + EDITED_SUFFIX:
        return [ORIGINAL, EDITED]
    if first == second + EDITED_SUFFIX:
        return [EDITED, ORIGINAL]
    return None


def _sha256_of(path: Path, size: int) -> str | None:
    """sha256 of a regular file of this size (never through a link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size != size:
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def real_state_dir(dest: Path) -> Path:
    """DEST's state folder, made if missing; a link in its place is refused (never followed)."""
    folder = state_dir(dest)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    mode = folder.lstat().st_mode
    if not stat.S_ISDIR(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
        raise UsageError(
            f"{folder} is {what}: the collector never writes through links or outside DEST; "
            f"remove it (`rm {folder}`) and run again."
        )
    return folder


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlacedFile:
    path: str  # relative to DEST, with / separators
    size: int
    sha256: str
    role: str = MEDIA


@dataclass(frozen=True)
class PendingItem:
    id: str
    kind: str | None
    status: str
    failures: int
    last_error: str | None
    taken: datetime | None  # as the grid showed it when the item was listed
    archived: bool = False


@dataclass(frozen=True)
class UncheckedItem:
    """A backed-up item to look at again: for an original (release 0.1), or for its details."""

    id: str
    taken: datetime | None
    archived: bool
    edited: bool | None = None  # None: never looked at for an original


@dataclass(frozen=True)
class AlbumRow:
    """An album as the state knows it."""

    id: str  # album id, or share id for a shared album
    title: str
    shared: bool
    url: str  # its page (a shared album's key included)
    count: int | None  # as /albums showed it
    folder: str | None  # its folder under albums/ (or shared/), once made
    walked_count: int | None = None  # the count when it was last walked to its end
    walked_at: str | None = None


@dataclass(frozen=True)
class ItemFacts:
    """What the state knows of a backed-up item, for its sidecars."""

    taken: datetime | None
    archived: bool | None
    edited: bool | None
    details: ItemDetails | None


def state_dir(dest: Path) -> Path:
    return dest / STATE_DIR_NAME


class State:
    """The SQLite state of one DEST. Used from one thread (the event loop's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set_aside: Path | None = None  # where open() put an unreadable state file
        self.set_aside_reason = ""
        self._orphans_left = False  # files of a lost state wait to be claimed (adopt)
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise UsageError(f"cannot open the state file {path}: {error}") from None
        try:
            self._setup(path)
        except sqlite3.DatabaseError as error:
            self._db.close()
            if not _is_corrupt(error):
                raise
            raise CorruptStateError(
                f"the state file {path} is damaged ({error}): the next sync keeps it as "
                f"{path.name}.corrupt-<time> and starts a new one (files already in DEST "
                "are taken back, not downloaded again); run it.",
                str(error),
            ) from None
        except BaseException:
            self._db.close()
            raise

    def _setup(self, path: Path) -> None:
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        version = self.get_meta("schema_version")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise UsageError(
                f"{path} was written by a newer gphotos-collector (state schema {version}, "
                f"this one knows {SCHEMA_VERSION}): upgrade gphotos-collector on this machine "
                "(with the Ansible bundle: run site.yml from the newer release)."
            )
        if version is not None and int(version) < SCHEMA_VERSION:
            self._migrate(int(version))
        self._db.executescript(SCHEMA)
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    def _migrate(self, version: int) -> None:
        """Bring an older state file to this schema, in one transaction."""
        with self.transaction() as db:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )

    @classmethod
    def open(cls, dest: Path) -> State:
        """DEST's state; an unreadable one is set aside (renamed, kept) and a new one begun."""
        path = real_state_dir(dest) / STATE_FILE_NAME
        reason = ""
        for suffix in JOURNAL_SUFFIXES:  # a planted link must not make SQLite write through it
            journal = path.with_name(path.name + suffix)
            if journal.is_symlink():
                journal.unlink()
        if os.path.lexists(path) and not stat.S_ISREG(path.lstat().st_mode):
            reason = "it is a link or not a regular file"
        else:
            try:
                state = cls(path)
            except CorruptStateError as error:
                reason = error.detail
            else:
                try:
                    problem = state._db.execute("PRAGMA quick_check").fetchone()[0]
                except sqlite3.DatabaseError as error:
                    if not _is_corrupt(error):
                        state.close()
                        raise
                    problem = str(error)
                if problem == "ok":
                    state._index_orphans(dest)
                    return state
                state.close()
                reason = f"damaged: {problem}"
        aside = _set_aside(path)
        state = cls(path)
        state.set_aside, state.set_aside_reason = aside, reason
        state._index_orphans(dest)
        return state

    # --- a lost or set-aside state: files on disk are taken back, not downloaded ---
    def _index_orphans(self, dest: Path) -> None:
        """A state that records no file while DEST holds media (the state was lost or set
        aside): list those files once, so listed items can claim them without a download."""
        self._orphans_left = False
        if self.get_meta(ORPHANS_INDEXED) is not None:
            self._orphans_left = (
                self._db.execute("SELECT 1 FROM orphans LIMIT 1").fetchone() is not None
            )
            return
        if self._db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None:
            rows = []
            for folder, subfolders, names in os.walk(dest):  # links are not followed
                here = Path(folder)
                if here == dest:
                    subfolders[:] = [d for d in subfolders if d not in NOT_MEDIA_FOLDERS]
                for name in names:
                    path = here / name
                    status = path.lstat()
                    if stat.S_ISREG(status.st_mode) and not name.endswith(".xmp"):
                        relative = path.relative_to(dest).as_posix()
                        rows.append((relative, status.st_size, status.st_mtime))
            with self.transaction() as db:
                db.executemany("INSERT OR IGNORE INTO orphans VALUES(?, ?, ?)", rows)
            self._orphans_left = bool(rows)
        self.set_meta(ORPHANS_INDEXED, now_iso())

    def adopt(self, item_id: str, kind: str | None, label: datetime | None) -> list[PlacedFile]:
        """Claim an item's files already in DEST (empty: none found for sure, download it).

        The grid label gives the naive local capture time to the second; a placed file
        sits in that YYYY/MM and its mtime is the capture time, so it is that wall time
        at some UTC offset. Exactly one such group of files, shaped like one item (one
        file, a live photo's pair, an original and its -edited copy), is taken."""
        if not self._orphans_left or label is None or label.tzinfo is not None:
            return []
        folder = f"{label.year:04d}/{label.month:02d}/"
        wall = label.replace(tzinfo=timezone.utc).timestamp()
        groups: dict[int, list[tuple[str, int]]] = {}
        rows = self._db.execute(
            "SELECT path, size, mtime FROM orphans WHERE substr(path, 1, ?) = ?",
            (len(folder), folder),
        )
        for path, size, mtime in rows.fetchall():
            if self.is_claimed(path):  # the placer took it back already
                continue
            offset = wall - round(mtime)
            if "/" not in path[len(folder) :] and offset % 900 == 0 and abs(offset) <= 14 * 3600:
                groups.setdefault(round(mtime), []).append((path, size))
        if len(groups) != 1:
            return []
        ((mtime, members),) = groups.items()
        roles = _roles_of_one_item([path for path, _ in members], kind)
        if roles is None:
            return []
        files = []
        for (path, size), role in zip(sorted(members), roles, strict=True):
            digest = _sha256_of(self.path.parent.parent / path, size)
            if digest is None:
                return []
            files.append(PlacedFile(path, size, digest, role))
        zone = timezone(timedelta(seconds=wall - mtime))
        taken = datetime.fromtimestamp(mtime, zone)
        self.mark_done(item_id, kind, taken, files, edited=EDITED in roles)
        with self.transaction() as db:
            db.executemany("DELETE FROM orphans WHERE path = ?", [(f.path,) for f in files])
        return files

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- items --------------------------------------------------------------
    def known_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM items")}

    def done_ids(self) -> set[str]:
        return self.ids_with_status(DONE)

    def pending(self) -> list[PendingItem]:
        """Items to fetch: listed but not downloaded, failed, or still processing."""
        rows = self._db.execute(
            "SELECT id, kind, status, failures, last_error, taken, archived FROM items "
            "WHERE status IN (?, ?, ?) ORDER BY first_seen, id",
            PENDING_STATUSES,
        )
        return [
            PendingItem(
                id=row[0],
                kind=row[1],
                status=row[2],
                failures=row[3],
                last_error=row[4],
                taken=datetime.fromisoformat(row[5]) if row[5] else None,
                archived=bool(row[6]),
            )
            for row in rows
        ]

    def unchecked_originals(self, limit: int) -> list[UncheckedItem]:
        """Done items not yet checked for an original (backed up by release 0.1), newest first."""
        rows = self._db.execute(
            "SELECT id, taken, archived FROM items WHERE status = ? AND edited IS NULL "
            "AND deleted_on_google_at IS NULL "
            "ORDER BY taken DESC, id LIMIT ?",
            (DONE, limit),
        )
        return [
            UncheckedItem(
                id=row[0],
                taken=datetime.fromisoformat(row[1]) if row[1] else None,
                archived=bool(row[2]),
            )
            for row in rows
        ]

    def revisits(self, limit: int, stale_before: datetime) -> list[UncheckedItem]:
        """Done items to look at again: never checked for an original first, then those
        whose details were never read, then those read longest ago (before stale_before)."""
        rows = self._db.execute(
            "SELECT items.id, items.taken, items.archived, items.edited FROM items "
            "LEFT JOIN details ON details.item_id = items.id "
            "WHERE items.status = ? AND items.deleted_on_google_at IS NULL "
            "AND (items.edited IS NULL OR details.read_at IS NULL OR details.read_at < ?) "
            # Within a day of reading, grid order: a worker steps between neighbours.
            "ORDER BY items.edited IS NOT NULL, details.read_at IS NOT NULL, "
            "substr(details.read_at, 1, 10), items.taken DESC, items.id LIMIT ?",
            (DONE, stale_before.isoformat(timespec="seconds"), limit),
        )
        return [
            UncheckedItem(
                id=row[0],
                taken=datetime.fromisoformat(row[1]) if row[1] else None,
                archived=bool(row[2]),
                edited=None if row[3] is None else bool(row[3]),
            )
            for row in rows
        ]

    def count_stale_details(self, stale_before: datetime) -> int:
        """Done items whose details were never read, or not since stale_before."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM items LEFT JOIN details ON details.item_id = items.id "
            "WHERE items.status = ? AND items.deleted_on_google_at IS NULL "
            "AND (details.read_at IS NULL OR details.read_at < ?)",
            (DONE, stale_before.isoformat(timespec="seconds")),
        ).fetchone()
        return int(row[0])

    def set_details(self, item_id: str, details: ItemDetails, *, read: bool = True) -> bool:
        """Record what the info panel showed now (read=False: an update that read no
        panel, such as the album pass's albums); True if it differs from what was known."""
        data = details.to_json()
        row = self._db.execute("SELECT data FROM details WHERE item_id = ?", (item_id,)).fetchone()
        if read:
            self._db.execute(
                "INSERT INTO details(item_id, data, read_at) VALUES(?, ?, ?) ON CONFLICT(item_id) "
                "DO UPDATE SET data = excluded.data, read_at = excluded.read_at",
                (item_id, data, now_iso()),
            )
        elif row is not None:
            self._db.execute("UPDATE details SET data = ? WHERE item_id = ?", (data, item_id))
        return row is None or row[0] != data

    def done_details(self) -> dict[str, ItemDetails]:
        """The details of every backed-up item whose info panel was read."""
        rows = self._db.execute(
            "SELECT items.id, details.data FROM items JOIN details ON details.item_id = items.id "
            "WHERE items.status = ?",
            (DONE,),
        )
        return {row[0]: ItemDetails.from_json(row[1]) for row in rows}

    def item_facts(self, item_id: str) -> ItemFacts:
        row = self._db.execute(
            "SELECT items.taken, items.archived, items.edited, details.data FROM items "
            "LEFT JOIN details ON details.item_id = items.id WHERE items.id = ?",
            (item_id,),
        ).fetchone()
        if row is None:
            return ItemFacts(None, None, None, None)
        return ItemFacts(
            taken=datetime.fromisoformat(row[0]) if row[0] else None,
            archived=None if row[1] is None else bool(row[1]),
            edited=None if row[2] is None else bool(row[2]),
            details=ItemDetails.from_json(row[3]) if row[3] else None,
        )

    def details_totals(self) -> dict[str, int]:
        """Backed-up items whose details (caption, people, albums) were read, and those
        with a caption, people or albums: what their sidecars hold."""
        totals = {"with_details": 0, "with_caption": 0, "with_people": 0, "with_albums": 0}
        for (data,) in self._db.execute(
            "SELECT details.data FROM details JOIN items ON items.id = details.item_id "
            "WHERE items.status = ?",
            (DONE,),
        ):
            details = ItemDetails.from_json(data)
            totals["with_details"] += 1
            totals["with_caption"] += bool(details.caption)
            totals["with_people"] += bool(details.people)
            totals["with_albums"] += bool(details.albums)
        return totals

    # --- albums ---------------------------------------------------------------
    def albums(self) -> dict[str, AlbumRow]:
        rows = self._db.execute(
            "SELECT id, title, shared, url, count, folder, walked_count, walked_at FROM albums"
        )
        return {
            row[0]: AlbumRow(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6], row[7])
            for row in rows
        }

    def save_album(self, album: AlbumRow) -> None:
        self._db.execute(
            "INSERT INTO albums(id, title, shared, url, count, folder, walked_count, walked_at) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "title = excluded.title, shared = excluded.shared, url = excluded.url, "
            "count = excluded.count, folder = excluded.folder, "
            "walked_count = excluded.walked_count, walked_at = excluded.walked_at",
            (
                album.id,
                album.title,
                int(album.shared),
                album.url,
                album.count,
                album.folder,
                album.walked_count,
                album.walked_at,
            ),
        )

    def forget_album(self, album_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM album_items WHERE album_id = ?", (album_id,))
            db.execute("DELETE FROM albums WHERE id = ?", (album_id,))

    def album_items(self, album_id: str) -> dict[str, str | None]:
        """album item id -> the library item it is (None: not in the library)."""
        rows = self._db.execute(
            "SELECT album_item_id, item_id FROM album_items WHERE album_id = ?", (album_id,)
        )
        return {row[0]: row[1] for row in rows}

    def set_album_items(self, album_id: str, matched: dict[str, tuple[str | None, str]]) -> None:
        """The album holds exactly these items now: {album item id: (item id, file name)}."""
        with self.transaction() as db:
            db.execute("DELETE FROM album_items WHERE album_id = ?", (album_id,))
            db.executemany(
                "INSERT INTO album_items(album_id, album_item_id, item_id, filename) "
                "VALUES(?, ?, ?, ?)",
                [(album_id, aid, item, name) for aid, (item, name) in matched.items()],
            )

    def foreign_album_items(self) -> list[dict[str, object]]:
        """Albums holding items that are not in the library (others' items in a shared
        album) and not kept under shared/: not backed up. [{album, items}]"""
        rows = self._db.execute(
            "SELECT albums.title, COUNT(*) FROM album_items JOIN albums "
            "ON albums.id = album_items.album_id WHERE album_items.item_id IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM shared_files WHERE "
            "shared_files.album_id = album_items.album_id "
            "AND shared_files.album_item_id = album_items.album_item_id) "
            "GROUP BY albums.id ORDER BY albums.title"
        )
        return [{"album": row[0], "items": int(row[1])} for row in rows]

    def shared_kept(self, album_id: str) -> set[str]:
        """Album item ids of a shared album whose files are kept under shared/."""
        rows = self._db.execute(
            "SELECT DISTINCT album_item_id FROM shared_files WHERE album_id = ?", (album_id,)
        )
        return {row[0] for row in rows}

    def add_shared_files(self, album_id: str, album_item_id: str, files: list[PlacedFile]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO shared_files(album_id, album_item_id, path, size, sha256) "
                "VALUES(?, ?, ?, ?, ?)",
                [(album_id, album_item_id, f.path, f.size, f.sha256) for f in files],
            )

    def is_claimed_shared(self, path: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM shared_files WHERE path = ? COLLATE NOCASE", (path,)
        ).fetchone()
        return row is not None

    def move_shared_folder(self, old_prefix: str, new_prefix: str) -> None:
        """A renamed shared album: its kept files' paths follow the folder."""
        self._db.execute(
            "UPDATE shared_files SET path = ? || substr(path, ?) WHERE substr(path, 1, ?) = ?",
            (new_prefix, len(old_prefix) + 1, len(old_prefix), old_prefix),
        )

    def items_named(self, filename: str) -> list[tuple[str, datetime | None]]:
        """Backed-up items whose info panel showed this file name, with their capture time."""
        rows = self._db.execute(
            "SELECT items.id, items.taken FROM items JOIN details ON details.item_id = items.id "
            "WHERE items.status = ? AND json_extract(details.data, '$.filename') = ? "
            # Items whose details were never read: a file placed under that name.
            "UNION SELECT items.id, items.taken FROM items JOIN files ON files.item_id = items.id "
            "WHERE items.status = ? AND substr(files.path, -length(?) - 1) = '/' || ?",
            (DONE, filename, DONE, filename, filename),
        )
        return [(row[0], datetime.fromisoformat(row[1]) if row[1] else None) for row in rows]

    def items_with_content(self, sha256: str) -> set[str]:
        rows = self._db.execute("SELECT item_id FROM files WHERE sha256 = ?", (sha256,))
        return {row[0] for row in rows}

    def count_unchecked_originals(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM items WHERE status = ? AND edited IS NULL "
            "AND deleted_on_google_at IS NULL",
            (DONE,),
        ).fetchone()
        return int(row[0])

    def set_edited(self, item_id: str, edited: bool) -> None:
        self._db.execute("UPDATE items SET edited = ? WHERE id = ?", (int(edited), item_id))

    def set_archived(self, item_ids: Iterable[str], archived: bool) -> None:
        """What a full listing saw: in the Archive, or in the library grid."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE items SET archived = ? WHERE id = ? AND archived IS NOT ?",
                [(int(archived), item_id, int(archived)) for item_id in item_ids],
            )

    def archived_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM items WHERE archived = 1")}

    def ids_with_status(self, status: str) -> set[str]:
        rows = self._db.execute("SELECT id FROM items WHERE status = ?", (status,))
        return {row[0] for row in rows}

    def mark_listed(
        self, items: Iterable[tuple[str, str | None, datetime | None]], archived: bool | None = None
    ) -> None:
        """Remember listed items (id, kind, grid time) before they are downloaded."""
        now = now_iso()
        flag = None if archived is None else int(archived)
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO items(id, kind, status, taken, first_seen, archived) "
                "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                [
                    (item_id, kind, LISTED, taken.isoformat() if taken else None, now, flag)
                    for item_id, kind, taken in items
                ],
            )

    def item_taken(self, item_id: str) -> datetime | None:
        row = self._db.execute("SELECT taken FROM items WHERE id = ?", (item_id,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def item_status(self, item_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row[0] if row else None

    def mark_done(
        self,
        item_id: str,
        kind: str | None,
        taken: datetime | None,
        files: Iterable[PlacedFile],
        *,
        edited: bool | None = False,
    ) -> None:
        """Record a downloaded item and its files, which are already complete on disk."""
        now = now_iso()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO items(id, kind, status, taken, first_seen, downloaded_at, edited) "
                "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, "
                "status = excluded.status, taken = excluded.taken, "
                "downloaded_at = excluded.downloaded_at, last_error = NULL, "
                "edited = excluded.edited",
                (
                    item_id,
                    kind,
                    DONE,
                    taken.isoformat() if taken else None,
                    now,
                    now,
                    None if edited is None else int(edited),
                ),
            )
            db.executemany(
                "INSERT INTO files(path, item_id, size, sha256, role) VALUES(?, ?, ?, ?, ?)",
                [(f.path, item_id, f.size, f.sha256, f.role) for f in files],
            )
            db.execute("DELETE FROM failure_nights WHERE item_id = ?", (item_id,))

    def add_original(self, item_id: str, originals: Iterable[PlacedFile]) -> None:
        """An item backed up before turned out edited: record its original beside it."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO files(path, item_id, size, sha256, role) VALUES(?, ?, ?, ?, ?)",
                [(f.path, item_id, f.size, f.sha256, ORIGINAL) for f in originals],
            )
            db.execute("UPDATE items SET edited = 1 WHERE id = ?", (item_id,))

    def move_file(self, item_id: str, old_path: str, new_path: str, role: str) -> None:
        """A recorded file now also has (and is recorded under) another name."""
        self._db.execute(
            "UPDATE files SET path = ?, role = ? WHERE path = ? AND item_id = ?",
            (new_path, role, old_path, item_id),
        )

    def mark_unfinished(
        self, item_id: str, kind: str | None, taken: datetime | None, status: str, error: str
    ) -> None:
        """Remember an item to retry (failed, processing) or one gone from Google."""
        with self.transaction() as db:
            if status == FAILED:  # nights in a row decide when it is failing for good
                db.execute(
                    "INSERT OR IGNORE INTO failure_nights(item_id, night) VALUES(?, ?)",
                    (item_id, datetime.now(timezone.utc).date().isoformat()),
                )
            db.execute(
                "INSERT INTO items(id, kind, status, taken, first_seen, failures, last_error) "
                "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "status = excluded.status, last_error = excluded.last_error, "
                "taken = COALESCE(excluded.taken, items.taken), "
                "failures = items.failures + excluded.failures",
                (
                    item_id,
                    kind,
                    status,
                    taken.isoformat() if taken else None,
                    now_iso(),
                    1 if status == FAILED else 0,
                    error,
                ),
            )

    def mark_deleted_on_google(self, item_ids: Iterable[str]) -> None:
        now = now_iso()
        with self.transaction() as db:
            db.executemany(
                "UPDATE items SET deleted_on_google_at = ? "
                "WHERE id = ? AND deleted_on_google_at IS NULL",
                [(now, item_id) for item_id in item_ids],
            )

    def clear_deleted_on_google(self, item_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE items SET deleted_on_google_at = NULL WHERE id = ?",
                [(item_id,) for item_id in item_ids],
            )

    # --- files --------------------------------------------------------------
    def claimed_paths(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT path FROM files")}

    def is_claimed(self, path: str) -> bool:
        # NOCASE: on a case-insensitive share, IMG.JPG and img.jpg are one file.
        row = self._db.execute(
            "SELECT 1 FROM files WHERE path = ? COLLATE NOCASE", (path,)
        ).fetchone()
        return row is not None

    def files_of(self, item_id: str) -> list[PlacedFile]:
        rows = self._db.execute(
            "SELECT path, size, sha256, role FROM files WHERE item_id = ? ORDER BY path", (item_id,)
        )
        return [PlacedFile(*row) for row in rows]

    def forget_files(self, item_id: str) -> None:
        """Its files are missing on disk: drop their rows and fetch the item again."""
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE item_id = ?", (item_id,))
            db.execute(
                "UPDATE items SET status = ?, last_error = ? WHERE id = ?",
                (FAILED, "its files were missing on disk", item_id),
            )

    def failing_for_good(self, nights: int) -> list[tuple[str, int, str]]:
        """Failed items (id, nights, last error) that failed today and on `nights` nights."""
        today = datetime.now(timezone.utc).date().isoformat()
        rows = self._db.execute(
            "SELECT items.id, COUNT(*), COALESCE(items.last_error, '') FROM items "
            "JOIN failure_nights ON failure_nights.item_id = items.id WHERE items.status = ? "
            "GROUP BY items.id HAVING COUNT(*) >= ? AND MAX(failure_nights.night) = ? "
            "ORDER BY items.id",
            (FAILED, nights, today),
        )
        return [(row[0], int(row[1]), row[2]) for row in rows]

    # --- runs ---------------------------------------------------------------
    def start_run(self, full_scan: bool) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs(started_at, full_scan) VALUES(?, ?)", (now_iso(), int(full_scan))
        )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        exit_code: int,
        new: int,
        skipped: int,
        failed: int,
        size: int,
        seconds: float,
    ) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, new = ?, skipped = ?, failed = ?, "
            "bytes = ?, seconds = ? WHERE id = ?",
            (now_iso(), exit_code, new, skipped, failed, size, round(seconds, 3), run_id),
        )

    # --- status -------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        items = self._db.execute("SELECT COUNT(*) FROM items WHERE status = ?", (DONE,)).fetchone()
        files, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files"
        ).fetchone()
        deleted = self._db.execute(
            "SELECT COUNT(*) FROM items WHERE deleted_on_google_at IS NOT NULL"
        ).fetchone()
        archived, edited = self._db.execute(
            "SELECT COALESCE(SUM(archived = 1), 0), COALESCE(SUM(edited = 1), 0) FROM items "
            "WHERE status = ?",
            (DONE,),
        ).fetchone()
        return {
            "items": items[0],
            "files": files,
            "bytes": size,
            "deleted_on_google": deleted[0],
            "archived": archived,  # backed up from the Archive
            "edited": edited,  # edited photos kept with their original
        }

    def last_full_scan(self) -> datetime | None:
        """When the last successful full scan started."""
        row = self._db.execute(
            "SELECT started_at FROM runs WHERE full_scan = 1 AND exit_code = 0 "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def last_run(self, *, successful: bool = False) -> dict[str, object] | None:
        row = self._db.execute(
            "SELECT started_at, finished_at, exit_code, new, skipped, failed, bytes, seconds "
            "FROM runs WHERE finished_at IS NOT NULL AND (? = 0 OR exit_code = 0) "
            "ORDER BY id DESC LIMIT 1",
            (int(successful),),
        ).fetchone()
        if row is None:
            return None
        keys = ("started_at", "finished_at", "exit_code", "new", "skipped", "failed", "bytes")
        return {**dict(zip(keys, row[:7], strict=True)), "seconds": row[7]}

    # --- verify ---
    def recorded_files(self) -> list[tuple[PlacedFile, str]]:
        """Every recorded file with its item id, by path."""
        rows = self._db.execute("SELECT path, size, sha256, item_id FROM files ORDER BY path")
        return [(PlacedFile(row[0], row[1], row[2]), row[3]) for row in rows]

    def deleted_on_google_ids(self) -> set[str]:
        rows = self._db.execute("SELECT id FROM items WHERE deleted_on_google_at IS NOT NULL")
        return {row[0] for row in rows}

    def done_by_kind(self) -> dict[str, int]:
        """Backed-up items per kind (photo, video...; "unknown" when not recorded)."""
        rows = self._db.execute(
            "SELECT COALESCE(kind, 'unknown'), COUNT(*) FROM items WHERE status = ? "
            "GROUP BY 1 ORDER BY 1",
            (DONE,),
        )
        return {row[0]: row[1] for row in rows}
