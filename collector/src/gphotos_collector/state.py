"""The backup's memory: one SQLite file under DEST.

It records every item id seen, the files each downloaded item became (path
relative to DEST, size, sha256), failures to retry, and each run. A file row
is written only after the file is complete and renamed into place, so the
state never names a file that is not on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gphotos_collector.errors import UsageError

STATE_DIR_NAME = ".gphotos-collector"
STATE_FILE_NAME = "state.sqlite3"
SCHEMA_VERSION = 1

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
    deleted_on_google_at TEXT
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES items(id),
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_item ON files(item_id);
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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlacedFile:
    path: str  # relative to DEST, with / separators
    size: int
    sha256: str


@dataclass(frozen=True)
class PendingItem:
    id: str
    kind: str | None
    status: str
    failures: int
    last_error: str | None
    taken: datetime | None  # as the grid showed it when the item was listed


def state_dir(dest: Path) -> Path:
    return dest / STATE_DIR_NAME


class State:
    """The SQLite state of one DEST. Used from one thread (the event loop's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise UsageError(f"cannot open the state file {path}: {error}") from None
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise UsageError(
                f"{path} was written by a newer gphotos-collector (schema {version}): upgrade."
            )

    @classmethod
    def open(cls, dest: Path) -> State:
        folder = state_dir(dest)
        folder.mkdir(mode=0o700, exist_ok=True)
        return cls(folder / STATE_FILE_NAME)

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
            "SELECT id, kind, status, failures, last_error, taken FROM items "
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
            )
            for row in rows
        ]

    def ids_with_status(self, status: str) -> set[str]:
        rows = self._db.execute("SELECT id FROM items WHERE status = ?", (status,))
        return {row[0] for row in rows}

    def mark_listed(self, items: Iterable[tuple[str, str | None, datetime | None]]) -> None:
        """Remember listed items (id, kind, grid time) before they are downloaded."""
        now = now_iso()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO items(id, kind, status, taken, first_seen) VALUES(?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                [
                    (item_id, kind, LISTED, taken.isoformat() if taken else None, now)
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
        self, item_id: str, kind: str | None, taken: datetime | None, files: Iterable[PlacedFile]
    ) -> None:
        """Record a downloaded item and its files, which are already complete on disk."""
        now = now_iso()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO items(id, kind, status, taken, first_seen, downloaded_at) "
                "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, "
                "status = excluded.status, taken = excluded.taken, "
                "downloaded_at = excluded.downloaded_at, last_error = NULL",
                (item_id, kind, DONE, taken.isoformat() if taken else None, now, now),
            )
            db.executemany(
                "INSERT INTO files(path, item_id, size, sha256) VALUES(?, ?, ?, ?)",
                [(f.path, item_id, f.size, f.sha256) for f in files],
            )

    def mark_unfinished(
        self, item_id: str, kind: str | None, taken: datetime | None, status: str, error: str
    ) -> None:
        """Remember an item to retry (failed, processing) or one gone from Google."""
        with self.transaction() as db:
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
            "SELECT path, size, sha256 FROM files WHERE item_id = ? ORDER BY path", (item_id,)
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
        return {"items": items[0], "files": files, "bytes": size, "deleted_on_google": deleted[0]}

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
