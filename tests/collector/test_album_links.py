"""Album folders of links on real filesystems: the test machine's own (symbolic links) and
exFAT, which has neither symbolic nor hard links."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gphotos_collector.album_links import AlbumFolders, folder_names


def _library(dest: Path) -> list[str]:
    files = ["2019/07/IMG_0001.JPG", "2019/08/IMG_0001.JPG", "2020/01/clip.mp4"]
    for relative in files:
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        (dest / relative).write_bytes(relative.encode())
    (dest / "2019/07/IMG_0001.JPG.xmp").write_text("<x:xmpmeta/>")
    return files


def test_a_folder_holds_exactly_its_links_and_nothing_else_is_touched(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    files = _library(dest)
    folders = AlbumFolders(dest)
    folders.recorded_files(files)
    folders.sync("Trip", files[:2])
    trip = dest / "albums" / "Trip"
    # Two files of one name: both linked, the second numbered; a sidecar beside its file.
    assert sorted(p.name for p in trip.iterdir()) == [
        "IMG_0001 (1).JPG",
        "IMG_0001.JPG",
        "IMG_0001.JPG.xmp",
    ]
    assert str((trip / "IMG_0001.JPG").readlink()) == "../../2019/07/IMG_0001.JPG"
    assert (trip / "IMG_0001 (1).JPG").read_bytes() == b"2019/08/IMG_0001.JPG"
    # A user's own file in the folder stays; a link of an item that left the album goes.
    (trip / "notes.txt").write_text("mine")
    folders.sync("Trip", [files[0]])
    assert sorted(p.name for p in trip.iterdir()) == [
        "IMG_0001.JPG",
        "IMG_0001.JPG.xmp",
        "notes.txt",
    ]
    # Nothing changed: the links are the same links.
    before = {p.name: p.lstat().st_ino for p in trip.iterdir()}
    folders.sync("Trip", [files[0]])
    assert {p.name: p.lstat().st_ino for p in trip.iterdir()} == before
    # Renamed; then deleted: its links go, the user's file keeps the folder.
    assert folders.rename("Trip", "Trip 2019") == "Trip 2019"
    folders.remove("Trip 2019")
    assert [p.name for p in (dest / "albums" / "Trip 2019").iterdir()] == ["notes.txt"]
    assert all((dest / f).read_bytes() == f.encode() for f in files)  # originals untouched


def test_folder_names_are_safe_unique_and_stable() -> None:
    titles = {"a": "Summer 2019", "b": "Summer 2019", "c": "holidays", "d": "Holidays", "e": "../x"}
    names = folder_names(titles, {})
    assert sorted(names.values(), key=str.casefold) == [
        "_x",
        "holidays",
        "Holidays (2)",
        "Summer 2019",
        "Summer 2019 (2)",
    ]
    # An album keeps its folder while its title gives it, whatever the others do.
    again = folder_names({**titles, "f": "Summer 2019"}, dict(names))
    assert {k: again[k] for k in names} == names and again["f"] == "Summer 2019 (3)"


@pytest.fixture
def exfat_dest(tmp_path: Path) -> Iterator[Path]:
    """DEST on a real exFAT filesystem (an image on a loop device, mounted through FUSE,
    as USB disks and some NAS shares are): no links of either kind."""
    if os.geteuid() != 0:
        pytest.fail("mounting an exFAT image needs root (make test runs as root)")
    image, dest = tmp_path / "exfat.img", tmp_path / "dest"
    with open(image, "wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.exfat", str(image)], check=True, capture_output=True)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    dest.mkdir()
    try:
        subprocess.run(["mount.exfat-fuse", device, str(dest)], check=True, capture_output=True)
        try:
            yield dest
        finally:
            subprocess.run(["umount", str(dest)], check=True)
    finally:
        subprocess.run(["losetup", "-d", device], check=True)


def test_on_a_filesystem_without_links_the_folders_stay_empty_and_say_why(
    exfat_dest: Path,
) -> None:
    files = _library(exfat_dest)
    folders = AlbumFolders(exfat_dest)
    folders.recorded_files(files)
    folders.sync("Trip", files)
    assert list((exfat_dest / "albums" / "Trip").iterdir()) == []  # no copies either
    assert folders.no_links is not None and "without symbolic or hard links" in folders.no_links
    assert folders.report.made == 0
    assert all((exfat_dest / f).read_bytes() == f.encode() for f in files)
