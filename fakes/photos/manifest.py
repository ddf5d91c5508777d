"""The manifest: what a complete backup of each account must contain.

Format (JSON):

    {"format": 1, "seed": S, "items_per_account": N, "media_scale": F,
     "accounts": {"<email>": {"name": "<Full Name>", "items": [ITEM, ...],
                              "albums": [ALBUM, ...]}}}

ITEMs are listed in the order they were added, newest first, deleted and
archived ones included: first the items added by `upload_old` (latest first),
then the generated items k = N-1 .. 0, so that the reversed list's index k is
item k (`fakes.photos.testing.items_by_k`). This is *not* the grid's order:
the grid is by date taken and some items are backdated (see
`fakes.photos.library`); `fakes.photos.testing.visible_ids`, `recent_ids` and
`archived_ids` give each view's order.

    {"id", "k" (int; null for an item added by upload_old), "filename",
     "taken" (ISO 8601 with the UTC offset: the capture time, what the grid
     sorts by), "uploaded" (ISO 8601, UTC: what Recently added sorts by),
     "kind" (photo, video, live), "state" (ok, processing, deleted),
     "archived" (bool: in /archive, not in the grid /; ignore when deleted),
     "edited" (bool: Shift+D gives the edited version; "Download original"
     gives `original`), "size" (bytes of the download, 0 when there is
     none), "files": [{"name", "sha256", "size"}]}

Each ITEM also holds what Google adds to it: "caption" ("" for none; any text,
newlines included), "people" (names, in the order the info panel lists them) and
"albums" (the ids of the albums it is in, in /albums order; [] once deleted).

Each account also lists its albums, in the order /albums shows them (deleted ones
are gone):

    ALBUM: {"id", "title", "shared" (bool), "share_id" and "key" (null unless
      shared: the album is /share/<share_id>?key=<key>), "items": [ALBUM_ITEM, ...]}

ALBUM_ITEMs are in the album's display order (date taken, newest first):

    {"album_item_id" (the id in the album's URLs), "library_id" (null for an item
     someone else added to a shared album: not in the library), "filename",
     "taken", "kind", "size" (bytes of its download; 0 when there is none),
     and for an item someone else added also "files" (as for ITEMs)}

`files` is what `Download` gives, unzipped for a live photo (the still, then
the video); it is empty for an item that cannot be downloaded now (processing
or deleted). Extra keys: an edited photo has `original` ({"name", "sha256",
"size"}: what `Download original` gives); an item deleted after it was in the
grid has `deleted_files` (what a backup made before the deletion holds).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.photos.albums import Album, Albums
from fakes.photos.library import ItemSpec, Library, full_name
from fakes.photos.media import MediaFactory


@dataclass(frozen=True)
class FileDigest:
    name: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class ItemDigest:
    download_size: int
    files: tuple[FileDigest, ...]
    original: FileDigest | None


class ManifestBuilder:
    """Digests are computed once per item (hashing is the only slow part)."""

    def __init__(self, library: Library, media: MediaFactory, albums: Albums | None = None) -> None:
        self._library = library
        self._media = media
        self._albums = albums if albums is not None else Albums(library)
        self._digests: dict[tuple[str, int], ItemDigest] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _compute(self, spec: ItemSpec) -> ItemDigest:
        files = tuple(
            FileDigest(f.name, f.blob.sha256(), f.blob.size) for f in self._media.files(spec)
        )
        original = None
        if spec.edited:
            blob = self._media.download(spec, original=True)
            original = FileDigest(blob.name, blob.blob.sha256(), blob.blob.size)
        return ItemDigest(self._media.download(spec).blob.size, files, original)

    def digest(self, spec: ItemSpec) -> ItemDigest:
        key = (spec.account, spec.k)
        with self._lock:
            found = self._digests.get(key)
        if found is None:
            found = self._compute(spec)
            with self._lock:
                self._digests[key] = found
        return found

    def _fill(self) -> None:
        missing = [
            spec
            for account in self._library.accounts
            for spec in self._library.all_specs(account)
            if (spec.account, spec.k) not in self._digests
        ]
        if not missing:
            return
        # hashlib releases the GIL on large buffers, so two threads use both cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for spec, digest in zip(missing, pool.map(self._compute, missing), strict=True):
                with self._lock:
                    self._digests[(spec.account, spec.k)] = digest

    def build(self) -> dict[str, Any]:
        self._fill()
        library = self._library
        accounts: dict[str, Any] = {}
        for account in library.accounts:
            items = []
            listed = [*reversed(library.uploads(account)), *reversed(library.specs(account))]
            for spec in listed:
                state = library.state(spec)
                digest = self.digest(spec)
                entry: dict[str, Any] = {
                    "id": spec.item_id,
                    "k": spec.k if spec.k >= 0 else None,
                    "filename": spec.filename,
                    "taken": spec.taken_iso,
                    "uploaded": spec.uploaded_iso,
                    "kind": spec.kind,
                    "state": state,
                    "archived": library.archived(spec),
                    "size": digest.download_size if state == "ok" else 0,
                    "edited": spec.edited,
                    "files": [f.as_json() for f in digest.files] if state == "ok" else [],
                    "caption": library.caption(spec),
                    "people": list(library.people(spec)),
                    "albums": [a.album_id for a in self._albums.albums_of(account, spec.item_id)],
                }
                if spec.edited and digest.original is not None:
                    entry["original"] = digest.original.as_json()
                if state == "deleted" and library.was_visible(spec):
                    entry["deleted_files"] = [f.as_json() for f in digest.files]
                items.append(entry)
            albums = [self._album_json(album) for album in self._albums.albums(account)]
            accounts[account] = {"name": full_name(account), "items": items, "albums": albums}
        return {
            "format": 1,
            "seed": library.seed,
            "items_per_account": library.items,
            "media_scale": self._media.scale,
            "accounts": accounts,
        }

    def _album_json(self, album: Album) -> dict[str, Any]:
        items = []
        for entry in album.entries:
            source = entry.source
            ok = entry.foreign or self._library.state(source) == "ok"
            digest = self.digest(source)
            item: dict[str, Any] = {
                "album_item_id": entry.album_item_id,
                "library_id": None if entry.foreign else source.item_id,
                "filename": source.filename,
                "taken": source.taken_iso,
                "kind": source.kind,
                "size": digest.download_size if ok else 0,
            }
            if entry.foreign:
                item["files"] = [f.as_json() for f in digest.files]
            items.append(item)
        spec = album.spec
        return {
            "id": spec.album_id,
            "title": album.title,
            "shared": spec.shared,
            "share_id": spec.share_id,
            "key": spec.key,
            "items": items,
        }

    def write(self, path: Path) -> dict[str, Any]:
        """Build and replace `path` atomically (a reader never sees half a file)."""
        with self._write_lock:
            manifest = self.build()
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
            try:
                os.fchmod(handle, 0o644)  # no secrets inside; tests may read it as another user
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(manifest, out, ensure_ascii=False, indent=1)
                    out.write("\n")
                Path(temporary).replace(path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            return manifest
