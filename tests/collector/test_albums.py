"""`sync --albums` end to end: album folders of links, sidecars read by exiftool, and what
changes on Google (a rename, a removal, a deleted album, an edited caption)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fakes.photos import FakePhotos
from fakes.photos.testing import albums
from tests.collector.backup import (
    assert_backup_matches,
    assert_state_consistent,
    expected_files,
    file_identities,
    read_sidecars,
    sha256,
)
from tests.collector.test_sync import ALICE, SCALE, sync_args
from tests.conftest import run_collector


def _folders(dest: Path) -> dict[str, str]:
    """album id -> its folder under albums/, as the state records it."""
    db = sqlite3.connect(dest / ".gphotos-collector" / "state.sqlite3")
    try:
        return {row[0]: row[1] for row in db.execute("SELECT id, folder FROM albums")}
    finally:
        db.close()


def _card_id(album: dict[str, Any]) -> str:
    return str(album["share_id"] if album["shared"] else album["id"])


def _links(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry of an album folder: (inode, mtime) of the link itself."""
    return {
        entry.name: (entry.lstat().st_ino, entry.lstat().st_mtime_ns)
        for entry in sorted(folder.iterdir())
    }


def assert_album_folders(dest: Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """Each album's folder links exactly its backed-up items' files (and their sidecars),
    by relative symbolic links into YYYY/MM; returns the folders by album id."""
    by_id = {i["id"]: i for i in manifest["accounts"][ALICE]["items"]}
    folders = _folders(dest)
    found: dict[str, Path] = {}
    listed = albums(manifest, ALICE)
    assert {_card_id(a) for a in listed} == set(folders), "every album, and only those"
    for album in listed:
        folder = dest / "albums" / folders[_card_id(album)]
        assert folder.is_dir() and not folder.is_symlink(), album["title"]
        wanted: list[str] = []
        for entry in album["items"]:
            item = by_id.get(entry["library_id"] or "")
            if item is None or item["state"] != "ok" or not item["files"]:
                continue  # others' items, or nothing to back up (yet)
            wanted += [f["sha256"] for f in expected_files(item)]
        media = [p for p in folder.iterdir() if not p.name.endswith(".xmp")]
        for link in folder.iterdir():
            assert link.is_symlink(), f"{link} is not a link"
            target = str(link.readlink())
            assert not Path(target).is_absolute() and target.startswith("../../"), target
            assert link.resolve().is_relative_to(dest.resolve()), target
        assert sorted(sha256(p) for p in media) == sorted(wanted), album["title"]
        for link in media:  # its sidecar beside it, as in YYYY/MM
            assert (folder / f"{link.name}.xmp").resolve() == Path(f"{link.resolve()}.xmp")
        found[album["id"]] = folder
    # One copy of every photo: the album folders hold links only.
    return found


def test_albums_are_folders_of_links_that_follow_google(tmp_path: Path) -> None:
    with FakePhotos(items=60, seed=13, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        manifest = fake.manifest()
        listed = albums(manifest, ALICE)
        first = run_collector(*sync_args(fake, profile, dest, "--albums"))
        assert first.code == 0, first.stderr
        print("first run", first.summary)
        assert_backup_matches(dest, manifest, ALICE)  # sidecars read back by exiftool
        assert_state_consistent(dest)
        report = first.summary["albums"]
        assert report["albums"] == len(listed) and report["walked"] == len(listed)
        assert report["unmatched"] == 0 and report["error"] is None
        folders = assert_album_folders(dest, manifest)
        # Two albums of one title, and two differing only in case: distinct folders.
        assert len({str(f).casefold() for f in folders.values()}) == len(listed)
        shared = [a for a in listed if a["shared"]]
        others = sum(1 for a in shared for e in a["items"] if e["library_id"] is None)
        assert others > 0
        assert sum(int(n["items"]) for n in report["not_backed_up"]) == others
        assert {n["album"] for n in report["not_backed_up"]} == {a["title"] for a in shared}

        # Nothing changed: no album is walked, nothing is rewritten, no link remade.
        files, links = file_identities(dest), {a: _links(f) for a, f in folders.items()}
        downloads = fake.downloads
        second = run_collector(*sync_args(fake, profile, dest, "--albums"))
        assert second.code == 0, second.stderr
        assert second.summary["albums"]["walked"] == 0
        assert second.summary["sidecars"] == 0
        assert file_identities(dest) == files
        assert {a: _links(f) for a, f in folders.items()} == links
        assert fake.downloads == downloads

        # Google changes: a rename, an item leaves an album, an album is deleted.
        renamed, shrunk, deleted = listed[0], listed[2], listed[6]
        fake.rename_album(ALICE, renamed["id"], "Sommer 2019 (umbenannt) ☀")
        leaving = next(e for e in shrunk["items"] if e["library_id"])
        fake.remove_from_album(ALICE, shrunk["id"], leaving["album_item_id"])
        fake.delete_album(ALICE, deleted["id"])
        third = run_collector(*sync_args(fake, profile, dest, "--albums"))
        assert third.code == 0, third.stderr
        print("third run", third.summary)
        changed = fake.manifest()
        assert third.summary["albums"]["walked"] == 1  # only the album whose count changed
        assert third.summary["albums"]["renamed"] == 1
        assert third.summary["albums"]["deleted"] == 1
        after = assert_album_folders(dest, changed)
        assert after[renamed["id"]].name == "Sommer 2019 (umbenannt) ☀"
        assert not folders[renamed["id"]].exists() and not folders[deleted["id"]].exists()
        assert deleted["id"] not in after
        # The same night, the sidecars of the items concerned name their albums as they are
        # now (exiftool reads every item's keywords against the fake's manifest).
        assert_backup_matches(dest, changed, ALICE)
        assert third.summary["albums"]["keywords_updated"] >= 2

        # The caption reaches the sidecars on the next full scan (it reads every item).
        captioned = next(e["library_id"] for e in listed[4]["items"] if e["library_id"])
        fake.set_caption(ALICE, captioned, 'Neu: "Brücke"\nzweite Zeile')
        fourth = run_collector(*sync_args(fake, profile, dest, "--albums", "--full-scan"))
        assert fourth.code == 0, fourth.stderr
        assert fourth.summary["details_changed"] >= 1
        captions = {
            entry.get("XMP-dc:Description")
            for entry in read_sidecars(dest).values()
            if entry.get("XMP-gpc:ItemId") == captioned
        }
        assert captions == {'Neu: "Brücke"\nzweite Zeile'}
        assert_backup_matches(dest, fake.manifest(), ALICE)
        assert_album_folders(dest, fake.manifest())


def test_shared_albums_keep_what_others_added(tmp_path: Path) -> None:
    with FakePhotos(items=30, seed=17, accounts=[ALICE], media_scale=SCALE) as fake:
        profile, dest = tmp_path / "profile", tmp_path / "dest"
        fake.make_profile(profile)
        manifest = fake.manifest()
        shared = [a for a in albums(manifest, ALICE) if a["shared"]]
        foreign = [e for a in shared for e in a["items"] if e["library_id"] is None]
        assert foreign
        first = run_collector(*sync_args(fake, profile, dest, "--shared-albums"))
        assert first.code == 0, first.stderr
        report = first.summary["albums"]
        assert report["not_backed_up"] == [] and report["shared_kept"] == len(foreign)
        assert report["shared_in_albums"] == len(foreign)
        folders = _folders(dest)
        kept: dict[str, Path] = {}
        for album in shared:
            root = dest / "shared" / folders[_card_id(album)]
            for path in root.rglob("*"):
                if path.is_file():
                    assert not path.is_symlink()
                    kept[sha256(path)] = path.relative_to(root)
        for entry in foreign:
            for file in entry["files"]:
                where = kept[file["sha256"]]  # their bytes, under YYYY/MM of their date
                assert str(where).startswith(entry["taken"][:4] + "/" + entry["taken"][5:7])
        # Their own items in the shared album are links, as in any album.
        assert_album_folders(dest, manifest)
        assert_backup_matches(dest, manifest, ALICE)  # the library itself is unchanged
        downloads = fake.downloads
        second = run_collector(*sync_args(fake, profile, dest, "--shared-albums"))
        assert second.code == 0, second.stderr
        assert second.summary["albums"]["shared_kept"] == 0
        assert fake.downloads == downloads
