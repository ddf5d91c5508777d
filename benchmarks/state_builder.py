"""A DEST that looks backed up, built directly rather than downloaded.

A first backup of 50,000 items through the browser would take hours, and a
nothing-new run or a full scan only reads the state and checks files exist.
So the state is written with the collector's own `State` API (each item done,
with one tiny real file on disk), on a RAM disk where SQLite's fsyncs cost
nothing, then copied into DEST.

With `details=True` each item also has its info panel details as a backup reads
them (`State.set_details`, read now): the file name the fake's panel shows,
which the album pass matches album items by (with the time taken, recorded as
the fake gives it), and which keeps a run from reading them again (a revisit).
With `albums`, the album state a first `sync --albums` would record: every album
walked to its end at its present count, each album item matched to its library
item (others' items in a shared album to none); no album folder made yet (the
next `--albums` run makes them). `album_state_differences` checks a state the
collector wrote against that.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from gphotos_collector.google_site import with_language
from gphotos_collector.info_panel import ItemDetails
from gphotos_collector.listing import ARCHIVE_LISTED
from gphotos_collector.state import (
    LISTING_COMPLETE,
    STATE_FILE_NAME,
    AlbumRow,
    PlacedFile,
    State,
    now_iso,
    state_dir,
)

from benchmarks.fake import Album, Item

RAM_DISK = Path("/dev/shm")
_CONTENT = b"benchmark placeholder\n"
_SHA256 = hashlib.sha256(_CONTENT).hexdigest()


def build_backed_up(
    dest: Path,
    email: str,
    items: Iterable[Item],
    *,
    listing_complete: bool = True,
    details: bool = True,
    albums: Iterable[Album] = (),
    base_url: str = "",
) -> int:
    """Record `items` as done in DEST's state, each with a tiny file (and with `details`,
    the file name its info panel shows, read now: without them every run would read
    300 items' info panels again), and `albums` as walked (their pages under
    `base_url`, the first account's); returns how many items."""
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
                if details:
                    state.set_details(item.id, ItemDetails(filename=item.filename))
                if item.archived:
                    archived.append(item.id)
                count += 1
            state.set_archived(archived, True)
            walked_at = now_iso()
            for album in albums:
                url = with_language(base_url.rstrip("/") + album.path)
                size = len(album.items)
                # No folder yet (the next --albums run makes it); walked at its count.
                state.save_album(
                    AlbumRow(album.id, album.title, album.shared, url, size, None, size, walked_at)
                )
                state.set_album_items(
                    album.id, {entry.id: (entry.item, entry.filename) for entry in album.items}
                )
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


def album_state_differences(dest: Path, albums: Iterable[Album]) -> list[str]:
    """Where DEST's album state differs from what `build_backed_up` would record for
    `albums` (its folders aside): [] when the collector recorded just that."""
    state = State(state_dir(dest) / STATE_FILE_NAME)  # no orphan scan: only reads
    try:
        recorded = state.albums()
        expected = {album.id: album for album in albums}
        found = [f"album {a!r} not recorded" for a in expected.keys() - recorded.keys()]
        found += [f"album {a!r} recorded, not listed" for a in recorded.keys() - expected.keys()]
        for album_id in sorted(expected.keys() & recorded.keys()):
            album, row = expected[album_id], recorded[album_id]
            count = len(album.items)
            if (row.title, row.shared, row.count, row.walked_count) != (
                album.title,
                album.shared,
                count,
                count,
            ):
                found.append(
                    f"album {album.title!r}: title, shared, count, walked count "
                    f"{(row.title, row.shared, row.count, row.walked_count)} instead of "
                    f"{(album.title, album.shared, count, count)}"
                )
            if row.walked_at is None:
                found.append(f"album {album.title!r}: not walked to its end")
            matched = state.album_items(album_id)
            wanted = {entry.id: entry.item for entry in album.items}
            wrong = [
                a
                for a in wanted.keys() | matched.keys()
                if a not in wanted or a not in matched or matched[a] != wanted[a]
            ]
            if wrong:
                found.append(
                    f"album {album.title!r}: {len(wrong)} of {count} items matched otherwise"
                )
        return found
    finally:
        state.close()


def _scratch_parent() -> Path | None:
    return RAM_DISK if RAM_DISK.is_dir() else None
