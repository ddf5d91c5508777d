"""Issue #10 without a browser: captions, people and albums in the library and the
manifest, the album pages and their 404s over plain HTTP, the app's calls (album items,
their downloads, the item data, the albums list), admin endpoints and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.photos import FakePhotos
from fakes.photos.albums import DEFAULT_ALBUMS, album_item_id
from fakes.photos.cli import build_parser, main
from fakes.photos.library import CAST_SIZE, person_cast, person_id
from fakes.photos.server import PhotosApp
from fakes.photos.testing import (
    ALICE,
    BOB,
    AppCalls,
    album_item_ids,
    fetch,
    items_by_k,
    sign_in,
    visible_ids,
)

SEED = 51
ID_SHAPE = re.compile(r"^AF1Qip[A-Za-z0-9_-]{34,64}$")


def manifest_of(items: int, seed: int = SEED, **options: Any) -> dict[str, Any]:
    app = PhotosApp(items=items, seed=seed, accounts=[ALICE, BOB], media_scale=0.02, **options)
    return app.manifests.build()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=200, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


@pytest.fixture(scope="module")
def cookie(fake: FakePhotos) -> str:
    return sign_in(fake.base_url, BOB, sign_in(fake.base_url, ALICE))


@pytest.fixture(scope="module")
def calls(fake: FakePhotos, cookie: str) -> AppCalls:
    return AppCalls(fake.base_url, cookie)


def _albums(manifest: dict[str, Any], email: str = ALICE) -> list[dict[str, Any]]:
    return list(manifest["accounts"][email]["albums"])


def _by_id(manifest: dict[str, Any], email: str = ALICE) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in manifest["accounts"][email]["items"]}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the library and the manifest --------------------------------------------------------


def test_new_attributes_are_deterministic_and_do_not_depend_on_the_size() -> None:
    small, again, large = manifest_of(40), manifest_of(40), manifest_of(300)
    assert small == again
    for before, after in zip(items_by_k(small, ALICE), items_by_k(large, ALICE)[:40], strict=True):
        assert (before["id"], before["caption"], before["people"]) == (
            after["id"],
            after["caption"],
            after["people"],
        )
    assert [a["id"] for a in _albums(small)] == [a["id"] for a in _albums(large)]
    other_seed = manifest_of(40, seed=SEED + 1)
    assert {a["id"] for a in _albums(small)}.isdisjoint({a["id"] for a in _albums(other_seed)})
    assert {a["id"] for a in _albums(small)}.isdisjoint({a["id"] for a in _albums(small, BOB)})


def test_captions_are_rare_and_include_the_hard_ones() -> None:
    items = items_by_k(manifest_of(400), ALICE)
    captions = [i["caption"] for i in items]
    assert 0.15 < sum(1 for c in captions if c) / len(captions) < 0.35
    assert captions[0] == "Café ☕ — 東京 🗼"
    assert any('"' in c and "'" in c and "<" in c and "&" in c for c in captions)
    assert any("\n\n" in c for c in captions)
    assert captions[1] == "" and all(isinstance(c, str) for c in captions)


def test_people_come_from_a_small_cast_with_unicode_names() -> None:
    manifest = manifest_of(300)
    cast = person_cast(SEED, ALICE)
    assert len(cast) == CAST_SIZE and any(not name.isascii() for name in cast)
    people = [i["people"] for i in items_by_k(manifest, ALICE)]
    assert all(0 <= len(p) <= 3 and set(p) <= set(cast) for p in people)
    assert {len(p) for p in people} == {0, 1, 2, 3}
    assert sum(1 for p in people if p) < len(people) / 2
    assert any(not name.isascii() for p in people for name in p)
    # The same name is another person (another search id) in another account.
    assert person_id(SEED, ALICE, cast[0]) != person_id(SEED, BOB, cast[0])


def test_albums_hold_the_hard_cases() -> None:
    manifest = manifest_of(200)
    albums = _albums(manifest)
    items = _by_id(manifest)
    titles = [a["title"] for a in albums]
    assert len(albums) == DEFAULT_ALBUMS and len({a["id"] for a in albums}) == len(albums)
    assert all(ID_SHAPE.match(a["id"]) for a in albums)
    assert any("/" in t for t in titles) and any(not t.isascii() for t in titles)
    assert len(set(titles)) < len(titles)  # two albums with the same title
    assert len({t.casefold() for t in titles}) < len(set(titles))  # and two differing in case
    # One shared album, with a share id and a key, holding items someone else added.
    shared = [a for a in albums if a["shared"]]
    assert len(shared) == 1 and ID_SHAPE.match(shared[0]["share_id"]) and shared[0]["key"]
    assert all(a["share_id"] is None and a["key"] is None for a in albums if not a["shared"])
    theirs = [i for i in shared[0]["items"] if i["library_id"] is None]
    assert len(theirs) == 3 and all(i["files"] for i in theirs)
    library_names = {(i["filename"], i["taken"]) for i in items.values()}
    assert not {(i["filename"], i["taken"]) for i in theirs} & library_names
    # ... one of them an IMG_0001.JPG like the library's own, with other bytes.
    same_name = next(i for i in theirs if i["filename"] == "IMG_0001.JPG")
    library_shas = {f["sha256"] for i in items.values() for f in i["files"]}
    assert same_name["files"][0]["sha256"] not in library_shas
    # An item in several albums; an archived item in one; deleted items in none.
    assert max(len(i["albums"]) for i in items.values()) >= 2
    assert any(i["archived"] and i["albums"] for i in items.values())
    assert all(not i["albums"] for i in items.values() if i["state"] == "deleted")
    # Each item's album list matches the albums' item lists.
    for album in albums:
        for entry in album["items"]:
            if entry["library_id"] is not None:
                assert album["id"] in items[entry["library_id"]]["albums"]
                assert entry["filename"] == items[entry["library_id"]]["filename"]
        taken = [dt.datetime.fromisoformat(entry["taken"]) for entry in album["items"]]
        assert taken == sorted(taken, reverse=True)  # newest first, like the grid
    for item in items.values():
        for found in item["albums"]:
            album = next(a for a in albums if a["id"] == found)
            assert item["id"] in {e["library_id"] for e in album["items"]}


def test_album_item_ids_are_id_shaped_and_never_library_ids() -> None:
    manifest = manifest_of(200)
    library_ids = set(_by_id(manifest)) | set(_by_id(manifest, BOB))
    inner = [e["album_item_id"] for a in _albums(manifest) for e in a["items"]]
    assert len(set(inner)) == len(inner) and not set(inner) & library_ids
    assert all(ID_SHAPE.match(i) and 40 <= len(i) <= 70 for i in inner)
    album = _albums(manifest)[0]
    entry = next(e for e in album["items"] if e["library_id"])
    assert entry["album_item_id"] == album_item_id(SEED, album["id"], entry["library_id"])
    # The same photo in two albums has two album item ids.
    twice = next(i for i in _by_id(manifest).values() if len(i["albums"]) >= 2)
    ids = {
        e["album_item_id"]
        for a in _albums(manifest)
        for e in a["items"]
        if e["library_id"] == twice["id"]
    }
    assert len(ids) == len(twice["albums"])


def test_many_albums_for_a_benchmark() -> None:
    manifest = manifest_of(300, albums=100)
    albums = _albums(manifest)
    assert len(albums) == 100
    assert [a["title"] for a in albums[:8]] == [a["title"] for a in _albums(manifest_of(300))]
    assert sum(1 for a in albums if a["items"]) > 50
    assert not _albums(manifest_of(30, albums=0))
    assert build_parser().parse_args(["serve", "--albums", "100"]).albums == 100


# --- pages over HTTP ---------------------------------------------------------------------


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html)
    assert found
    return found.group(1)


def test_album_pages_and_what_is_a_404(fake: FakePhotos, cookie: str) -> None:
    manifest = fake.manifest()
    albums = _albums(manifest)
    plain = albums[4]
    shared = next(a for a in albums if a["shared"])
    inner = plain["items"][0]["album_item_id"]
    library = plain["items"][0]["library_id"]

    def get(path: str) -> Any:
        return fetch(f"{fake.base_url}{path}", cookie=cookie)

    reply = get("/albums?hl=en")
    assert reply.status == 200 and _title(reply.text) == "Albums - Google Photos"
    reply = get(f"/album/{plain['id']}?hl=en")
    assert reply.status == 200 and plain["title"] == "Berlin / München 2018"
    assert _title(reply.text) == "Berlin / München 2018 - Google Photos"
    assert get(f"/album/{plain['id']}/photo/{inner}?hl=en").status == 200
    assert get("/u/1/albums?hl=en").status == 200
    share = f"/share/{shared['share_id']}"
    first = shared["items"][0]["album_item_id"]
    for path in (
        share,
        f"{share}?key={shared['key']}",
        f"{share}/photo/{first}?key={shared['key']}",
    ):
        assert get(path).status == 200, path
    assert _title(get(share).text) == f"{shared['title']} - Google Photos"
    # A shared album's /album/ URL leads to its /share/ URL.
    moved = get(f"/album/{shared['id']}?hl=en")
    assert moved.status == 302
    assert moved.location == f"/share/{shared['share_id']}?key={shared['key']}&hl=en"
    # The real 404 (empty body): unknown album, wrong key, ids outside their album.
    other = albums[0]["items"][0]["album_item_id"]
    for path in (
        f"/album/{inner}",  # an album item id is no album id
        f"/album/{plain['id']}/photo/{library}",  # a library id is not the album's id
        f"/album/{plain['id']}/photo/{other}",  # another album's item
        f"/photo/{inner}",  # an album item id is no library id
        f"/archive/photo/{inner}",
        f"{share}?key=wrong",
        f"/u/1/album/{plain['id']}",  # Bob's albums are his own
    ):
        reply = get(path)
        assert (reply.status, reply.body) == (404, b""), path
    assert get("/albums/photo/AF1QipNothing").status == 404


def test_app_calls_list_an_album_and_download_the_same_bytes(
    fake: FakePhotos, calls: AppCalls
) -> None:
    manifest = fake.manifest()
    items = _by_id(manifest)
    for album in _albums(manifest)[:3]:
        listed = calls.listed_ids(f"album:{album['id']}")
        assert listed == album_item_ids(manifest, ALICE, album["id"])
    entry = next(
        e
        for a in _albums(manifest)
        for e in a["items"]
        if e["library_id"] and items[e["library_id"]]["kind"] == "photo"
        if items[e["library_id"]]["state"] == "ok" and not items[e["library_id"]]["edited"]
    )
    reply = fetch(calls.download_url(entry["album_item_id"]), cookie=calls.cookie)
    assert reply.status == 200 and len(reply.body) == entry["size"]
    assert _sha(reply.body) == items[entry["library_id"]]["files"][0]["sha256"]
    assert fake.downloads.get(entry["album_item_id"]) == 1
    # Someone else's item in the shared album: its own bytes.
    shared = next(a for a in _albums(manifest) if a["shared"])
    theirs = next(e for e in shared["items"] if e["library_id"] is None)
    reply = fetch(calls.download_url(theirs["album_item_id"]), cookie=calls.cookie)
    assert reply.status == 200 and len(reply.body) == theirs["size"]
    if theirs["kind"] != "live":
        assert _sha(reply.body) == theirs["files"][0]["sha256"]
    assert theirs["album_item_id"] not in calls.listed_ids("library")
    assert theirs["album_item_id"] not in calls.listed_ids("recent")


def test_the_item_data_carries_caption_size_albums_and_people(
    fake: FakePhotos, calls: AppCalls
) -> None:
    manifest = fake.manifest()
    k0 = items_by_k(manifest, ALICE)[0]
    details = calls.answer("VrseUb", [k0["id"], "", "library"])["details"]
    assert details["caption"] == "Café ☕ — 東京 🗼" != details["staleCaption"]
    assert re.fullmatch(r"\d+ KB", details["size"])
    assert [a["id"] for a in details["albums"]] == k0["albums"]
    assert details["staleAlbums"][0]["id"] not in k0["albums"]
    assert details["staleAlbums"][1:] == details["albums"]
    shared = next(a for a in _albums(manifest) if a["shared"])
    link = next(a for a in details["albums"] if a["id"] == shared["id"])
    assert link["href"] == f"./share/{shared['share_id']}"
    assert link["count"] == f"{len(shared['items'])} items · Shared"
    first = next(a for a in details["albums"] if a["id"] != shared["id"])
    assert first["href"] == f"./album/{first['id']}" and first["count"].endswith(" items")
    assert [p["name"] for p in details["people"]] == k0["people"]
    assert all(
        p["href"] == f"./search/{person_id(SEED, ALICE, p['name'])}" for p in details["people"]
    )
    assert details["stalePeople"][0]["name"] not in k0["people"]
    # The same data for the item under its album item id.
    inner = next(e["album_item_id"] for e in shared["items"] if e["library_id"] == k0["id"])
    again = calls.answer("VrseUb", [inner, "", f"album:{shared['id']}"])
    assert again["details"]["caption"] == details["caption"] and again["id"] == inner
    assert again["filename"] == k0["filename"]
    # German labels and counts.
    german = AppCalls(fake.base_url, calls.cookie, hl="de")
    assert german.init["labels"]["file_size"] == "Dateigröße: {value}"
    assert german.init["labels"]["description"] == "Beschreibung"
    counts = [a[2] for a in german.answer("Z5xsfc", [])["albums"]]
    assert all(c.endswith((" Elemente", " Element")) for c in counts)


def test_the_albums_call_lists_cards_in_order(fake: FakePhotos, calls: AppCalls) -> None:
    albums = _albums(fake.manifest())
    cards = calls.answer("Z5xsfc", [])["albums"]
    assert len(cards) == len(albums)
    for (href, title, count, _hue), album in zip(cards, albums, strict=True):
        assert title == album["title"]
        assert count == ("1 item" if len(album["items"]) == 1 else f"{len(album['items'])} items")
        if album["shared"]:
            assert href == f"./share/{album['share_id']}?key={album['key']}"
        else:
            assert href == f"./album/{album['id']}"


# --- changes -----------------------------------------------------------------------------


def test_changes_show_in_the_manifest_and_the_calls() -> None:
    with FakePhotos(items=60, seed=SEED, media_scale=0.02) as small:
        cookie = sign_in(small.base_url, ALICE)
        calls = AppCalls(small.base_url, cookie)
        manifest = small.manifest()
        item = items_by_k(manifest, ALICE)[20]
        text = 'Zwei\nZeilen & "Zitate" <ok>'
        small.set_caption(ALICE, item["id"], text)
        small.set_people(ALICE, item["id"], ["Zoë Laurent", "Somebody New"])
        after = _by_id(small.manifest())[item["id"]]
        assert after["caption"] == text and after["people"] == ["Zoë Laurent", "Somebody New"]
        details = calls.answer("VrseUb", [item["id"], "", "library"])["details"]
        assert details["caption"] == text
        assert [p["name"] for p in details["people"]] == after["people"]

        albums = _albums(manifest)
        target = albums[2]
        small.rename_album(ALICE, target["id"], "Neu / renamed ✓")
        assert _albums(small.manifest())[2]["title"] == "Neu / renamed ✓"
        inner = small.add_to_album(ALICE, target["id"], item["id"])
        assert inner == album_item_id(SEED, target["id"], item["id"])
        assert inner in calls.listed_ids(f"album:{target['id']}")
        assert target["id"] in _by_id(small.manifest())[item["id"]]["albums"]
        assert small.remove_from_album(ALICE, target["id"], inner) == inner
        assert inner not in calls.listed_ids(f"album:{target['id']}")
        assert "notFound" in calls.answer("VrseUb", [inner, "", f"album:{target['id']}"])
        small.add_to_album(ALICE, target["id"], item["id"])  # back, under the same id
        assert inner in calls.listed_ids(f"album:{target['id']}")
        # Removing by library id works too; someone else's item only by its album id.
        shared = next(a for a in albums if a["shared"])
        theirs = next(e["album_item_id"] for e in shared["items"] if e["library_id"] is None)
        small.remove_from_album(ALICE, shared["id"], theirs)
        assert theirs not in calls.listed_ids(f"album:{shared['id']}")

        small.delete_album(ALICE, target["id"])
        assert target["id"] not in {a["id"] for a in _albums(small.manifest())}
        assert target["id"] not in _by_id(small.manifest())[item["id"]]["albums"]
        reply = fetch(f"{small.base_url}/album/{target['id']}", cookie=cookie)
        assert (reply.status, reply.body) == (404, b"")
        assert fetch(calls.download_url(item["id"]), cookie=cookie).status == 200  # still there
        with pytest.raises(KeyError):
            small.rename_album(ALICE, target["id"], "gone")
        with pytest.raises(KeyError):
            small.add_to_album(ALICE, albums[0]["id"], "AF1QipNoSuchItem")
        with pytest.raises(KeyError):
            small.remove_from_album(ALICE, albums[0]["id"], inner)


def test_deleting_an_item_takes_it_out_of_its_albums() -> None:
    with FakePhotos(items=40, seed=SEED, media_scale=0.02) as small:
        item = items_by_k(small.manifest(), ALICE)[0]
        albums = list(item["albums"])
        small.delete(ALICE, item["id"])
        after = small.manifest()
        for album in _albums(after):
            assert item["id"] not in {e["library_id"] for e in album["items"]}
        assert _by_id(after)[item["id"]]["albums"] == [] and len(albums) >= 2


def _post(fake: FakePhotos, action: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{fake.base_url}/_fake/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_admin_endpoints() -> None:
    with FakePhotos(items=40, seed=SEED, media_scale=0.02) as small:
        manifest = small.manifest()
        item = items_by_k(manifest, ALICE)[20]["id"]
        album = _albums(manifest)[1]["id"]
        assert _post(small, "caption", {"account": ALICE, "id": item, "text": "a\nb"}) == (
            200,
            {"id": item, "caption": "a\nb"},
        )
        status, _ = _post(small, "people", {"account": ALICE, "id": item, "names": ["Ana"]})
        assert status == 200
        assert (
            _post(small, "album-rename", {"account": ALICE, "album": album, "title": "T"})[0] == 200
        )
        status, answer = _post(small, "album-add", {"account": ALICE, "album": album, "id": item})
        assert status == 200 and answer["added"] == album_item_id(SEED, album, item)
        status, answer = _post(
            small, "album-remove", {"account": ALICE, "album": album, "id": item}
        )
        assert status == 200 and answer["removed"] == album_item_id(SEED, album, item)
        assert _post(small, "album-delete", {"account": ALICE, "album": album})[0] == 200
        status, answer = _post(small, "album-delete", {"account": ALICE, "album": album})
        assert status == 400 and album in answer["error"]
        status, _ = _post(small, "people", {"account": ALICE, "id": item, "names": [""]})
        assert status == 400
        after = small.manifest()
        assert _by_id(after)[item]["caption"] == "a\nb" and _by_id(after)[item]["people"] == ["Ana"]
        assert album not in {a["id"] for a in _albums(after)}


def test_cli_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with FakePhotos(items=40, seed=SEED, media_scale=0.02) as small:
        manifest = small.manifest()
        item = items_by_k(manifest, ALICE)[20]["id"]
        album = _albums(manifest)[3]["id"]
        base = ["--base-url", small.base_url, "--account", ALICE]
        assert main(["caption", *base, "--id", item, "--text", "Über\nzwei"]) == 0
        assert main(["people", *base, "--id", item, "--name", "Ana", "--name", "李雷"]) == 0
        assert main(["album-rename", *base, "--album", album, "--title", "a/b"]) == 0
        assert main(["album-add", *base, "--album", album, "--id", item]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["added"]
        after = small.manifest()
        assert _by_id(after)[item]["caption"] == "Über\nzwei"
        assert _by_id(after)[item]["people"] == ["Ana", "李雷"]
        assert album in _by_id(after)[item]["albums"]
        assert main(["album-remove", *base, "--album", album, "--id", item]) == 0
        assert main(["album-delete", *base, "--album", album]) == 0
        assert main(["album-delete", *base, "--album", album]) == 1
        assert "refused" in capsys.readouterr().err
        assert album not in {a["id"] for a in _albums(small.manifest())}
        assert visible_ids(small.manifest(), ALICE)  # the library is untouched
