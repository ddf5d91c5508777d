"""Sidecar stage, after placement: `<file name>.xmp` beside every placed file.

Download keeps the camera's bytes and EXIF; what people added in Google Photos
(the caption, a corrected date and zone, the people named, the albums) is kept in
an XMP sidecar that exiftool, digiKam, Immich and PhotoPrism read:

- `dc:description`: the caption, exactly as typed.
- `exif:DateTimeOriginal` and `photoshop:DateCreated`: the date and time taken
  with its offset, as Google shows it (it may differ from the camera's EXIF).
- `lr:hierarchicalSubject`: `Albums|<title>` and `People|<name>`; `dc:subject`: the
  leaf names.
- The project's own namespace (`gpc:`): Google's item id and URL, whether the item
  is archived, the file's role (media, edited, original) and the file name Google
  shows.

The packet is serialised by Exempi (python-xmp-toolkit): escaping and the RDF form
are the XMP toolkit's, not ours. A sidecar is written atomically (a temporary file
in DEST's state folder, then a rename) and only when its bytes would change, so a
night with nothing new rewrites nothing; the media file is never opened.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gphotos_collector.state import ItemFacts, PlacedFile, State

SIDECAR_SUFFIX = ".xmp"
NS_GPC = "http://ns.gphotos-collector.invalid/1.0/"  # the project's own (.invalid: no host)
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
ALBUMS_KEYWORD, PEOPLE_KEYWORD = "Albums", "People"
_UNORDERED = {"prop_array_is_unordered": True}


def sidecar_path(media_path: str) -> str:
    """The sidecar of a placed file (relative to DEST): IMG_0001.JPG -> IMG_0001.JPG.xmp."""
    return media_path + SIDECAR_SUFFIX


def is_sidecar(path: str) -> bool:
    return path.endswith(SIDECAR_SUFFIX)


def _keyword(name: str) -> str:
    """A keyword's leaf: `|` separates levels in lr:hierarchicalSubject."""
    return " ".join(name.replace("|", "/").split())


def _xmp_date(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class SidecarItem:
    """One item as its sidecars describe it."""

    item_id: str
    url: str
    facts: ItemFacts


class _Toolkit:
    """python-xmp-toolkit, loaded once: it needs Exempi (Debian: libexempi8)."""

    def __init__(self) -> None:
        self.meta: Any = None
        self.consts: Any = None
        self.problem: str | None = None
        try:
            import libxmp  # type: ignore[import-untyped]
            from libxmp import consts
        except Exception as error:  # ImportError, or libxmp's ExempiLoadError
            self.problem = (
                f"the XMP toolkit cannot load ({type(error).__name__}: {error}); "
                "install Debian's libexempi8 (the role does) and run again"
            )
            return
        libxmp.XMPMeta.register_namespace(NS_LR, "lr")
        libxmp.XMPMeta.register_namespace(NS_GPC, "gpc")
        self.meta, self.consts = libxmp.XMPMeta, consts


_toolkit: _Toolkit | None = None


def _loaded() -> _Toolkit:
    global _toolkit
    if _toolkit is None:
        _toolkit = _Toolkit()
    return _toolkit


def unavailable() -> str | None:
    """Why sidecars cannot be written on this machine, or None."""
    return _loaded().problem


def render(item: SidecarItem, role: str) -> bytes:
    """The XMP sidecar of one of the item's files (its role: media, edited, original)."""
    toolkit = _loaded()
    if toolkit.problem is not None:
        raise RuntimeError(toolkit.problem)
    consts, facts = toolkit.consts, item.facts
    xmp = toolkit.meta()
    details = facts.details
    if details is not None and details.caption:
        xmp.set_localized_text(consts.XMP_NS_DC, "description", None, "x-default", details.caption)
    if facts.taken is not None:
        when = _xmp_date(facts.taken)
        xmp.set_property(consts.XMP_NS_EXIF, "DateTimeOriginal", when)
        xmp.set_property(consts.XMP_NS_Photoshop, "DateCreated", when)
    if details is not None:
        leaves: dict[str, None] = {}
        hierarchy: dict[str, None] = {}
        # Sorted: the info panel and the album pass may name the same albums in
        # another order, and that must not rewrite a sidecar.
        for top, names in (
            (ALBUMS_KEYWORD, [album.title for album in details.albums]),
            (PEOPLE_KEYWORD, list(details.people)),
        ):
            for name in sorted({_keyword(name) for name in names}):
                if name:
                    leaves[name] = None
                    hierarchy[f"{top}|{name}"] = None
        for leaf in leaves:
            xmp.append_array_item(consts.XMP_NS_DC, "subject", leaf, _UNORDERED)
        for path in hierarchy:
            xmp.append_array_item(NS_LR, "hierarchicalSubject", path, _UNORDERED)
    xmp.set_property(NS_GPC, "itemId", item.item_id)
    xmp.set_property(NS_GPC, "url", item.url)
    xmp.set_property(NS_GPC, "role", role)
    if facts.archived is not None:
        xmp.set_property(NS_GPC, "archived", "True" if facts.archived else "False")
    if details is not None and details.filename:
        xmp.set_property(NS_GPC, "originalFileName", details.filename)
    text: str = xmp.serialize_to_str(omit_packet_wrapper=True)
    return text.encode("utf-8")


def _read_if_regular(path: Path) -> bytes | None:
    """The bytes of an existing regular file (never through a link), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


class Sidecars:
    """Writes and refreshes the sidecars of placed files, inside DEST only."""

    def __init__(self, dest: Path, tmp_dir: Path) -> None:
        self.dest = dest
        self.tmp_dir = tmp_dir
        self.written = 0  # sidecars written (new or changed) by this run
        self.unchanged = 0

    def _real_folder(self, relative: str) -> Path | None:
        """DEST/<relative>'s folder if every part of it is a real folder (no link)."""
        current = self.dest
        for part in Path(relative).parent.parts:
            current = current / part
            try:
                if not stat.S_ISDIR(current.lstat().st_mode):
                    return None
            except OSError:
                return None
        return current

    def write(self, item: SidecarItem, files: Iterable[PlacedFile]) -> list[str]:
        """Write each file's sidecar whose content changed; the sidecars written."""
        written = []
        for file in files:
            folder = self._real_folder(file.path)
            if folder is None:  # moved away, or a link now: nothing is written there
                continue
            target = folder / Path(sidecar_path(file.path)).name
            content = render(item, file.role)
            if _read_if_regular(target) == content:
                self.unchanged += 1
                continue
            self._replace(target, content)
            written.append(sidecar_path(file.path))
        self.written += len(written)
        return written

    def refresh(self, state: State, item_id: str, url: str) -> list[str]:
        """Write an item's sidecars from what the state knows of it now."""
        item = SidecarItem(item_id=item_id, url=url, facts=state.item_facts(item_id))
        return self.write(item, state.files_of(item_id))

    def _replace(self, target: Path, content: bytes) -> None:
        temporary = self.tmp_dir / f"{target.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(target)  # a link at target is replaced, never followed
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
