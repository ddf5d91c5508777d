"""A DEST that looks backed up, built directly rather than downloaded.

A first backup of 50,000 items through the browser would take hours, and a
nothing-new run or a full scan only reads the state and checks files exist.
So the state is written with the collector's own `State` API (each item done,
with one tiny real file on disk), on a RAM disk where SQLite's fsyncs cost
nothing, then copied into DEST.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from gphotos_collector.listing import ARCHIVE_LISTED
from gphotos_collector.state import LISTING_COMPLETE, STATE_FILE_NAME, PlacedFile, State, state_dir

from benchmarks.fake import Item

RAM_DISK = Path("/dev/shm")
_CONTENT = b"benchmark placeholder\n"
_SHA256 = hashlib.sha256(_CONTENT).hexdigest()


def build_backed_up(
    dest: Path, email: str, items: Iterable[Item], *, listing_complete: bool = True
) -> int:
    """Record `items` as done in DEST's state, each with a tiny file; returns how many."""
    dest.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gphotos-bench-state-", dir=_scratch_parent()))
    count = 0
    try:
        state = State.open(scratch)
        try:
            state.set_meta("account_email", email)
            archived: list[str] = []
            folders: set[Path] = set()
            for item in items:
                folder = dest / item.taken[:4] / item.taken[5:7]
                if folder not in folders:
                    folder.mkdir(parents=True, exist_ok=True)
                    folders.add(folder)
                relative = f"{item.taken[:4]}/{item.taken[5:7]}/{item.id}.jpg"
                (dest / relative).write_bytes(_CONTENT)
                taken = datetime.fromisoformat(item.taken)
                placed = PlacedFile(relative, len(_CONTENT), _SHA256)
                state.mark_done(item.id, item.kind, taken, [placed], edited=False)
                if item.archived:
                    archived.append(item.id)
                count += 1
            state.set_archived(archived, True)
            state.set_meta(LISTING_COMPLETE, "1" if listing_complete else "0")
            state.set_meta(ARCHIVE_LISTED, "1" if listing_complete else "0")
        finally:
            state.close()
        target = state_dir(dest)
        target.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(state_dir(scratch) / STATE_FILE_NAME, target / STATE_FILE_NAME)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return count


def _scratch_parent() -> Path | None:
    return RAM_DISK if RAM_DISK.is_dir() else None
