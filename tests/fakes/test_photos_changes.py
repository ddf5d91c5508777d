"""Issue #15 over plain HTTP: the page as Google might change it (`change_page`), and
Recently added under ids that are not the library's (`foreign_recent`), through the
Python API, the admin endpoints and the CLI."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.photos import FakePhotos
from fakes.photos.cli import main
from fakes.photos.server import PAGE_CHANGES
from fakes.photos.testing import (
    ALICE,
    BOB,
    AppCalls,
    archived_ids,
    fetch,
    recent_ids,
    sign_in,
    visible_ids,
)

SEED = 45
ID_SHAPE = re.compile(r"^AF1Qip[A-Za-z0-9_-]{34,64}$")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=260, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


@pytest.fixture(autouse=True)
def normal_page(fake: FakePhotos) -> Iterator[None]:
    yield
    fake.change_page(None)
    fake.foreign_recent(False)


@pytest.fixture(scope="module")
def cookie(fake: FakePhotos) -> str:
    return sign_in(fake.base_url, BOB, sign_in(fake.base_url, ALICE))


def _init(fake: FakePhotos, cookie: str, path: str = "/") -> dict[str, Any]:
    reply = fetch(f"{fake.base_url}{path}?hl=en", cookie=cookie)
    assert reply.status == 200, reply.status
    found = re.search(
        r'<script id="wiz_global_data" type="application/json">(.*?)</script>', reply.text
    )
    assert found
    loaded: dict[str, Any] = json.loads(found.group(1))
    return loaded


def _post(fake: FakePhotos, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{fake.base_url}/_fake/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- changed page: what the server sends the app ---------------------------------------


def test_the_normal_page_follows_the_contract(fake: FakePhotos, cookie: str) -> None:
    assert fake.page_change is None
    init = _init(fake, cookie)
    assert init["labels"]["more_options"] == "More options"
    assert init["labels"]["download"] == "Download - Shift+D"
    assert init["downloadKey"] == "D" and init["itemLinks"] == "anchor"


@pytest.mark.parametrize(
    ("mode", "changed", "kept"),
    [
        ("more-options", {"more_options": "More actions"}, {"download": "Download - Shift+D"}),
        (
            "info-labels",
            {
                "filename": "File name: {value}",
                "date_taken": "Taken on: {value}",
                "time_taken": "Time: {value}",
            },
            {"more_options": "More options"},
        ),
        ("download", {"download": "Download - Shift+S"}, {"filename": "Filename: {value}"}),
        ("grid-anchors", {}, {"more_options": "More options", "download": "Download - Shift+D"}),
    ],
)
def test_each_mode_changes_its_labels_only(
    fake: FakePhotos, cookie: str, mode: str, changed: dict[str, str], kept: dict[str, str]
) -> None:
    fake.change_page(mode)
    assert fake.page_change == mode
    labels = _init(fake, cookie)["labels"]
    for key, value in {**changed, **kept}.items():
        assert labels[key] == value
    fake.change_page("")
    assert fake.page_change is None
    normal = _init(fake, cookie)["labels"]
    for key, value in changed.items():
        assert normal[key] != value
    assert normal["more_options"] == "More options"
    assert normal["filename"] == "Filename: {value}"


def test_download_and_grid_anchor_modes_change_how_the_app_builds_the_page(
    fake: FakePhotos, cookie: str
) -> None:
    fake.change_page("download")
    init = _init(fake, cookie, "/u/1/")
    assert init["downloadKey"] == "S" and init["itemLinks"] == "anchor"
    fake.change_page("grid-anchors")
    for path in ("/", "/search/_tra_", "/archive"):
        init = _init(fake, cookie, path)
        assert init["itemLinks"] == "div" and init["downloadKey"] == "D"
    fake.change_page(None)
    assert _init(fake, cookie)["itemLinks"] == "anchor"


def test_german_labels_change_too(fake: FakePhotos, cookie: str) -> None:
    fake.change_page("info-labels")
    reply = fetch(f"{fake.base_url}/?hl=de", cookie=cookie)
    assert "Aufnahmedatum:" not in reply.text and "Aufgenommen am: {value}" in reply.text


def test_recently_added_removed_is_a_404_with_an_empty_body(fake: FakePhotos, cookie: str) -> None:
    manifest = fake.manifest()
    newest = recent_ids(manifest, ALICE)[0]
    fake.change_page("recently-added")
    for path in ("/search/_tra_", f"/search/_tra_/photo/{newest}", "/u/1/search/_tra_"):
        reply = fetch(f"{fake.base_url}{path}?hl=en", cookie=cookie)
        assert (reply.status, reply.body) == (404, b""), path
    # The library grid, its viewer and the archive keep working.
    for path in ("/", f"/photo/{visible_ids(manifest, ALICE)[0]}", "/archive", "/u/1/"):
        assert fetch(f"{fake.base_url}{path}?hl=en", cookie=cookie).status == 200, path
    fake.change_page(None)
    assert fetch(f"{fake.base_url}/search/_tra_?hl=en", cookie=cookie).status == 200


def test_unknown_modes_are_refused_with_the_known_ones() -> None:
    with FakePhotos(items=20, seed=SEED, media_scale=0.02) as fake:
        with pytest.raises(ValueError, match="more-options"):
            fake.change_page("bogus")
        assert fake.page_change is None


# --- admin endpoints and CLI -----------------------------------------------------------


def test_admin_change_and_foreign_recent(fake: FakePhotos, cookie: str) -> None:
    assert _post(fake, "change", {"mode": "download"}) == (200, {"change": "download"})
    assert fake.page_change == "download"
    assert _init(fake, cookie)["downloadKey"] == "S"
    stats = json.loads(fetch(f"{fake.base_url}/_fake/stats").text)
    assert stats["change"] == "download" and stats["foreign_recent"] is False
    assert _post(fake, "change", {"mode": None}) == (200, {"change": ""})
    assert fake.page_change is None
    status, answer = _post(fake, "change", {"mode": "nope"})
    assert status == 400 and all(mode in answer["error"] for mode in PAGE_CHANGES)

    assert _post(fake, "foreign-recent", {"on": True}) == (200, {"foreign_recent": True})
    assert json.loads(fetch(f"{fake.base_url}/_fake/stats").text)["foreign_recent"] is True
    assert _post(fake, "foreign-recent", {"on": False}) == (200, {"foreign_recent": False})


def test_cli_change_and_foreign_recent(
    fake: FakePhotos, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["change", "--base-url", fake.base_url, "--mode", "grid-anchors"]) == 0
    assert json.loads(capsys.readouterr().out) == {"change": "grid-anchors"}
    assert fake.page_change == "grid-anchors"
    assert main(["change", "--base-url", fake.base_url]) == 0
    assert json.loads(capsys.readouterr().out) == {"change": ""}
    assert fake.page_change is None
    assert main(["change", "--base-url", fake.base_url, "--mode", "bogus"]) == 1
    assert "recently-added" in capsys.readouterr().err

    assert main(["foreign-recent", "--base-url", fake.base_url]) == 0
    assert json.loads(capsys.readouterr().out) == {"foreign_recent": True}
    assert fake.app.foreign_recent_now()
    assert main(["foreign-recent", "--base-url", fake.base_url, "--off"]) == 0
    assert json.loads(capsys.readouterr().out) == {"foreign_recent": False}
    assert not fake.app.foreign_recent_now()


# --- foreign Recently added ids --------------------------------------------------------


def test_foreign_recent_ids_keep_the_order_and_open_nothing(fake: FakePhotos, cookie: str) -> None:
    manifest = fake.manifest()
    calls = AppCalls(fake.base_url, cookie)
    library_ids = {item["id"] for item in manifest["accounts"][ALICE]["items"]}
    expected = recent_ids(manifest, ALICE)
    assert calls.listed_ids("recent") == expected  # the contract's inference holds

    fake.foreign_recent(True)
    listed = calls.listed_ids("recent")
    assert listed == [fake.foreign_id(i) for i in expected]  # same items, same order
    assert len(set(listed)) == len(listed) and not set(listed) & library_ids
    for foreign, original in zip(listed, expected, strict=True):
        assert ID_SHAPE.match(foreign) and len(foreign) == len(original)
    # The library grid and the archive are unchanged.
    assert calls.listed_ids("library") == visible_ids(manifest, ALICE)
    assert calls.listed_ids("archive") == archived_ids(manifest, ALICE)
    # A foreign id opens nothing: a page load is a 404 with an empty body.
    for path in (f"/photo/{listed[0]}", f"/search/_tra_/photo/{listed[1]}"):
        reply = fetch(f"{fake.base_url}{path}?hl=en", cookie=cookie)
        assert (reply.status, reply.body) == (404, b""), path
    assert "notFound" in calls.answer("VrseUb", [listed[0], "", "recent"])
    # The library ids still open in every view.
    assert fetch(f"{fake.base_url}/search/_tra_/photo/{expected[0]}", cookie=cookie).status == 200

    fake.foreign_recent(False)
    assert calls.listed_ids("recent") == expected


def test_foreign_ids_are_deterministic_per_seed() -> None:
    some = "AF1QipAbcdefghijklmnopqrstuvwxyz0123456789_-AB"
    one, again, other = (FakePhotos(items=20, seed=s, media_scale=0.02) for s in (1, 1, 2))
    assert one.foreign_id(some) == again.foreign_id(some) != other.foreign_id(some)
