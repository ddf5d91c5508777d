"""The hard cases of a real library (issue #9), over plain HTTP: upload time apart from
capture time, Recently added, the archive, 404 for deleted ids, edited items, sign-in
interstitials, the dialog and stale copies as the server sends them."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.photos import FakePhotos
from fakes.photos.library import BACKDATED_BLOCK, Library
from fakes.photos.server import INTERSTITIALS, interstitial_kind
from fakes.photos.testing import (
    ALICE,
    BOB,
    AppCalls,
    archived_ids,
    fetch,
    items_by_k,
    recent_ids,
    sign_in,
    visible_ids,
)

SEED = 29


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=240, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


def _post(fake: FakePhotos, action: str, body: dict[str, Any]) -> Any:
    """An admin call with a JSON body; an HTTP error raises (its message holds the status)."""
    request = urllib.request.Request(
        f"{fake.base_url}/_fake/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _taken(item: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(item["taken"])


def _uploaded(item: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(item["uploaded"])


def test_uploads_follow_k_and_one_item_in_ten_was_taken_years_earlier() -> None:
    library = Library(SEED, [ALICE], 400)
    specs = library.specs(ALICE)
    assert all(a.uploaded_utc < b.uploaded_utc for a, b in itertools.pairwise(specs))
    assert all(s.uploaded_utc > s.taken_utc for s in specs)
    ordinary = [s for s in specs if not s.backdated]
    late = [s for s in ordinary if s.uploaded_utc - s.taken_utc > dt.timedelta(days=40)]
    assert not late  # shortly after capture: minutes to days
    for block in range(2, 40):  # past the fixed items: exactly one per block of ten
        chosen = [s for s in specs[block * 10 : block * 10 + 10] if s.backdated]
        assert len(chosen) == 1
        assert chosen[0].uploaded_utc - chosen[0].taken_utc >= dt.timedelta(days=365)
    assert all(not s.backdated for s in specs[:14])  # the fixed items stay at the bottom


def test_growing_adds_backdated_items_deep_in_the_grid_and_on_top_of_recent() -> None:
    with FakePhotos(items=60, seed=SEED, media_scale=0.02) as fake:
        before = {i["id"] for i in fake.manifest()["accounts"][ALICE]["items"]}
        fake.grow(60 + 3 * BACKDATED_BLOCK)
        manifest = fake.manifest()
        new = [i for i in manifest["accounts"][ALICE]["items"] if i["id"] not in before]
        old_taken = [i for i in new if _uploaded(i) - _taken(i) > dt.timedelta(days=365)]
        assert len(old_taken) >= 3
        calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
        grid = calls.listed_ids()
        recent = calls.listed_ids("recent")
        assert grid == visible_ids(manifest, ALICE)
        assert recent == recent_ids(manifest, ALICE)
        shown_new = [i["id"] for i in new if i["state"] != "deleted" and not i["archived"]]
        # The newest uploads are all on top of Recently added; not so in the grid.
        assert set(recent[: len(new)]) == {i["id"] for i in new if i["state"] != "deleted"}
        assert any(grid.index(i["id"]) >= len(shown_new) for i in old_taken if not i["archived"])


def test_upload_old_lands_deep_in_the_grid_and_on_top_of_recently_added() -> None:
    with FakePhotos(items=80, seed=SEED, media_scale=0.02) as fake:
        calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
        taken = dt.datetime(2001, 7, 15, 14, 10, 48, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        ids = fake.upload_old(ALICE, taken, count=2)
        assert len(ids) == 2 and len(set(ids)) == 2
        answer = _post(fake, "upload", {"account": ALICE, "taken": taken.isoformat()})
        ids += answer["ids"]
        manifest = fake.manifest()
        recent = calls.listed_ids("recent")
        assert recent[:3] == ids[::-1] and recent == recent_ids(manifest, ALICE)
        grid = calls.listed_ids()
        assert grid == visible_ids(manifest, ALICE)
        assert all(grid.index(i) > 40 for i in ids)  # at their capture date, not on top
        entries = {i["id"]: i for i in manifest["accounts"][ALICE]["items"]}
        for item_id in ids:
            entry = entries[item_id]
            assert entry["k"] is None and entry["archived"] is False
            assert entry["taken"].startswith("2001-07-15T14:10:4")
            assert entry["taken"].endswith("+02:00") and entry["files"]
        assert _uploaded(entries[ids[0]]) > max(
            _uploaded(i) for i in manifest["accounts"][ALICE]["items"] if i["k"] is not None
        )
        cookie = calls.cookie
        assert fetch(f"{fake.base_url}/photo/{ids[0]}", cookie=cookie).status == 200
        with_url = fetch(calls.download_url(ids[0]), cookie=cookie)
        assert hashlib.sha256(with_url.body).hexdigest() == entries[ids[0]]["files"][0]["sha256"]
        for bad in ({"account": ALICE, "taken": "2001-07-15T14:10:48"}, {"account": ALICE}):
            with pytest.raises(Exception, match="400"):
                _post(fake, "upload", bad)


def test_recently_added_lists_every_item_by_upload_archived_ones_too(fake: FakePhotos) -> None:
    manifest = fake.manifest()
    calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
    recent = calls.listed_ids("recent")
    assert recent == recent_ids(manifest, ALICE)
    archived = archived_ids(manifest, ALICE)
    assert archived and set(archived) <= set(recent)
    items = manifest["accounts"][ALICE]["items"]
    assert len(recent) == len([i for i in items if i["state"] != "deleted"])
    first = calls.answer("EzkLib", [calls.answer("lcxiM", ["recent"])["pages"][0]["t"], "recent"])
    assert first["items"][0][1].startswith(("Photo - ", "Video - "))


def test_archived_items_are_only_in_the_archive(fake: FakePhotos) -> None:
    manifest = fake.manifest()
    calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
    grid = calls.listed_ids()
    archive = calls.listed_ids("archive")
    assert archive == archived_ids(manifest, ALICE) and grid == visible_ids(manifest, ALICE)
    assert not set(grid) & set(archive)
    pinned = items_by_k(manifest, ALICE)[13]
    assert pinned["archived"] and pinned["id"] in archive
    assert 1 <= len(archive) < 20  # about 2%, plus the pinned one


def test_archiving_moves_an_item_between_grid_and_archive_with_the_same_id() -> None:
    with FakePhotos(items=20, seed=SEED, media_scale=0.02) as fake:
        cookie = sign_in(fake.base_url, ALICE)
        calls = AppCalls(fake.base_url, cookie)
        items = items_by_k(fake.manifest(), ALICE)
        assert calls.listed_ids("archive") == [items[13]["id"]]
        newest = visible_ids(fake.manifest(), ALICE)[0]
        fake.set_archived(ALICE, newest, True)
        assert newest in calls.listed_ids("archive") and newest not in calls.listed_ids()
        assert newest in calls.listed_ids("recent")
        for path in ("photo", "archive/photo", "search/_tra_/photo"):
            assert fetch(f"{fake.base_url}/{path}/{newest}", cookie=cookie).status == 200
        assert _post(fake, "archive", {"account": ALICE, "id": newest, "archived": False})
        assert newest in calls.listed_ids() and newest not in calls.listed_ids("archive")
        _post(fake, "archive", {"account": ALICE, "id": items[13]["id"], "archived": "false"})
        assert calls.listed_ids("archive") == []
        assert fake.manifest()["accounts"][ALICE]["items"][-14]["archived"] is False


@pytest.mark.parametrize(
    "path", ["/photo/{id}", "/search/_tra_/photo/{id}", "/archive/photo/{id}", "/u/1/photo/{id}"]
)
def test_a_deleted_or_unknown_id_is_a_404_with_an_empty_body(fake: FakePhotos, path: str) -> None:
    cookie = sign_in(fake.base_url, BOB, sign_in(fake.base_url, ALICE))
    manifest = fake.manifest()
    account = BOB if path.startswith("/u/1/") else ALICE
    deleted = items_by_k(manifest, account)[9]["id"]
    for target in (deleted, "AF1QipNeverExistedNeverExistedNeverExisted"):
        reply = fetch(fake.base_url + path.format(id=target), cookie=cookie)
        assert reply.status == 404 and reply.body == b""
    other = items_by_k(manifest, ALICE)[0]["id"]  # Alice's id under Bob's prefix
    if account == BOB:
        assert fetch(fake.base_url + path.format(id=other), cookie=cookie).status == 404


@pytest.mark.parametrize("kind", sorted(INTERSTITIALS))
def test_interstitials_redirect_page_loads_but_the_session_stays(kind: str) -> None:
    with FakePhotos(items=12, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as fake:
        cookie = sign_in(fake.base_url, BOB, sign_in(fake.base_url, ALICE))
        calls = AppCalls(fake.base_url, cookie)
        fake.interstitial(ALICE, kind)
        path, _, heading, _, _ = INTERSTITIALS[kind]
        for page in ("/", "/photo/" + visible_ids(fake.manifest(), ALICE)[0], "/archive"):
            reply = fetch(fake.base_url + page + "?hl=en", cookie=cookie)
            assert reply.status == 302 and reply.location.startswith(path + "?")
        shown = fetch(fake.base_url + reply.location)
        assert shown.status == 200 and heading.replace("'", "\u2019") in shown.text
        assert fetch(fake.base_url + "/u/1/", cookie=cookie).status == 200  # Bob is untouched
        assert calls.listed_ids()  # the app's calls still answer: not signed out
        assert fake.stats()["interstitial_redirects"] == 3
        fake.interstitial(ALICE, "")
        assert fetch(fake.base_url + "/", cookie=cookie).status == 200


def test_interstitial_paths_and_admin_errors(fake: FakePhotos) -> None:
    paths = {kind: value[0] for kind, value in INTERSTITIALS.items()}
    assert paths == {
        "confirmidentifier": "/v3/signin/confirmidentifier",
        "signinchooser": "/AccountChooser/signinchooser",
        "challenge/dp": "/v3/signin/challenge/dp",
        "shadowdisambiguate": "/signin/shadowdisambiguate",
        "passkeyenrollment": "/signin/speedbump/passkeyenrollment",
        "rejected": "/v3/signin/rejected",
    }
    assert interstitial_kind("dp") == interstitial_kind("/v3/signin/challenge/dp") == "challenge/dp"
    assert interstitial_kind("signin/rejected") == "rejected"
    passkey = fetch(fake.base_url + paths["passkeyenrollment"] + "?continue=/")
    assert "Simplify your sign-in" in passkey.text and "Not now" in passkey.text
    for action, body in (
        ("interstitial", {"account": ALICE, "kind": "nonsense"}),
        ("dialog", {"account": ALICE, "kind": "nonsense"}),
        ("interstitial", {"account": "nobody@example.com", "kind": "dp"}),
    ):
        with pytest.raises(Exception, match="400"):
            _post(fake, action, body)


def test_edited_items_download_both_versions_under_the_same_name(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    calls = AppCalls(fake.base_url, cookie)
    edited = items_by_k(fake.manifest(), ALICE)[10]
    assert edited["edited"]
    before = fake.stats()
    shown = fetch(calls.download_url(edited["id"]), cookie=cookie)
    original = fetch(calls.download_url(edited["id"], original=True), cookie=cookie)
    assert shown.headers["Content-Disposition"] == original.headers["Content-Disposition"]
    assert edited["filename"] in original.headers["Content-Disposition"]
    assert hashlib.sha256(original.body).hexdigest() == edited["original"]["sha256"]
    item_id = edited["id"]
    assert fake.downloads[item_id] == before["downloads_completed"].get(item_id, 0) + 2
    assert fake.original_downloads[item_id] == before["original_downloads"].get(item_id, 0) + 1
    stats = json.loads(fetch(fake.base_url + "/_fake/stats").body)
    assert stats["original_downloads"][item_id] == fake.original_downloads[item_id]
    assert {"dialog_confirms", "dialog_cancels"} <= set(stats)


def test_an_edited_items_data_takes_longer(fake: FakePhotos) -> None:
    calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
    items = items_by_k(fake.manifest(), ALICE)
    started = time.monotonic()
    assert calls.answer("VrseUb", [items[10]["id"], ""])["edited"] is True
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    assert calls.answer("VrseUb", [items[0]["id"], ""])["edited"] is False
    assert time.monotonic() - started < 0.15


def test_stale_copies_are_sent_unless_switched_off(fake: FakePhotos) -> None:
    calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
    stale = calls.init["stale"]
    grid = set(visible_ids(fake.manifest(), ALICE))
    assert len(stale["items"]) >= 24 and not {i for i, _ in stale["items"]} & grid
    with FakePhotos(items=12, seed=SEED, media_scale=0.02, stale_copies=False) as plain:
        assert "stale" not in AppCalls(plain.base_url, sign_in(plain.base_url, ALICE)).init


def test_the_dialog_is_sent_until_cancelled_and_a_confirm_is_counted() -> None:
    with FakePhotos(items=12, seed=SEED, media_scale=0.02) as fake:
        cookie = sign_in(fake.base_url, ALICE)
        fake.dialog(ALICE, "storage-full")
        calls = AppCalls(fake.base_url, cookie)
        assert calls.init["dialog"]["kind"] == "storage-full"
        assert calls.answer("Wd3Tfc", ["storage-full", "confirm"]) == {"url": "/storage"}
        assert fake.dialog_confirms == 1 and "dialog" in AppCalls(fake.base_url, cookie).init
        assert fetch(fake.base_url + "/storage").status == 200
        calls.answer("Wd3Tfc", ["storage-full", "cancel"])
        assert fake.dialog_cancels == 1 and "dialog" not in AppCalls(fake.base_url, cookie).init
        stats = fake.stats()
        assert stats["dialog_confirms"] == 1 and stats["dialog_cancels"] == 1
