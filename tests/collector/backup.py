"""Comparing a DEST with the fake's manifest: byte for byte, folder, name, mtime."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

STATE_DIR = ".gphotos-collector"
SIDECAR = ".xmp"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


NOT_ITEMS = (STATE_DIR, "albums", "shared")  # the collector's own, and album links


def all_files(dest: Path) -> dict[str, Path]:
    """Every file of the library in DEST, sidecars too, by relative path (not the
    collector's own folder, not the album folders' links)."""
    return {
        str(path.relative_to(dest)): path
        for path in dest.rglob("*")
        if path.is_file() and path.relative_to(dest).parts[0] not in NOT_ITEMS
    }


def backed_up_files(dest: Path) -> dict[str, Path]:
    """Every media file of the backup (not the .xmp sidecars beside them)."""
    return {p: path for p, path in all_files(dest).items() if not p.endswith(SIDECAR)}


def sidecar_files(dest: Path) -> dict[str, Path]:
    return {p: path for p, path in all_files(dest).items() if p.endswith(SIDECAR)}


def expected_items(
    manifest: dict[str, Any], account: str, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """The manifest's downloadable items of one account, optionally in a date window."""
    items = []
    for item in manifest["accounts"][account]["items"]:
        if item["state"] != "ok" or not item["files"]:
            continue
        day = datetime.fromisoformat(item["taken"]).date()
        if (since and day < since) or (until and day > until):
            continue
        items.append(item)
    return items


def expected_files(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a backup keeps of an item: an edited photo's original under its own
    name, and what Download gives as <stem>-edited<ext> beside it."""
    original = item.get("original")
    if not item.get("edited") or original is None:
        return list(item["files"])
    stem, dot, extension = original["name"].rpartition(".")
    if not dot:
        stem, extension = original["name"], ""
    else:
        extension = "." + extension
    edited = [{**f, "name": f"{stem}-edited{extension}"} for f in item["files"]]
    return [original, *edited]


def _name_matches(expected: str, actual: str) -> bool:
    expected = unicodedata.normalize("NFC", expected)
    if "/" in expected or any(unicodedata.category(c) == "Cc" for c in expected):
        return True  # a hostile name: only its folder is checked (see the hostile test)
    stem, dot, extension = expected.rpartition(".")
    if not dot:
        stem, extension = expected, ""
    else:
        extension = "." + extension
    if len(expected.encode()) > 200:  # bounded: a prefix of the stem survives
        return actual.startswith(stem[:40]) and actual.endswith(extension)
    pattern = re.escape(stem) + r"( \(\d+\))?" + re.escape(extension)
    return re.fullmatch(pattern, actual) is not None


def assert_backup_matches(
    dest: Path,
    manifest: dict[str, Any],
    account: str,
    since: date | None = None,
    until: date | None = None,
) -> int:
    """DEST holds exactly the manifest's files: same bytes, YYYY/MM of the capture
    date, the original name (or a numbered one), mtime = capture time. Returns the
    number of items checked."""
    files = backed_up_files(dest)
    sidecars = set(sidecar_files(dest))
    by_hash: dict[str, list[str]] = {}
    for relative, path in files.items():
        by_hash.setdefault(sha256(path), []).append(relative)
    used: set[str] = set()
    items = expected_items(manifest, account, since, until)
    for item in items:
        taken = datetime.fromisoformat(item["taken"])
        folder = f"{taken.year:04d}/{taken.month:02d}/"
        for expected in expected_files(item):
            candidates = [
                relative
                for relative in by_hash.get(expected["sha256"], [])
                if relative not in used
                and relative.startswith(folder)
                and _name_matches(expected["name"], relative[len(folder) :])
            ]
            assert candidates, (
                f"{item['id']} ({item['kind']}, {expected['name']!r}, taken {item['taken']}) "
                f"is missing from {dest}/{folder}"
            )
            chosen = candidates[0]
            used.add(chosen)
            mtime = files[chosen].stat().st_mtime
            assert abs(mtime - taken.timestamp()) < 1, f"{chosen}: mtime is not the capture time"
    # Items deleted on Google after they were backed up stay: the backup keeps them.
    kept = {
        f["sha256"]
        for item in manifest["accounts"][account]["items"]
        for f in item.get("deleted_files", [])
        + ([item["original"]] if item.get("deleted_files") and item.get("original") else [])
    }
    extra = sorted(p for p in set(files) - used if sha256(files[p]) not in kept)
    assert not extra, f"files in {dest} that the manifest does not have: {extra[:10]}"
    missing = sorted(p + SIDECAR for p in used if p + SIDECAR not in sidecars)
    assert not missing, f"placed files without their sidecar: {missing[:10]}"
    strays = sorted(p for p in sidecars if p[: -len(SIDECAR)] not in files)
    assert not strays, f"sidecars beside no file: {strays[:10]}"
    assert_sidecars_match(dest, manifest, account, items)
    return len(items)


def read_sidecars(dest: Path) -> dict[str, dict[str, Any]]:
    """Every sidecar of DEST as exiftool reads it (one exiftool run), by relative path."""
    found = sorted(dest.rglob(f"*{SIDECAR}"))
    found = [p for p in found if STATE_DIR not in p.relative_to(dest).parts]
    if not found:
        return {}
    listing = dest / STATE_DIR / "sidecar-list.txt"
    listing.write_text("".join(f"{p}\n" for p in found), encoding="utf-8")
    try:
        output = subprocess.run(
            ["exiftool", "-j", "-G1", "-struct", "-charset", "filename=utf8", "-@", str(listing)],
            check=True,
            capture_output=True,
        ).stdout
    finally:
        listing.unlink()
    return {str(Path(entry["SourceFile"]).relative_to(dest)): entry for entry in json.loads(output)}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _exif_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y:%m:%d %H:%M:%S%z")


def assert_sidecars_match(
    dest: Path, manifest: dict[str, Any], account: str, items: list[dict[str, Any]]
) -> None:
    """exiftool finds in each item's sidecars its id, date taken with offset and, where the
    manifest has them, its exact caption, people and albums."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for relative, entry in read_sidecars(dest).items():
        assert entry.get("File:FileType") == "XMP", f"{relative}: exiftool reads no XMP"
        by_id.setdefault(str(entry.get("XMP-gpc:ItemId")), []).append(entry)
    titles = {a["id"]: a["title"] for a in manifest["accounts"][account].get("albums", [])}
    for item in items:
        entries = by_id.get(item["id"])
        assert entries, f"{item['id']}: no sidecar names it"
        taken = datetime.fromisoformat(item["taken"])
        for entry in entries:
            when = entry.get("XMP-exif:DateTimeOriginal")
            assert when and _exif_time(str(when)) == taken, f"{item['id']}: taken {when}"
            assert entry.get("XMP-photoshop:DateCreated") == when
            if "caption" in item:
                assert entry.get("XMP-dc:Description", "") == item["caption"], item["id"]
            if "people" in item or "albums" in item:
                albums = [titles[a] for a in item.get("albums", [])]
                people = list(item.get("people", []))
                hierarchy = _as_list(entry.get("XMP-lr:HierarchicalSubject"))
                assert sorted(hierarchy) == sorted(
                    {f"Albums|{a}" for a in albums} | {f"People|{p}" for p in people}
                ), item["id"]
                assert sorted(_as_list(entry.get("XMP-dc:Subject"))) == sorted(
                    set(albums) | set(people)
                ), item["id"]


def assert_state_consistent(dest: Path) -> None:
    """Every file the state names is complete on disk; nothing is left half-written."""
    state_dir = dest / STATE_DIR
    db = sqlite3.connect(state_dir / "state.sqlite3")
    try:
        rows = db.execute("SELECT path, size, sha256 FROM files").fetchall()
    finally:
        db.close()
    for relative, size, digest in rows:
        path = dest / relative
        assert path.is_file(), f"the state names {relative}, which is not on disk"
        assert path.stat().st_size == size and sha256(path) == digest, f"{relative} differs"
    for scratch in ("tmp", "downloads"):
        folder = state_dir / scratch
        leftovers = list(folder.iterdir()) if folder.exists() else []
        assert not leftovers, f"stray temporary files: {leftovers}"


def file_identities(dest: Path) -> dict[str, tuple[int, int, int]]:
    """inode, size and mtime of every file (sidecars too): a rewrite changes them."""
    return {
        relative: (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns)
        for relative, path in all_files(dest).items()
    }
