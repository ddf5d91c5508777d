"""Album stage, after the items (`--albums`): which albums hold which backed-up items.

1. List `/albums` (a virtualised list like the grid): each album's id, title and
   item count (shared albums: `./share/<id>?key=...`).
2. Walk an album's page only when it is new, its count changed, its last walk did
   not match every item, or this run is a full scan: a night with nothing changed
   opens no album.
3. Album item ids are not library ids. An album item met for the first time is
   opened in the album's viewer; its info panel's file name and time taken (to the
   minute, with its zone) name the backed-up item it is. Where that names several,
   the item is downloaded once into the scratch folder and matched by content
   hash; the download is then deleted. A photo is never stored twice. One that
   names none is not backed up yet (or is others'): looked at again next walk.
4. `album_links.py` makes `DEST/albums/<title>/` hold links to those items' files.

Items others added to a shared album are not in the member's library: they are not
backed up, and the summary names each such album with how many (`albums.not_backed_up`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import google_site
from gphotos_collector.account import goto
from gphotos_collector.album_links import AlbumFolders, folder_names, real_dir
from gphotos_collector.downloader import (
    FetchFailed,
    ItemGone,
    download_shown,
    open_item,
    step_to,
)
from gphotos_collector.errors import TemporaryError
from gphotos_collector.events import EventSink
from gphotos_collector.info_panel import AlbumRef, InfoPanel, album_ref, read_info
from gphotos_collector.lister import ListedItem, ListingError, list_items, list_links
from gphotos_collector.placer import IncompleteDownload, Placer
from gphotos_collector.sidecars import Sidecars
from gphotos_collector.state import AlbumRow, PlacedFile, State, now_iso

if TYPE_CHECKING:
    from playwright.async_api import Page

    from gphotos_collector.sync import SyncOptions

SAME_MINUTE = timedelta(seconds=60)
SHARED_DIR = "shared"  # --shared-albums: items others added, under shared/<album>/
DELETION_GUARD_MIN = 2  # more albums than this gone at once, and most of them: not trusted


@dataclass(frozen=True)
class AlbumCard:
    """An album as /albums shows it."""

    id: str
    title: str
    shared: bool
    url: str  # its page, a shared album's key included
    count: int | None


@dataclass
class AlbumsReport:
    """What the album pass tells the summary."""

    albums: int = 0  # albums /albums listed
    walked: int = 0  # albums whose page was walked this run
    linked: int = 0  # album items linked to a backed-up file
    links_made: int = 0
    links_removed: int = 0
    renamed: int = 0
    deleted: int = 0
    hard_links: bool = False  # no symbolic links on DEST's filesystem: hard links instead
    unmatched: int = 0  # album items matched to no backed-up item (tried again next walk)
    shared_in_albums: int = 0  # items others added to shared albums
    shared_kept: int = 0  # of those, kept under shared/ by this run (--shared-albums)
    keywords_updated: int = 0  # items whose sidecars' album keywords the pass brought up to date
    # Albums holding items that are not backed up (others' items in a shared album).
    not_backed_up: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None  # the pass did not finish: why (folders were left as they were)
    problems: list[str] = field(default_factory=list)  # album folders left as they were


def parse_card(href: str, text: str) -> AlbumCard | None:
    """An anchor of /albums: its href and its text lines (title, then the count)."""
    ref = album_ref(href, "")
    if ref is None:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = lines[0] if lines else ref.id
    count = None
    for line in lines[1:]:
        count = google_site.parse_album_count(line)
        if count is not None:
            break
    return AlbumCard(ref.id, title, ref.shared, google_site.with_language(href), count)


def _same_minute(first: datetime | None, second: datetime | None) -> bool:
    if first is None or second is None:
        return False
    if (first.tzinfo is None) != (second.tzinfo is None):  # compare the wall clocks
        first, second = first.replace(tzinfo=None), second.replace(tzinfo=None)
    return abs(first.replace(second=0) - second.replace(second=0)) < SAME_MINUTE


class AlbumPass:
    def __init__(
        self,
        options: SyncOptions,
        state: State,
        events: EventSink,
        downloads_dir: Path,
        tmp_dir: Path,
        sidecars: Sidecars | None = None,
    ) -> None:
        self.options = options
        self.state = state
        self.events = events
        self.downloads_dir = downloads_dir
        self.tmp_dir = tmp_dir
        self.sidecars = sidecars
        self.report = AlbumsReport()
        self.folders = AlbumFolders(options.dest)
        self.shared_root = options.dest / SHARED_DIR

    async def run(self, page: Page) -> AlbumsReport:
        """List the albums, walk those that changed, and bring their folders up to date."""
        try:
            cards = await self._cards(page)
        except (ListingError, FetchFailed, TemporaryError) as error:
            self.report.error = f"the albums list could not be read: {error}"
            self.events.emit("albums-failed", error=self.report.error)
            return self.report
        self.report.albums = len(cards)
        rows = self._follow(cards)
        for card in cards:
            row = rows[card.id]
            due = row.walked_at is None or row.walked_count != card.count or self.options.full_scan
            if not due:
                continue
            try:
                await self._walk(page, card, row)
            except (ListingError, TemporaryError) as error:  # walked again next run
                self.events.emit(
                    "album-walk-failed", album=card.id, title=card.title, error=str(error)
                )
        self._foreign_items(cards)
        self._refresh_keywords(cards)
        self._update_links(cards)
        return self.report

    def _refresh_keywords(self, cards: list[AlbumCard]) -> None:
        """Once every album was walked to its end, the album pass knows each item's albums
        better than the info panel read weeks ago: a renamed album, an item added or
        removed reach the sidecars tonight (only those whose albums changed)."""
        if self.sidecars is None:
            return
        rows = self.state.albums()
        if any(card.id not in rows or rows[card.id].walked_at is None for card in cards):
            return  # an album not (fully) walked: what the pass knows is partial
        membership: dict[str, list[AlbumRef]] = {}
        for card in cards:
            for item_id in set(filter(None, self.state.album_items(card.id).values())):
                membership.setdefault(item_id, []).append(
                    AlbumRef(card.id, card.title, card.shared)
                )
        for item_id, details in self.state.done_details().items():
            albums = tuple(sorted(membership.get(item_id, []), key=lambda a: (a.title, a.id)))
            if {(a.id, a.title) for a in albums} == {(a.id, a.title) for a in details.albums}:
                continue
            self.state.set_details(item_id, replace(details, albums=albums), read=False)
            url = google_site.item_url(
                self.options.base_url, self.options.account_index, item_id, google_site.VIEW_GRID
            )
            written = self.sidecars.refresh(self.state, item_id, url)
            self.report.keywords_updated += 1
            if written:
                self.events.emit("sidecars", id=item_id, files=written)

    def _follow(self, cards: list[AlbumCard]) -> dict[str, AlbumRow]:
        """The state and the folders follow /albums: deleted albums lose their folder of
        links (kept shared files stay), renamed ones move, new ones get a name."""
        known = self.state.albums()
        listed = {card.id for card in cards}
        self.folders.recorded_files([f.path for f, _ in self.state.recorded_files()])
        gone = [album_id for album_id in known if album_id not in listed]
        if len(gone) > DELETION_GUARD_MIN and len(gone) * 2 > len(known):
            # Most albums gone at once is more likely a page we no longer read right.
            self.report.problems.append(
                f"the albums list shows {len(listed)} albums of the {len(known)} known: "
                "not trusted, no album folder was removed (run `gphotos-collector doctor`)"
            )
            gone = []
        for album_id in gone:  # deleted on Google (the list was read to its end)
            row = known[album_id]
            if row.folder is not None:
                self.folders.remove(row.folder)
            self.state.forget_album(album_id)
        # Albums not listed but kept (the guard above) keep their folders' names.
        kept = [r.folder for a, r in known.items() if a not in listed and a not in gone]
        names = folder_names(
            {card.id: card.title for card in cards},
            {card.id: known[card.id].folder if card.id in known else None for card in cards},
            taken=[folder for folder in kept if folder is not None],
        )
        rows: dict[str, AlbumRow] = {}
        for card in cards:
            before = known.get(card.id)
            folder = names[card.id]
            if before is not None and before.folder is not None and before.folder != folder:
                old = before.folder
                folder = self.folders.rename(old, folder)
                if folder != old and card.shared:
                    self._rename_shared(old, folder)
            rows[card.id] = AlbumRow(
                card.id,
                card.title,
                card.shared,
                card.url,
                card.count,
                folder,
                before.walked_count if before else None,
                before.walked_at if before else None,
            )
            if rows[card.id] != before:
                self.state.save_album(rows[card.id])
        return rows

    def _rename_shared(self, old: str, new: str) -> None:
        source, target = self.shared_root / old, self.shared_root / new
        if not real_dir(source) or os.path.lexists(target):
            return
        source.rename(target)
        self.state.move_shared_folder(f"{SHARED_DIR}/{old}/", f"{SHARED_DIR}/{new}/")

    async def _cards(self, page: Page) -> list[AlbumCard]:
        url = google_site.albums_url(self.options.base_url, self.options.account_index)
        await goto(page, url, google_site.STEP_VIEW[google_site.VIEW_ALBUMS])
        links = await list_links(
            page,
            google_site.STEP_VIEW[google_site.VIEW_ALBUMS],
            container=google_site.SCROLL_CONTAINER_SELECTOR,
            link_selector=google_site.ALBUM_LINK_SELECTOR,
        )
        cards: dict[str, AlbumCard] = {}
        for href, text in links:
            card = parse_card(href, text)
            if card is not None:
                cards.setdefault(card.id, card)
        self.events.emit("albums-listed", count=len(cards))
        return list(cards.values())

    async def _walk(self, page: Page, card: AlbumCard, row: AlbumRow) -> None:
        """Walk one album's page to its end and match each of its items."""
        await goto(page, card.url, f"the album {card.title!r}")
        seen: list[str] = []

        async def collect(item: ListedItem, follows: bool) -> None:
            seen.append(item.id)

        result = await list_items(
            page,
            is_known=lambda _: False,
            on_new=collect,
            view=google_site.VIEW_ALBUM,
            stop_after_known=None,
            container=google_site.ALBUM_CONTAINER_SELECTOR,
        )
        if not result.reached_end:
            raise ListingError(
                google_site.VIEW_ALBUM, "did not reach its end", target="", empty=False
            )
        if card.count and not seen:  # its card counts items its page does not show
            raise ListingError(
                google_site.VIEW_ALBUM,
                f"the album {card.title!r} counts {card.count} items but its page shows none",
                target=google_site.GRID_ITEM_SELECTOR,
                empty=True,
            )
        before = self.state.album_items(card.id)
        kept = self.state.shared_kept(card.id) if card.shared else set()
        matched: dict[str, tuple[str | None, str]] = {}
        unmatched = 0
        showing: str | None = None  # the album item the viewer shows now
        for index, album_item_id in enumerate(seen):
            previous = seen[index - 1] if index else None
            known = before.get(album_item_id)
            # Matched before, or others' item of a shared album that needs no keeping now.
            settled_foreign = (
                card.shared
                and album_item_id in before
                and (album_item_id in kept or not self.options.shared_albums)
            )
            if known is not None or settled_foreign:
                matched[album_item_id] = (known, "")
                continue
            item_id, name, info = await self._match(
                page, card, album_item_id, after=showing if showing == previous else None
            )
            showing = album_item_id if info.taken is not None else None
            if item_id is None and not card.shared:
                unmatched += 1  # not backed up yet? matched again on the next walk
                continue
            if item_id is None and self.options.shared_albums and album_item_id not in kept:
                await self._keep_foreign(page, card, row, album_item_id, info)
            matched[album_item_id] = (item_id, name)
        self.state.set_album_items(card.id, matched)
        self.report.walked += 1
        self.report.unmatched += unmatched
        self.state.save_album(
            replace(  # row already holds what /albums showed of the card this run
                row,
                walked_count=None if unmatched else len(seen),
                walked_at=None if unmatched else now_iso(),
            )
        )
        self.events.emit(
            "album-walked",
            album=card.id,
            title=card.title,
            items=len(seen),
            unmatched=unmatched,
        )

    async def _match(
        self, page: Page, card: AlbumCard, album_item_id: str, *, after: str | None
    ) -> tuple[str | None, str, InfoPanel]:
        """The backed-up item an album item is (None: none), its file name and info panel.

        `after`: the viewer shows the album item before it, so ArrowRight reaches it
        without loading the app again."""
        try:
            if not (after and after in page.url and await step_to(page, album_item_id)):
                url = google_site.album_item_url(card.url, album_item_id)
                await open_item(page, url, album_item_id)
        except (ItemGone, FetchFailed):
            return None, "", InfoPanel()
        info: InfoPanel = await read_info(page, album_item_id)
        name = info.details.filename if info.details and info.details.filename else ""
        candidates = [
            item_id
            for item_id, taken in (self.state.items_named(name) if name else [])
            if _same_minute(taken, info.taken)
        ]
        if len(candidates) == 1:
            return candidates[0], name, info
        if not candidates:  # not backed up (yet), or others' item in a shared album
            return None, name, info
        by_content = await self._by_content(page, album_item_id) & set(candidates)
        if len(by_content) == 1:
            return by_content.pop(), name, info
        return None, name, info

    async def _by_content(self, page: Page, album_item_id: str) -> set[str]:
        """Download the shown album item once; the backed-up items with the same bytes."""
        try:
            download = await download_shown(
                page, album_item_id, self.downloads_dir, self.options.stall_timeout
            )
        except Exception as error:  # a failed download only means: not matched now
            self.events.emit("album-item-unmatched", id=album_item_id, error=str(error))
            return set()
        try:
            digest = hashlib.sha256()
            with download.path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        finally:
            download.path.unlink(missing_ok=True)
        return self.state.items_with_content(digest.hexdigest())

    def _foreign_items(self, cards: list[AlbumCard]) -> None:
        """Items in shared albums that are not in the library: named, not backed up."""
        for card in cards:
            if not card.shared:
                continue
            kept = self.state.shared_kept(card.id)
            foreign = [a for a, item in self.state.album_items(card.id).items() if item is None]
            self.report.shared_in_albums += len(foreign)
            foreign = [a for a in foreign if a not in kept]
            if foreign:
                self.report.not_backed_up.append(
                    {
                        "album": card.title,
                        "items": len(foreign),
                        "why": "added by others to a shared album, not in your library "
                        "(--shared-albums keeps them)",
                    }
                )

    async def _keep_foreign(
        self, page: Page, card: AlbumCard, row: AlbumRow, album_item_id: str, info: InfoPanel
    ) -> None:
        """--shared-albums: an item others added, kept under shared/<folder>/YYYY/MM/ with
        the placement rules of the library (atomic, safe and collision-free names)."""
        if row.folder is None or not self._make_shared_folder(row.folder):
            return
        folder = row.folder
        try:
            download = await download_shown(
                page, album_item_id, self.downloads_dir, self.options.stall_timeout
            )
        except Exception as error:  # kept on a later walk
            self.events.emit("album-item-not-kept", id=album_item_id, error=str(error))
            return
        prefix = f"{SHARED_DIR}/{folder}/"
        placer = Placer(
            self.shared_root / folder,
            self.tmp_dir,
            lambda path: self.state.is_claimed_shared(prefix + path),
        )
        try:
            staged = placer.stage(album_item_id, download.path, download.suggested_name)
        except IncompleteDownload as error:
            download.path.unlink(missing_ok=True)
            self.events.emit("album-item-not-kept", id=album_item_id, error=str(error))
            return
        placed: list[PlacedFile] = []
        try:
            for file in staged:
                placed.append(placer.place(file, info.taken))
            files = [PlacedFile(prefix + p.path, p.size, p.sha256) for p in placed]
            self.state.add_shared_files(card.id, album_item_id, files)
        finally:
            placer.discard(staged[len(placed) :])
        self.report.shared_kept += 1
        self.events.emit("album-item-kept", album=card.id, id=album_item_id, files=files)

    def _make_shared_folder(self, folder: str) -> bool:
        for path in (self.shared_root, self.shared_root / folder):
            with contextlib.suppress(FileExistsError):
                path.mkdir()
            if not real_dir(path):
                self.report.problems.append(f"{path} is not a folder (a link?): nothing kept")
                return False
        return True

    def _update_links(self, cards: list[AlbumCard]) -> None:
        """Each album's folder holds exactly the links of its backed-up items' files."""
        rows = self.state.albums()
        for card in cards:
            row = rows.get(card.id)
            if row is None or row.folder is None:
                continue
            files = [
                f.path
                for item_id in set(filter(None, self.state.album_items(card.id).values()))
                for f in self.state.files_of(item_id)
            ]
            self.report.linked += len(files)
            self.folders.sync(row.folder, files)
        links = self.folders.report
        self.report.links_made = links.made
        self.report.links_removed = links.removed
        self.report.renamed = len(links.renamed)
        self.report.deleted = len(links.deleted)
        self.report.hard_links = links.hard_links
        if self.folders.no_links is not None:
            links.problems.append(self.folders.no_links)
        self.report.problems += links.problems
        for problem in links.problems:
            self.events.emit("album-folder-problem", problem=problem)


def describe_albums(report: dict[str, object]) -> str:
    """The album pass in one sentence (the summary line, the Healthchecks message)."""
    if report.get("error"):
        return f"albums NOT updated: {report['error']} (the next run tries again)"
    text = (
        f"{report.get('albums', 0)} albums ({report.get('walked', 0)} walked, "
        f"{report.get('links_made', 0)} links made, {report.get('links_removed', 0)} removed)"
    )
    if report.get("hard_links"):
        text += ", as hard links (this filesystem has no symbolic links)"
    if report.get("unmatched"):
        text += (
            f"; {report['unmatched']} album items matched no backed-up item yet "
            "(looked at again next run)"
        )
    problems = report.get("problems")
    if isinstance(problems, list) and problems:
        text += "; album folders: " + "; ".join(str(p) for p in problems[:3])
    not_backed_up = report.get("not_backed_up")
    if isinstance(not_backed_up, list) and not_backed_up:
        named = ", ".join(f"{entry['album']!r} ({entry['items']})" for entry in not_backed_up)
        text += f"; NOT backed up, items others added to shared albums: {named}"
    return text
