"""The bytes of each item: JPEGs with real EXIF, MP4/MOV videos, live-photo zips.

Generation must be fast and memory must stay bounded whatever the library
size, so the large parts are shared and every file is a `Blob`: a list of
byte views assembled on demand and streamed, never copied whole.

- A JPEG is SOI + an APP1 Exif segment unique to the item + compressed image
  data taken from a small pool of noise images (one per size bucket and
  orientation, made once per process with Pillow). The EXIF makes every
  file's bytes, and so its sha256, unique.
- A video is ftyp + moov (mvhd/tkhd/mdhd with the capture time, an avc1
  sample table, a `©xyz` location) + mdat whose payload is 1 MiB slices of a
  shared random pool at item-specific offsets.
- A live photo downloads as a stored (uncompressed) zip of the still and the
  motion video.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import random
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import ExifTags, Image

from fakes.photos.library import ItemSpec

_POOL_SIZE = 1 << 20
_BUCKETS = 9  # JPEG body sizes from 0.5 MB to 5 MB at scale 1, log-spaced
_SMALLEST_BODY = 500_000
_MIN_SIDE = 16
_MP4_EPOCH = dt.datetime(1904, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Blob:
    """A file's bytes as a sequence of parts (bytes or views into shared pools)."""

    parts: tuple[bytes | memoryview, ...]

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)

    def chunks(self, chunk_size: int = 1 << 20) -> Iterator[memoryview]:
        for part in self.parts:
            view = memoryview(part)
            for start in range(0, len(view), chunk_size):
                yield view[start : start + chunk_size]

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part in self.parts:
            digest.update(part)
        return digest.hexdigest()

    def crc32(self) -> int:
        crc = 0
        for part in self.parts:
            crc = zlib.crc32(part, crc)
        return crc

    def read_all(self) -> bytes:
        """The whole file in memory: for tests and small files only."""
        return b"".join(bytes(p) for p in self.parts)


@dataclass(frozen=True)
class NamedBlob:
    name: str
    blob: Blob


def _rational(value: float, denominator: int = 10000) -> tuple[int, int]:
    return (round(value * denominator), denominator)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = math.floor(value)
    minutes_full = (value - degrees) * 60
    minutes = math.floor(minutes_full)
    seconds = round((minutes_full - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def exif_segment(spec: ItemSpec, width: int, height: int, edited: bool) -> bytes:
    """The APP1 segment (marker included) holding the item's EXIF."""
    local = spec.taken_local
    stamp = f"{local:%Y:%m:%d %H:%M:%S}"
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = spec.camera.make
    exif[ExifTags.Base.Model] = spec.camera.model
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.DateTime] = stamp
    exif[ExifTags.Base.Software] = "Google Photos" if edited else f"{spec.camera.model} firmware"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = stamp
    details[ExifTags.Base.DateTimeDigitized] = stamp
    details[ExifTags.Base.OffsetTimeOriginal] = offset
    details[ExifTags.Base.OffsetTime] = offset
    details[ExifTags.Base.OffsetTimeDigitized] = offset
    details[ExifTags.Base.ExifImageWidth] = width
    details[ExifTags.Base.ExifImageHeight] = height
    details[ExifTags.Base.ImageUniqueID] = hashlib.md5(  # noqa: S324 - an id, not security
        f"{spec.item_id}/{edited}".encode()
    ).hexdigest()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if spec.latitude >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(spec.latitude)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if spec.longitude >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(spec.longitude)
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = spec.altitude
    payload = exif.tobytes()  # starts with b"Exif\0\0"
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _strip_to_tables(jpeg: bytes) -> bytes:
    """Drop SOI and any APP0 (JFIF) segment: what follows is DQT/SOF/DHT/SOS/data/EOI."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    position = 2
    while jpeg[position] == 0xFF and 0xE0 <= jpeg[position + 1] <= 0xEF:
        (length,) = struct.unpack(">H", jpeg[position + 2 : position + 4])
        position += 2 + length
    return jpeg[position:]


class _BodyPool:
    """Compressed image data per (size bucket, orientation, variant), made once."""

    def __init__(self, seed: int, scale: float) -> None:
        self._seed = seed
        self._scale = scale
        self._lock = threading.Lock()
        self._bodies: dict[tuple[int, bool, int], tuple[bytes, int, int]] = {}

    def bucket_for(self, target_bytes: int) -> int:
        ratio = target_bytes / _SMALLEST_BODY
        return max(0, min(_BUCKETS - 1, round(8 * math.log10(max(ratio, 1e-9)))))

    def body(self, bucket: int, landscape: bool, variant: int) -> tuple[bytes, int, int]:
        key = (bucket, landscape, variant)
        with self._lock:
            found = self._bodies.get(key)
            if found is None:
                found = self._make(bucket, landscape, variant)
                self._bodies[key] = found
            return found

    def _make(self, bucket: int, landscape: bool, variant: int) -> tuple[bytes, int, int]:
        target = _SMALLEST_BODY * 10 ** (bucket / 8) * self._scale
        rng = random.Random(f"body:{self._seed}:{bucket}:{landscape}:{variant}")  # noqa: S311
        bytes_per_pixel = 0.9
        encoded = b""
        width = height = _MIN_SIDE
        for _ in range(3):
            pixels = max(_MIN_SIDE * _MIN_SIDE, target / bytes_per_pixel)
            long_side = max(_MIN_SIDE, int(math.sqrt(pixels * 4 / 3)))
            short_side = max(_MIN_SIDE, int(long_side * 3 / 4))
            width, height = (long_side, short_side) if landscape else (short_side, long_side)
            encoded = self._encode(rng, width, height, variant)
            bytes_per_pixel = len(encoded) / (width * height)
            if abs(len(encoded) - target) <= 0.12 * target:
                break
        return _strip_to_tables(encoded), width, height

    @staticmethod
    def _encode(rng: random.Random, width: int, height: int, variant: int) -> bytes:
        noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        hue = rng.randrange(256)
        base = Image.linear_gradient("L").resize((width, height))
        tint = Image.merge(
            "RGB",
            (
                base,
                base.point(lambda v: (v + hue) % 256),
                base.point(lambda v: (255 - v + variant * 60) % 256),
            ),
        )
        picture = Image.blend(tint, noise, 0.55)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90)
        return out.getvalue()


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _mp4_header(
    spec: ItemSpec, payload_size: int, sample_count: int, quicktime: bool, duration: float
) -> bytes:
    """ftyp + moov for a single avc1 track whose samples fill the following mdat."""
    created = int((spec.taken_utc - _MP4_EPOCH).total_seconds())
    width, height = (1920, 1080) if spec.landscape else (1080, 1920)
    timescale = 600
    length = int(duration * timescale)
    brand = b"qt  " if quicktime else b"isom"
    compatible = b"qt  " if quicktime else b"isomiso2avc1mp41"
    ftyp = _box(b"ftyp", brand, struct.pack(">I", 0x200 if not quicktime else 0), compatible)
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", created, created, 1000, int(duration * 1000)),
        struct.pack(">IH", 0x10000, 0x100),
        b"\x00" * 10,
        _MATRIX,
        b"\x00" * 24,
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIII", created, created, 1, 0),
        struct.pack(">I", int(duration * 1000)),
        b"\x00" * 8,
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(
        b"mdhd",
        0,
        0,
        struct.pack(">IIII", created, created, timescale, length),
        struct.pack(">HH", 0x55C4, 0),
    )
    hdlr = _full_box(b"hdlr", 0, 0, b"\x00" * 4, b"vide", b"\x00" * 12, b"VideoHandler\x00")
    sps = bytes.fromhex("6764002aacd940780227e5c05a808080a0000003002000000781e30632c0")
    pps = bytes.fromhex("68ebe3cb22c0")
    avcc = _box(
        b"avcC",
        bytes([1, 0x64, 0x00, 0x2A, 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = _box(
        b"avc1",
        b"\x00" * 6,
        struct.pack(">H", 1),
        b"\x00" * 16,
        struct.pack(">HHII", width, height, 0x480000, 0x480000),
        b"\x00" * 4,
        struct.pack(">H", 1),
        b"\x00" * 32,
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )
    sample_size = payload_size // sample_count
    delta = max(1, length // sample_count)

    def stbl(chunk_offset: int) -> bytes:
        return _box(
            b"stbl",
            _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
            _full_box(b"stts", 0, 0, struct.pack(">III", 1, sample_count, delta)),
            _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, sample_count, 1)),
            _full_box(b"stsz", 0, 0, struct.pack(">II", sample_size, sample_count)),
            _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset)),
        )

    location = f"{spec.latitude:+08.4f}{spec.longitude:+09.4f}/".encode()
    udta = _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", len(location), 0x15C7), location))

    def moov(chunk_offset: int) -> bytes:
        minf = _box(
            b"minf",
            _full_box(b"vmhd", 0, 1, b"\x00" * 8),
            _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))),
            stbl(chunk_offset),
        )
        trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
        return _box(b"moov", mvhd, trak, udta)

    provisional = moov(0)
    data_offset = len(ftyp) + len(provisional) + 8
    return ftyp + moov(data_offset)


class MediaFactory:
    """Builds every file of the library for one seed and media scale."""

    def __init__(self, seed: int, scale: float) -> None:
        if not scale > 0:
            raise ValueError("the media scale must be greater than 0")
        self.seed = seed
        self.scale = scale
        self._bodies = _BodyPool(seed, scale)
        # Deterministic content from the seed, not secrets: random.Random on purpose.
        self._pool = memoryview(random.Random(f"pool:{seed}").randbytes(_POOL_SIZE))  # noqa: S311

    def photo(self, spec: ItemSpec, edited: bool = False) -> Blob:
        target = max(2_000, int(spec.photo_bytes * self.scale))
        bucket = self._bodies.bucket_for(int(target / self.scale))
        body, width, height = self._bodies.body(bucket, spec.landscape, 1 if edited else 0)
        header = b"\xff\xd8" + exif_segment(spec, width, height, edited)
        return Blob((header, body))

    def video(self, spec: ItemSpec, quicktime: bool) -> Blob:
        target = max(4_096, int(spec.video_bytes * self.scale))
        duration = spec.duration_seconds
        sample_count = max(1, int(duration * 30))
        payload_size = max(sample_count, target - 1_000)
        payload_size -= payload_size % sample_count  # every sample the same size
        header = _mp4_header(spec, payload_size, sample_count, quicktime, duration)
        mdat_header = struct.pack(">I", payload_size + 8) + b"mdat"
        return Blob((header + mdat_header, *self._payload(spec, payload_size)))

    def _payload(self, spec: ItemSpec, size: int) -> list[memoryview]:
        rng = random.Random(f"payload:{self.seed}:{spec.item_id}")  # noqa: S311
        parts: list[memoryview] = []
        remaining = size
        while remaining > 0:
            start = rng.randrange(_POOL_SIZE)
            take = min(remaining, _POOL_SIZE - start)
            parts.append(self._pool[start : start + take])
            remaining -= take
        return parts

    def files(self, spec: ItemSpec) -> list[NamedBlob]:
        """What a complete backup of the item holds (what `Download` gives, unzipped)."""
        if spec.kind == "photo":
            return [NamedBlob(spec.filename, self.photo(spec, edited=spec.edited))]
        if spec.kind == "video":
            quicktime = spec.filename.upper().endswith(".MOV")
            return [NamedBlob(spec.filename, self.video(spec, quicktime))]
        assert spec.motion_name is not None
        return [
            NamedBlob(spec.filename, self.photo(spec)),
            NamedBlob(spec.motion_name, self.video(spec, quicktime=True)),
        ]

    def download(self, spec: ItemSpec, original: bool = False) -> NamedBlob:
        """The response body of `Download` (or `Download original`) for the item."""
        if spec.kind == "live":
            return NamedBlob(spec.download_name, zip_blob(self.files(spec), spec.taken_local))
        if spec.kind == "photo" and original:
            return NamedBlob(spec.filename, self.photo(spec, edited=False))
        return self.files(spec)[0]


def _dos_stamp(moment: dt.datetime) -> tuple[int, int]:
    year = min(max(moment.year, 1980), 2107)
    date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


def zip_blob(entries: list[NamedBlob], moment: dt.datetime) -> Blob:
    """A stored zip of `entries`, with UTF-8 names, streamable part by part."""
    time, date = _dos_stamp(moment)
    parts: list[bytes | memoryview] = []
    central: list[bytes] = []
    offset = 0
    for entry in entries:
        name = entry.name.encode("utf-8")
        crc = entry.blob.crc32()
        size = entry.blob.size
        local = (
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, 0, time, date, crc, size, size, len(name), 0
            )
            + name
        )
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0x0800,
                0,
                time,
                date,
                crc,
                size,
                size,
                len(name),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + name
        )
        parts.append(local)
        parts.extend(entry.blob.parts)
        offset += len(local) + size
    directory = b"".join(central)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0
    )
    parts.append(directory + end)
    return Blob(tuple(parts))
