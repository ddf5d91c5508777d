"""The place stage on a real filesystem: names, collisions, zips, crash leftovers."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from gphotos_collector.placer import (
    MAX_NAME_BYTES,
    SHORT_NAME_BYTES,
    IncompleteDownload,
    Placer,
    clean_tmp,
    numbered,
    safe_name,
)

TAKEN = datetime(2019, 7, 15, 14, 10, 48, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IMG_0001.JPG", "IMG_0001.JPG"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "item1"),
        ("", "item1"),
        ("a\\b.jpg", "a_b.jpg"),
        ("bad\x00name\x1f.jpg", "bad_name_.jpg"),
        ("photo\u202egpj.exe", "photo_gpj.exe"),
        ("Страница 1.jpg", "Страница 1.jpg"),
        ("Cafe\u0301.jpg", "Café.jpg"),  # NFC
        (".hidden.jpg", "hidden.jpg"),
        ('what?<>:"|*.jpg', "what_______.jpg"),
        ("zero\u200bwidth\ufeff.jpg", "zero_width_.jpg"),  # invisible format characters
        ("line\u2028para\u2029.jpg", "line_para_.jpg"),
        ("family \U0001f468\u200d\U0001f469.jpg", "family \U0001f468\u200d\U0001f469.jpg"),
    ],
)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw, "item1") == expected


def test_safe_name_bounds_length_and_keeps_extension() -> None:
    name = safe_name("夏" * 300 + ".JPG", "x")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith(".JPG")
    assert name.startswith("夏")


def test_numbered() -> None:
    assert numbered("IMG_0001.JPG", 0) == "IMG_0001.JPG"
    assert numbered("IMG_0001.JPG", 2) == "IMG_0001 (2).JPG"
    assert numbered("README", 1) == "README (1)"


def _download(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.fixture
def placer(tmp_path: Path) -> tuple[Placer, Path, set[str]]:
    dest = tmp_path / "dest"
    dest.mkdir()
    tmp = dest / ".gphotos-collector" / "tmp"
    clean_tmp(tmp)
    claimed: set[str] = set()
    return Placer(dest, tmp, claimed.__contains__), dest, claimed


def test_same_name_different_bytes_never_overwrites(placer, tmp_path: Path) -> None:
    p, dest, claimed = placer
    placed = []
    for number, data in enumerate([b"one", b"two", b"three"]):
        staged = p.stage(f"id{number}", _download(tmp_path, f"d{number}", data), "IMG_0001.JPG")
        placed.append(p.place(staged[0], TAKEN))
        claimed.add(placed[-1].path)
    assert [f.path for f in placed] == [
        "2019/07/IMG_0001.JPG",
        "2019/07/IMG_0001 (1).JPG",
        "2019/07/IMG_0001 (2).JPG",
    ]
    assert (dest / "2019/07/IMG_0001 (1).JPG").read_bytes() == b"two"
    assert placed[2].sha256 == hashlib.sha256(b"three").hexdigest()
    assert (dest / placed[0].path).stat().st_mtime == TAKEN.timestamp()


def test_unclaimed_identical_file_is_adopted_not_duplicated(placer, tmp_path: Path) -> None:
    """A run killed between the rename and the state commit left the file: reuse it."""
    p, dest, _ = placer
    (dest / "2019/07").mkdir(parents=True)
    (dest / "2019/07/IMG_0002.JPG").write_bytes(b"same bytes")
    staged = p.stage("id", _download(tmp_path, "d", b"same bytes"), "IMG_0002.JPG")
    placed = p.place(staged[0], TAKEN)
    assert placed.path == "2019/07/IMG_0002.JPG"
    assert [p.name for p in (dest / "2019/07").iterdir()] == ["IMG_0002.JPG"]
    assert list((dest / ".gphotos-collector/tmp").iterdir()) == []


def test_claimed_identical_file_gets_its_own_name(placer, tmp_path: Path) -> None:
    """Two library items with the same bytes are two files."""
    p, _, claimed = placer
    first = p.place(p.stage("a", _download(tmp_path, "a", b"dup"), "IMG.JPG")[0], TAKEN)
    claimed.add(first.path)
    second = p.place(p.stage("b", _download(tmp_path, "b", b"dup"), "IMG.JPG")[0], TAKEN)
    assert second.path == "2019/07/IMG (1).JPG"


def test_reserved_but_unrecorded_path_is_not_reused(placer, tmp_path: Path) -> None:
    p, _, _ = placer
    first = p.place(p.stage("a", _download(tmp_path, "a", b"dup"), "IMG.JPG")[0], TAKEN)
    second = p.place(p.stage("b", _download(tmp_path, "b", b"dup"), "IMG.JPG")[0], TAKEN)
    assert first.path != second.path


def test_hostile_name_stays_inside_dest(placer, tmp_path: Path) -> None:
    p, dest, _ = placer
    staged = p.stage("evil", _download(tmp_path, "e", b"x"), "../../../../tmp/evil.sh")
    placed = p.place(staged[0], TAKEN)
    final = (dest / placed.path).resolve()
    assert final.is_relative_to(dest.resolve())
    assert final.parent == (dest / "2019/07").resolve()


def test_live_photo_zip_is_extracted(placer, tmp_path: Path) -> None:
    p, dest, _ = placer
    archive = tmp_path / "live.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("IMG_0100.JPG", b"still")
        zf.writestr("sub/../IMG_0100.MP4", b"motion")
    staged = p.stage("live", archive, "IMG_0100.zip")
    placed = [p.place(s, TAKEN) for s in staged]
    assert sorted(f.path for f in placed) == ["2019/07/IMG_0100.JPG", "2019/07/IMG_0100.MP4"]
    assert (dest / "2019/07/IMG_0100.MP4").read_bytes() == b"motion"
    assert not archive.exists()


def test_broken_zip_is_incomplete_and_leaves_nothing(placer, tmp_path: Path) -> None:
    p, dest, _ = placer
    archive = tmp_path / "live.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("IMG.JPG", b"x" * 10_000)
    archive.write_bytes(archive.read_bytes()[:-200])  # cut the central directory
    with pytest.raises(IncompleteDownload):
        p.stage("live", archive, "IMG.zip")
    assert list((dest / ".gphotos-collector/tmp").iterdir()) == []


def test_empty_download_is_incomplete(placer, tmp_path: Path) -> None:
    p, _, _ = placer
    with pytest.raises(IncompleteDownload):
        p.stage("e", _download(tmp_path, "e", b""), "IMG.JPG")


def test_undated_items_go_to_their_own_folder(placer, tmp_path: Path) -> None:
    p, _, _ = placer
    placed = p.place(p.stage("u", _download(tmp_path, "u", b"u"), "u.jpg")[0], None)
    assert placed.path == "undated/u.jpg"


def test_clean_tmp_removes_leftovers(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    (tmp / "sub").mkdir(parents=True)
    (tmp / "x.part").write_bytes(b"half")
    (tmp / "sub" / "y").write_bytes(b"half")
    clean_tmp(tmp)
    assert list(tmp.iterdir()) == []


def test_a_jpeg_that_ends_like_a_zip_stays_one_file(placer, tmp_path: Path) -> None:
    p, dest, _ = placer
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as zf:
        zf.writestr("inner.txt", b"hidden")
    data = b"\xff\xd8\xff\xe0JFIF" + b"\x00" * 64 + tail.getvalue()
    staged = p.stage("poly", _download(tmp_path, "poly", data), "IMG_0200.JPG")
    assert len(staged) == 1
    placed = p.place(staged[0], TAKEN)
    assert (dest / placed.path).read_bytes() == data


def test_a_zip_without_a_zip_name_is_still_extracted(placer, tmp_path: Path) -> None:
    p, _, _ = placer
    archive = tmp_path / "live"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("IMG_0300.HEIC", b"still")
        zf.writestr("IMG_0300.MOV", b"motion")
    staged = p.stage("live", archive, "download")
    assert sorted(s.name for s in staged) == ["IMG_0300.HEIC", "IMG_0300.MOV"]


def test_a_filesystem_with_short_names_gets_a_shorter_name(
    placer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on eCryptfs (143 bytes): the kernel answers ENAMETOOLONG, the placer shortens."""
    p, dest, _ = placer
    real_link = os.link

    def link_with_short_names(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if len(os.fsencode(Path(target).name)) > 143:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(target))
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_with_short_names)
    staged = p.stage("long", _download(tmp_path, "l", b"data"), "é" * 90 + ".JPG")
    assert len(staged[0].name.encode()) > 143
    placed = p.place(staged[0], TAKEN)
    name = Path(placed.path).name
    assert len(name.encode()) <= SHORT_NAME_BYTES and name.endswith(".JPG")
    assert (dest / placed.path).read_bytes() == b"data"
    assert not staged[0].tmp_path.exists()
