"""The sidecar stage on real files, judged by exiftool (Debian's libimage-exiftool-perl)."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from gphotos_collector.info_panel import AlbumRef, ItemDetails, album_ref
from gphotos_collector.sidecars import SidecarItem, Sidecars, render
from gphotos_collector.state import EDITED, MEDIA, ORIGINAL, ItemFacts, PlacedFile

CAPTION = "Café ☕ — 東京 🗼\n\"quoted\" and 'single' <b>&amp;</b>\n\nlast line "
TAKEN = datetime(2010, 7, 15, 14, 3, 27, tzinfo=timezone(timedelta(hours=-7)))


def exiftool(*paths: Path) -> list[dict[str, Any]]:
    output = subprocess.run(
        ["exiftool", "-j", "-G1", "-struct", "-ext", "xmp", *map(str, paths)],
        check=True,
        capture_output=True,
    ).stdout
    return list(json.loads(output))


def _item(details: ItemDetails | None, archived: bool | None = False) -> SidecarItem:
    return SidecarItem(
        item_id="AF1QipItem_0-9",
        url="https://photos.google.com/photo/AF1QipItem_0-9",
        facts=ItemFacts(taken=TAKEN, archived=archived, edited=False, details=details),
    )


DETAILS = ItemDetails(
    filename="IMG_0001.JPG",
    caption=CAPTION,
    albums=(
        AlbumRef("a1", "Summer 2010 / Lisbon"),
        AlbumRef("a2", "Família ❤"),
        AlbumRef("s1", "Shared|trip", shared=True),
        AlbumRef("a3", "Família ❤"),  # two albums of one title: one keyword
    ),
    people=("Zoë", "Bob"),
)


def test_exiftool_reads_the_caption_date_people_and_albums_exactly(tmp_path: Path) -> None:
    sidecar = tmp_path / "IMG_0001.JPG.xmp"
    sidecar.write_bytes(render(_item(DETAILS), MEDIA))
    (entry,) = exiftool(sidecar)
    assert entry["File:FileType"] == "XMP"
    assert entry["XMP-dc:Description"] == CAPTION
    assert entry["XMP-exif:DateTimeOriginal"] == "2010:07:15 14:03:27-07:00"
    assert entry["XMP-photoshop:DateCreated"] == "2010:07:15 14:03:27-07:00"
    # Sorted within each kind: the same albums in another order write the same bytes.
    assert entry["XMP-lr:HierarchicalSubject"] == [
        "Albums|Família ❤",
        "Albums|Shared/trip",  # | separates levels: it cannot be part of a name
        "Albums|Summer 2010 / Lisbon",
        "People|Bob",
        "People|Zoë",
    ]
    assert entry["XMP-dc:Subject"] == [
        "Família ❤",
        "Shared/trip",
        "Summer 2010 / Lisbon",
        "Bob",
        "Zoë",
    ]
    reordered = ItemDetails(
        DETAILS.filename, DETAILS.caption, DETAILS.albums[::-1], DETAILS.people[::-1]
    )
    assert render(_item(reordered), MEDIA) == render(_item(DETAILS), MEDIA)
    assert entry["XMP-gpc:ItemId"] == "AF1QipItem_0-9"
    assert entry["XMP-gpc:Url"] == "https://photos.google.com/photo/AF1QipItem_0-9"
    assert entry["XMP-gpc:Role"] == "media"
    assert entry["XMP-gpc:Archived"] is False  # exiftool's JSON turns "False" into false
    assert entry["XMP-gpc:OriginalFileName"] == "IMG_0001.JPG"


def test_what_is_not_known_is_left_out(tmp_path: Path) -> None:
    sidecar = tmp_path / "a.xmp"
    item = SidecarItem("id1", "u", ItemFacts(taken=None, archived=None, edited=None, details=None))
    sidecar.write_bytes(render(item, ORIGINAL))
    (entry,) = exiftool(sidecar)
    for absent in (
        "XMP-dc:Description",
        "XMP-exif:DateTimeOriginal",
        "XMP-dc:Subject",
        "XMP-lr:HierarchicalSubject",
        "XMP-gpc:Archived",
    ):
        assert absent not in entry
    assert entry["XMP-gpc:Role"] == "original"
    empty = ItemDetails(caption="", albums=(), people=())
    sidecar.write_bytes(render(_item(empty), EDITED))
    (entry,) = exiftool(sidecar)
    assert "XMP-dc:Description" not in entry and "XMP-dc:Subject" not in entry


def test_album_links_of_the_info_panel() -> None:
    assert album_ref("./album/AF1QipAlb", "T") == AlbumRef("AF1QipAlb", "T", False)
    assert album_ref("./share/AF1QipShr?key=K3y", "T") == AlbumRef("AF1QipShr", "T", True)
    assert album_ref("/u/1/album/X/", "T") == AlbumRef("X", "T", False)
    assert album_ref("./album/X/photo/Y", "T") is None  # an item, not an album
    assert album_ref("./search/person", "T") is None


def _placed(dest: Path, relative: str, role: str = MEDIA) -> PlacedFile:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 media bytes")
    return PlacedFile(relative, path.stat().st_size, "0" * 64, role)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    dest = tmp_path / "dest"
    (dest / ".gphotos-collector" / "tmp").mkdir(parents=True)
    return dest


def test_written_beside_each_file_only_when_a_value_changed(dest: Path) -> None:
    files = [_placed(dest, "2010/07/IMG_0001.JPG"), _placed(dest, "2010/07/IMG_0001.MOV")]
    media_before = {f.path: (dest / f.path).stat() for f in files}
    sidecars = Sidecars(dest, dest / ".gphotos-collector" / "tmp")
    assert sidecars.write(_item(DETAILS), files) == [
        "2010/07/IMG_0001.JPG.xmp",
        "2010/07/IMG_0001.MOV.xmp",
    ]
    first = {p: (dest / p).stat() for p in ("2010/07/IMG_0001.JPG.xmp", "2010/07/IMG_0001.MOV.xmp")}
    # Nothing changed: nothing is rewritten (same inode, same mtime).
    assert sidecars.write(_item(DETAILS), files) == []
    for path, before in first.items():
        after = (dest / path).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # An edited caption: both sidecars are replaced, the media files never touched.
    changed = ItemDetails(DETAILS.filename, "new caption", DETAILS.albums[:1], DETAILS.people)
    assert len(sidecars.write(_item(changed), files)) == 2
    assert [e["XMP-dc:Description"] for e in exiftool(dest / "2010/07")] == ["new caption"] * 2
    for f in files:
        after = (dest / f.path).stat()
        assert (after.st_ino, after.st_mtime_ns) == (
            media_before[f.path].st_ino,
            media_before[f.path].st_mtime_ns,
        )
    assert not list((dest / ".gphotos-collector" / "tmp").iterdir())


def test_links_in_dest_are_never_written_through(dest: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.xmp").write_text("keep me")
    files = [_placed(dest, "2010/07/IMG_0001.JPG"), _placed(dest, "2011/01/IMG_0002.JPG")]
    # A link where a sidecar goes is replaced, not followed ...
    (dest / "2010/07/IMG_0001.JPG.xmp").symlink_to(outside / "victim.xmp")
    # ... and a folder that became a link gets nothing.
    (dest / "2011/01/IMG_0002.JPG").unlink()
    (dest / "2011/01").rmdir()
    (dest / "2011/01").symlink_to(outside)
    sidecars = Sidecars(dest, dest / ".gphotos-collector" / "tmp")
    assert sidecars.write(_item(DETAILS), files) == ["2010/07/IMG_0001.JPG.xmp"]
    assert (outside / "victim.xmp").read_text() == "keep me"
    assert [p.name for p in outside.iterdir()] == ["victim.xmp"]
    assert not (dest / "2010/07/IMG_0001.JPG.xmp").is_symlink()
