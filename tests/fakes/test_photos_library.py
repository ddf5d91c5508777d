"""The fake's library: deterministic, hard in the ways the real one is, real media."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
import unicodedata
import zipfile

import pytest
from PIL import ExifTags, Image

from fakes.photos.library import DELETE_LAG, Library, full_name, generate_item
from fakes.photos.manifest import ManifestBuilder
from fakes.photos.media import MediaFactory
from fakes.photos.server import PhotosApp
from fakes.photos.testing import ALICE, BOB, items_by_k

SMALL = 0.02


def manifest_of(items: int, seed: int, accounts: list[str] | None = None) -> dict:
    return PhotosApp(
        items=items, seed=seed, accounts=accounts or [ALICE], media_scale=SMALL
    ).manifests.build()


def test_same_seed_gives_the_same_manifest() -> None:
    assert manifest_of(40, 5) == manifest_of(40, 5)


def test_different_seeds_and_accounts_give_different_libraries() -> None:
    one = manifest_of(20, 5, [ALICE, BOB])
    other = manifest_of(20, 6, [ALICE, BOB])
    ids = {i["id"] for i in one["accounts"][ALICE]["items"]}
    assert ids.isdisjoint({i["id"] for i in other["accounts"][ALICE]["items"]})
    assert ids.isdisjoint({i["id"] for i in one["accounts"][BOB]["items"]})
    assert one["accounts"][BOB]["name"] == "Bob Example"


def test_more_items_keep_the_library_and_add_newer_items_on_top() -> None:
    small = items_by_k(manifest_of(150, 9), ALICE)
    large = items_by_k(manifest_of(400, 9), ALICE)
    for before, after in zip(small, large[:150], strict=True):
        assert (before["id"], before["filename"], before["taken"], before["kind"]) == (
            after["id"],
            after["filename"],
            after["taken"],
            after["kind"],
        )
        if before["state"] == after["state"] == "ok":
            assert before["files"] == after["files"]
    # Newer items are uploaded later; most are also taken later (on top of the grid).
    uploaded = [dt.datetime.fromisoformat(i["uploaded"]) for i in large]
    assert uploaded == sorted(uploaded) and len(set(uploaded)) == len(uploaded)
    assert large[-1]["taken"] > small[-1]["taken"]


def test_growing_deletes_a_few_older_items_and_finishes_processing() -> None:
    library = Library(3, [ALICE], 40)
    newest_video = next(s for s in reversed(library.specs(ALICE)[13:]) if s.kind == "video")
    library.grow(newest_video.k + 2)
    assert library.state(newest_video) == "processing"  # fresh uploads are still processing
    library.grow(600)
    assert library.state(newest_video) == "ok"
    deleted = [s for s in library.specs(ALICE) if library.state(s) == "deleted"]
    assert library.state(library.spec(ALICE, 5)) == "processing"  # until /_fake/ready
    assert library.state(library.spec(ALICE, 9)) == "deleted"
    assert any(s.k != 9 and 600 - 1 - s.k >= DELETE_LAG for s in deleted)
    assert all(s.item_id not in {v.item_id for v in library.visible(ALICE)} for s in deleted)


def test_ids_are_opaque_url_safe_and_sized_like_googles() -> None:
    items = manifest_of(200, 4)["accounts"][ALICE]["items"]
    for item in items:
        assert re.fullmatch(r"AF1Qip[A-Za-z0-9_-]{34,64}", item["id"]), item["id"]
    lengths = {len(i["id"]) for i in items}
    assert min(lengths) >= 40 and max(lengths) <= 70 and len(lengths) > 10


def test_a_small_library_holds_every_hard_case() -> None:
    manifest = manifest_of(20, 1)
    items = items_by_k(manifest, ALICE)
    names = [i["filename"] for i in items]
    assert names.count("IMG_0001.JPG") >= 3  # two photos and a live photo's still
    assert "Страница 1.jpg" in names and "夏休み.JPG" in names
    assert any(n != unicodedata.normalize("NFC", n) for n in names)  # combining accents
    assert any("../" in n for n in names)  # the hostile one
    # Under 255 characters but over 255 bytes in UTF-8: only some file systems take it.
    assert any(len(n) < 255 < len(n.encode()) for n in names)
    kinds = {i["kind"] for i in items}
    assert kinds == {"photo", "video", "live"}
    states = [i["state"] for i in items]
    assert "processing" in states and "deleted" in states
    processing = next(i for i in items if i["state"] == "processing")
    assert processing["kind"] == "video" and processing["files"] == [] and processing["size"] == 0
    deleted = next(i for i in items if i["state"] == "deleted")
    assert deleted["files"] == [] and "deleted_files" not in deleted  # never in the grid
    live = next(i for i in items if i["kind"] == "live")
    assert [f["name"] for f in live["files"]] == ["IMG_0001.JPG", "IMG_0001.MOV"]
    edited = next(i for i in items if i["edited"])
    assert edited["original"]["sha256"] != edited["files"][0]["sha256"]
    assert manifest["accounts"][ALICE]["name"] == "Alice Example"


def test_dates_spread_over_years_and_zones() -> None:
    items = manifest_of(400, 2)["accounts"][ALICE]["items"]
    taken = [dt.datetime.fromisoformat(i["taken"]) for i in items]
    assert all(t.utcoffset() is not None for t in taken)
    assert (taken[0] - taken[-1]).days > 2 * 365
    assert len({t.utcoffset() for t in taken}) >= 3
    assert [i["k"] for i in items] == list(range(399, -1, -1))  # the order items were added


def test_full_names_are_derived_from_the_address() -> None:
    assert full_name("alice@example.com") == "Alice Example"
    assert full_name("bob.smith@family.org") == "Bob Smith"


def test_jpegs_carry_real_exif_matching_the_manifest() -> None:
    media = MediaFactory(8, SMALL)
    spec = generate_item(8, ALICE, 0)
    data = media.download(spec).blob.read_all()
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes: the image data is valid, not just the header
    exif = image.getexif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    local = spec.taken_local
    assert details[ExifTags.Base.DateTimeOriginal] == local.strftime("%Y:%m:%d %H:%M:%S")
    offset = details[ExifTags.Base.OffsetTimeOriginal]
    assert dt.datetime.fromisoformat(local.strftime("%Y-%m-%dT%H:%M:%S") + offset) == local
    assert exif[ExifTags.Base.Make] == spec.camera.make
    assert exif[ExifTags.Base.Model] == spec.camera.model
    assert gps[ExifTags.GPS.GPSLatitudeRef] in ("N", "S")
    latitude = gps[ExifTags.GPS.GPSLatitude]
    assert abs(float(latitude[0]) + float(latitude[1]) / 60 - abs(spec.latitude)) < 0.02


def _boxes(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    found = {}
    position = start
    while position < end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        assert size >= 8 and position + size <= end, (kind, size)
        found[kind] = (position + 8, position + size)
        position += size
    assert position == end
    return found


def test_videos_are_structurally_valid_mp4_with_the_capture_time() -> None:
    library = Library(8, [ALICE], 20)
    media = MediaFactory(8, SMALL)
    spec = next(s for s in library.specs(ALICE) if s.kind == "video" and library.state(s) == "ok")
    data = media.download(spec).blob.read_all()
    top = _boxes(data, 0, len(data))
    assert list(top) == [b"ftyp", b"moov", b"mdat"]
    moov = _boxes(data, *top[b"moov"])
    mvhd_start = moov[b"mvhd"][0]
    created = struct.unpack(">I", data[mvhd_start + 4 : mvhd_start + 8])[0]
    epoch = dt.datetime(1904, 1, 1, tzinfo=dt.timezone.utc)
    assert epoch + dt.timedelta(seconds=created) == spec.taken_utc
    trak = _boxes(data, *moov[b"trak"])
    mdia = _boxes(data, *trak[b"mdia"])
    minf = _boxes(data, *mdia[b"minf"])
    stbl = _boxes(data, *minf[b"stbl"])
    stco_start = stbl[b"stco"][0]
    chunk_offset = struct.unpack(">I", data[stco_start + 8 : stco_start + 12])[0]
    assert chunk_offset == top[b"mdat"][0]  # the sample table points into mdat
    stsz_start = stbl[b"stsz"][0]
    sample_size, count = struct.unpack(">II", data[stsz_start + 4 : stsz_start + 12])
    assert sample_size * count == top[b"mdat"][1] - top[b"mdat"][0]


def test_live_photos_download_as_a_zip_of_still_and_video() -> None:
    media = MediaFactory(8, SMALL)
    spec = generate_item(8, ALICE, 1)
    download = media.download(spec)
    assert download.name == "IMG_0001.zip"
    archive = zipfile.ZipFile(io.BytesIO(download.blob.read_all()))
    assert archive.testzip() is None
    parts = {f.name: f.blob.read_all() for f in media.files(spec)}
    assert {n: archive.read(n) for n in archive.namelist()} == parts


@pytest.mark.parametrize("k", [0, 8, 20, 33])
def test_media_at_scale_one_have_realistic_sizes_without_being_held_in_memory(k: int) -> None:
    media = MediaFactory(8, 1.0)
    spec = generate_item(8, ALICE, k)
    blob = media.download(spec).blob
    if spec.kind == "photo":
        assert 350_000 <= blob.size <= 6_500_000
    elif spec.kind == "video":
        assert 9_000_000 <= blob.size <= 90_000_000
        # The payload is views into one shared 1 MiB pool, not a copy per file.
        owners = {id(part.obj) for part in blob.parts if isinstance(part, memoryview)}
        assert len(owners) == 1
        assert sum(len(p) for p in blob.parts if isinstance(p, bytes)) < 10_000


def test_manifest_files_match_the_bytes_served() -> None:
    library = Library(12, [ALICE], 30)
    media = MediaFactory(12, SMALL)
    manifest = ManifestBuilder(library, media).build()
    for entry in manifest["accounts"][ALICE]["items"]:
        spec = library.find(ALICE, entry["id"])
        assert spec is not None
        if entry["state"] != "ok":
            continue
        assert entry["size"] == media.download(spec).blob.size
        for listed, actual in zip(entry["files"], media.files(spec), strict=True):
            assert listed["name"] == actual.name
            assert listed["sha256"] == hashlib.sha256(actual.blob.read_all()).hexdigest()
