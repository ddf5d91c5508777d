"""Each account's albums: pure functions of (seed, account, album index), plus what
tests changed since (renamed, deleted, items added or removed).

Every account has `DEFAULT_ALBUMS` albums (`FakePhotos(albums=N)` for more or fewer):
the first eight are the templates below, in this order, each holding a few fixed
items (when the library has them); past the fixed items, about 23% of the items are
in one album and 5% in two, picked among all albums:

    0 "Summer 2019"            k=0, 2, 6
    1 "Summer 2019"            k=0, 11        (the same title: Google allows it)
    2 "Holidays"               k=1, 4, 8
    3 "holidays"               k=3            (differs from 2 only in case)
    4 "Berlin / München 2018"  k=6, 7, 12     (a "/" in the title)
    5 "東京 🗼 2019"           k=4, 10        (the edited photo)
    6 "Old scans"              k=13, 0        (the archived item)
    7 "Family ❤️ shared"      k=0, 2, 11     shared: also 3 items others added

so item k=0 is in four albums. Albums past the eighth get generated titles; about
one in ten of them is shared. A shared album has a share id and a key
(`/share/<shareId>?key=<KEY>`) and may hold items *others* added: they are no item
of the member's library (no library id; their own file name, date and bytes).

Inside an album every item has an album item id (`album_item_id`), derived from the
album id and the item's own id: never its library id. An album lists its items by
date taken, newest first (like the grid). Deleted library items leave every album;
archived ones stay in theirs.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import threading
from dataclasses import dataclass

from fakes.photos.library import (
    _FIRST_ORDINARY_K,
    ItemSpec,
    Library,
    _digest,
    _unit,
    generate_item,
)

DEFAULT_ALBUMS = 8
# Ordinary items (k past the fixed ones): in no album, one, or two.
_IN_ONE_ALBUM, _IN_TWO_ALBUMS = 0.72, 0.95
EXTRA_SHARED_RATE = 0.1


@dataclass(frozen=True)
class _Template:
    title: str
    shared: bool
    pinned: tuple[int, ...]  # fixed items (k) it holds
    foreign_ks: tuple[int, ...] = ()  # k of the other person's items it holds


_TEMPLATES = (
    _Template("Summer 2019", False, (0, 2, 6)),
    _Template("Summer 2019", False, (0, 11)),
    _Template("Holidays", False, (1, 4, 8)),
    _Template("holidays", False, (3,)),
    _Template("Berlin / München 2018", False, (6, 7, 12)),
    _Template("東京 🗼 2019", False, (4, 10)),
    _Template("Old scans", False, (13, 0)),
    # k=0 of the other person is an "IMG_0001.JPG" too: same name, other bytes.
    _Template("Family ❤️ shared", True, (0, 2, 11), (0, 20, 21)),
)
_EXTRA_WORDS = (
    "Trip",
    "Weekend",
    "Garden",
    "Wedding",
    "Hiking",
    "Concert",
    "Beach",
    "Kids",
    "Recipes",
    "Cats",
    "Road trip",
    "Ski",
)


@dataclass(frozen=True)
class AlbumSpec:
    """Everything about one album that never changes."""

    account: str
    index: int
    album_id: str
    title: str  # as created (rename_album changes what is shown)
    shared: bool
    share_id: str | None
    key: str | None  # the share link's key
    hue: int
    pinned: tuple[int, ...]
    foreign: tuple[ItemSpec, ...]  # items others added (shared albums only)

    @property
    def view(self) -> str:
        """The view name the app's calls use for the album's items."""
        return f"album:{self.album_id}"


@dataclass(frozen=True)
class AlbumEntry:
    """One item as an album shows it."""

    album_id: str
    album_item_id: str
    source: ItemSpec  # the library item, or the other person's item (its bytes)
    view: ItemSpec  # `source` under the album item id
    foreign: bool  # added by someone else: not in the member's library


@dataclass(frozen=True)
class Album:
    """An album as it is now."""

    spec: AlbumSpec
    title: str
    entries: tuple[AlbumEntry, ...]  # display order: date taken, newest first

    @property
    def album_id(self) -> str:
        return self.spec.album_id


def _opaque(raw: bytes, length: int) -> str:
    return "AF1Qip" + base64.urlsafe_b64encode(raw).decode().rstrip("=")[: length - 6]


def album_id(seed: int, account: str, index: int) -> str:
    raw = _digest(seed, account, index, "album-id") + _digest(seed, account, index, "album-id2")
    return _opaque(raw, 44 + int(_unit(seed, account, index, "album-id-length") * 12))


def album_item_id(seed: int, album: str, source_id: str) -> str:
    """An item's id inside an album: from the album id and the item's own id, shaped like
    a library id (40-70 characters) but never one."""
    raw = hashlib.sha256(f"{seed}\x1falbum-item\x1f{album}\x1f{source_id}".encode()).digest()
    raw += hashlib.sha256(f"{seed}\x1falbum-item2\x1f{album}\x1f{source_id}".encode()).digest()
    return _opaque(raw, 40 + raw[-1] % 31)


def _foreign_account(account: str, index: int) -> str:
    """Whose items a shared album's other member added (a key for generation only)."""
    return f"shared:{account}:{index}"


def _album(seed: int, account: str, index: int) -> AlbumSpec:
    if index < len(_TEMPLATES):
        template = _TEMPLATES[index]
        title, shared, pinned, foreign_ks = (
            template.title,
            template.shared,
            template.pinned,
            template.foreign_ks,
        )
    else:
        word = _EXTRA_WORDS[int(_unit(seed, account, index, "album-word") * len(_EXTRA_WORDS))]
        title = f"{word} {1995 + int(_unit(seed, account, index, 'album-year') * 30)}"
        shared = _unit(seed, account, index, "album-shared") < EXTRA_SHARED_RATE
        pinned = ()
        count = int(_unit(seed, account, index, "album-foreign") * 3) if shared else 0
        foreign_ks = tuple(30 + j for j in range(count))
    the_id = album_id(seed, account, index)
    share_id = key = None
    if shared:
        share_id = _opaque(
            _digest(seed, account, index, "album-share-id")
            + _digest(seed, account, index, "album-share-id2"),
            52,
        )
        key = base64.urlsafe_b64encode(_digest(seed, account, index, "album-key")).decode()
        key = key.rstrip("=")
    other = _foreign_account(account, index)
    foreign = tuple(
        # Others' items sort after the library's at the same second (never a tie).
        dataclasses.replace(generate_item(seed, other, k), upload_rank=(-1, 1 + j))
        for j, k in enumerate(foreign_ks)
    )
    return AlbumSpec(
        account=account,
        index=index,
        album_id=the_id,
        title=title,
        shared=shared,
        share_id=share_id,
        key=key,
        hue=int(_unit(seed, account, index, "album-hue") * 360),
        pinned=pinned,
        foreign=foreign,
    )


@functools.lru_cache(maxsize=64)
def generate_albums(seed: int, account: str, count: int) -> tuple[AlbumSpec, ...]:
    """The account's albums as created, in the order /albums lists them."""
    return tuple(_album(seed, account, index) for index in range(count))


def generated_memberships(seed: int, account: str, k: int, count: int) -> tuple[int, ...]:
    """The indexes of the albums (of `count`) that item k was put in."""
    if k < 0 or count <= 0:
        return ()
    if k < _FIRST_ORDINARY_K:
        return tuple(
            index for index, template in enumerate(_TEMPLATES[:count]) if k in template.pinned
        )
    u = _unit(seed, account, k, "album-count")
    wanted = 0 if u < _IN_ONE_ALBUM else 1 if u < _IN_TWO_ALBUMS else 2
    picked = {int(_unit(seed, account, k, f"album-pick-{i}") * count) for i in range(wanted)}
    return tuple(sorted(picked))


@dataclass
class _Changes:
    titles: dict[str, str] = dataclasses.field(default_factory=dict)
    deleted: set[str] = dataclasses.field(default_factory=set)
    removed: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # source ids
    added: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # library ids


@dataclass(frozen=True)
class _Index:
    key: tuple[int, int]
    albums: tuple[Album, ...]
    by_id: dict[str, Album]
    by_share: dict[str, Album]
    entries: dict[str, AlbumEntry]  # album item id -> entry
    of_source: dict[str, tuple[str, ...]]  # source id -> album ids, in album order


class Albums:
    """The albums of all accounts of a `Library`, and what has changed since.

    Thread-safe; what an album holds follows the library (deleted items leave it).
    """

    def __init__(self, library: Library, count: int = DEFAULT_ALBUMS) -> None:
        if count < 0:
            raise ValueError("the number of albums cannot be negative")
        self.library = library
        self.seed = library.seed
        self.count = count
        self._lock = threading.RLock()
        self._version = 0
        self._changes: dict[str, _Changes] = {a: _Changes() for a in library.accounts}
        self._indexes: dict[str, _Index] = {}

    @property
    def version(self) -> int:
        """Changes whenever an album changed (not when the library did)."""
        return self._version

    def specs(self, account: str) -> tuple[AlbumSpec, ...]:
        """Every album as created, deleted ones included."""
        return generate_albums(self.seed, account, self.count)

    # --- what is there now -------------------------------------------------------------

    def _index(self, account: str) -> _Index:
        if account not in self._changes:
            raise KeyError(f"no account {account} in this fake")
        with self._lock:
            key = (self.library.version, self._version)
            cached = self._indexes.get(account)
            if cached is not None and cached.key == key:
                return cached
            built = self._build(account, key)
            self._indexes[account] = built
            return built

    def _build(self, account: str, key: tuple[int, int]) -> _Index:
        library = self.library
        changes = self._changes[account]
        specs = [s for s in self.specs(account) if s.album_id not in changes.deleted]
        chosen: dict[str, dict[str, ItemSpec]] = {s.album_id: {} for s in specs}
        by_index = {s.index: s.album_id for s in specs}
        alive = [s for s in library.all_specs(account) if library.state(s) != "deleted"]
        alive_by_id = {s.item_id: s for s in alive}
        for item_spec in alive:
            for index in generated_memberships(self.seed, account, item_spec.k, self.count):
                found = by_index.get(index)
                if found is not None:
                    chosen[found][item_spec.item_id] = item_spec
        for found, ids in changes.added.items():
            for item in ids:
                if found in chosen and item in alive_by_id:
                    chosen[found][item] = alive_by_id[item]
        albums: list[Album] = []
        entries: dict[str, AlbumEntry] = {}
        of_source: dict[str, list[str]] = {}
        for spec in specs:
            removed = changes.removed.get(spec.album_id, set())
            listed: list[AlbumEntry] = []
            members = [(s, False) for s in chosen[spec.album_id].values()]
            members += [(s, True) for s in spec.foreign]
            for source, foreign in members:
                if source.item_id in removed:
                    continue
                inner = album_item_id(self.seed, spec.album_id, source.item_id)
                listed.append(
                    AlbumEntry(
                        album_id=spec.album_id,
                        album_item_id=inner,
                        source=source,
                        view=dataclasses.replace(source, item_id=inner),
                        foreign=foreign,
                    )
                )
            listed.sort(key=lambda entry: entry.view.grid_key, reverse=True)
            for entry in listed:
                entries[entry.album_item_id] = entry
                of_source.setdefault(entry.source.item_id, []).append(spec.album_id)
            title = changes.titles.get(spec.album_id, spec.title)
            albums.append(Album(spec=spec, title=title, entries=tuple(listed)))
        return _Index(
            key=key,
            albums=tuple(albums),
            by_id={album.album_id: album for album in albums},
            by_share={a.spec.share_id: a for a in albums if a.spec.share_id is not None},
            entries=entries,
            of_source={source: tuple(ids) for source, ids in of_source.items()},
        )

    def albums(self, account: str) -> tuple[Album, ...]:
        """The account's albums now (not deleted), in the order /albums lists them."""
        return self._index(account).albums

    def album(self, account: str, the_id: str) -> Album | None:
        return self._index(account).by_id.get(the_id)

    def shared_album(self, account: str, share_id: str) -> Album | None:
        return self._index(account).by_share.get(share_id)

    def entry(self, account: str, album_item: str) -> AlbumEntry | None:
        """An item of one of the account's albums, by its album item id."""
        return self._index(account).entries.get(album_item)

    def albums_of(self, account: str, source_id: str) -> list[Album]:
        """The albums an item (library id, or another person's item id) is in."""
        index = self._index(account)
        return [index.by_id[found] for found in index.of_source.get(source_id, ())]

    # --- what tests change ---------------------------------------------------------------

    def _existing(self, account: str, the_id: str) -> Album:
        found = self.album(account, the_id)
        if found is None:
            raise KeyError(f"{account} has no album {the_id}")
        return found

    def rename(self, account: str, the_id: str, title: str) -> None:
        with self._lock:
            self._existing(account, the_id)
            self._changes[account].titles[the_id] = str(title)
            self._version += 1

    def delete(self, account: str, the_id: str) -> None:
        with self._lock:
            self._existing(account, the_id)
            self._changes[account].deleted.add(the_id)
            self._version += 1

    def remove(self, account: str, the_id: str, item: str) -> AlbumEntry:
        """Take an item out of an album: `item` is its album item id or its library id."""
        with self._lock:
            album = self._existing(account, the_id)
            entry = next(
                (e for e in album.entries if item in (e.album_item_id, e.source.item_id)), None
            )
            if entry is None:
                raise KeyError(f"album {the_id} of {account} holds no item {item}")
            changes = self._changes[account]
            changes.removed.setdefault(the_id, set()).add(entry.source.item_id)
            added = changes.added.get(the_id, [])
            if entry.source.item_id in added:
                added.remove(entry.source.item_id)
            self._version += 1
            return entry

    def add(self, account: str, the_id: str, item: str) -> AlbumEntry:
        """Put a library item (by its library id) into an album; a no-op if it is in."""
        with self._lock:
            album = self._existing(account, the_id)
            spec = self.library.find(account, item)
            if spec is None or self.library.state(spec) == "deleted":
                raise KeyError(f"{account} has no item {item}")
            changes = self._changes[account]
            changes.removed.get(the_id, set()).discard(spec.item_id)
            if not any(e.source.item_id == spec.item_id for e in album.entries):
                changes.added.setdefault(the_id, []).append(spec.item_id)
            self._version += 1
            inner = album_item_id(self.seed, the_id, spec.item_id)
            entry = self.entry(account, inner)
            assert entry is not None
            return entry
