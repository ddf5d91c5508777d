"""The fake over plain HTTP: sessions, redirects, the app's calls, downloads, admin."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from fakes.photos import FakePhotos
from fakes.photos.testing import (
    ALICE,
    BOB,
    AppCalls,
    fetch,
    items_by_k,
    session_cookie,
    sign_in,
    visible_ids,
)

SEED = 21


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=260, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


@pytest.mark.parametrize("path", ["/", "/u/1/", "/photo/AF1QipSomething", "/u/1/photo/AF1QipX"])
def test_signed_out_visits_end_on_the_about_page(fake: FakePhotos, path: str) -> None:
    reply = fetch(fake.base_url + path)
    assert reply.status == 302 and reply.location == "/photos/about/"
    about = fetch(fake.base_url + reply.location)
    assert about.status == 200 and "Google Photos" in about.text


def test_login_leads_to_sign_in_or_to_the_library(fake: FakePhotos) -> None:
    signed_out = fetch(fake.base_url + "/login")
    assert signed_out.status == 302
    assert signed_out.location.startswith("/v3/signin/identifier?")
    form = fetch(fake.base_url + signed_out.location)
    assert 'id="identifierId"' in form.text and 'id="identifierNext"' in form.text
    cookie = sign_in(fake.base_url, ALICE)
    signed_in = fetch(fake.base_url + "/login", cookie=cookie)
    assert signed_in.status == 302 and signed_in.location == "/"


def test_session_cookie_is_persistent_and_lists_accounts_in_order(fake: FakePhotos) -> None:
    step = fetch(
        fake.base_url + "/v3/signin/identifier", "POST", {"identifier": ALICE, "continue": "/"}
    )
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(step.location).query)["TL"][0]
    done = fetch(fake.base_url + "/v3/signin/challenge/pwd", "POST", {"TL": state, "continue": "/"})
    header = done.headers["Set-Cookie"]
    assert "Expires=" in header and "Max-Age=" in header and "HttpOnly" in header
    cookie = session_cookie(done)
    both = sign_in(fake.base_url, BOB, cookie)
    home = fetch(fake.base_url + "/?hl=en", cookie=both)
    assert 'aria-label="Google Account: Alice Example (alice@example.com)"' in home.text
    second = fetch(fake.base_url + "/u/1/?hl=en", cookie=both)
    assert 'aria-label="Google Account: Bob Example (bob@example.com)"' in second.text
    assert fetch(fake.base_url + "/u/2/", cookie=both).location == "/photos/about/"
    assert fetch(fake.base_url + "/u/1", cookie=both).location == "/u/1/"


def test_unknown_account_cannot_sign_in(fake: FakePhotos) -> None:
    reply = fetch(
        fake.base_url + "/v3/signin/identifier",
        "POST",
        {"identifier": "mallory@example.com", "continue": "/"},
    )
    assert reply.status == 200 and "find your Google Account" in reply.text


def test_a_forged_cookie_is_signed_out(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    body, mac = cookie.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert fetch(fake.base_url + "/", cookie=forged).location == "/photos/about/"


def test_revoking_signs_out_every_holder_until_signing_in_again() -> None:
    with FakePhotos(items=5, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as fake:
        first = sign_in(fake.base_url, ALICE)
        both = sign_in(fake.base_url, BOB, sign_in(fake.base_url, ALICE))
        fake.revoke(ALICE)
        assert fetch(fake.base_url + "/", cookie=first).location == "/photos/about/"
        assert fetch(fake.base_url + "/", cookie=both).location == "/photos/about/"
        assert fetch(fake.base_url + "/u/1/", cookie=both).status == 200  # Bob is untouched
        again = sign_in(fake.base_url, ALICE, both)
        assert fetch(fake.base_url + "/", cookie=again).status == 200
        assert fetch(fake.base_url + "/u/1/", cookie=again).status == 200


def test_sessions_survive_a_restart_with_the_same_seed_and_more_items(tmp_path) -> None:
    with FakePhotos(items=10, seed=SEED, media_scale=0.02) as fake:
        cookie = sign_in(fake.base_url, ALICE)
        before = visible_ids(fake.manifest(), ALICE)
    with FakePhotos(items=30, seed=SEED, media_scale=0.02) as restarted:
        assert fetch(restarted.base_url + "/", cookie=cookie).status == 200
        after = AppCalls(restarted.base_url, cookie).listed_ids()
        assert [i for i in after if i in before] == before and len(after) > len(before)
    with FakePhotos(items=10, seed=SEED + 1, media_scale=0.02) as other:
        assert fetch(other.base_url + "/", cookie=cookie).location == "/photos/about/"


def test_the_apps_list_calls_give_every_visible_item_newest_first(fake: FakePhotos) -> None:
    calls = AppCalls(fake.base_url, sign_in(fake.base_url, ALICE))
    assert calls.listed_ids() == visible_ids(fake.manifest(), ALICE)
    outline = calls.answer("lcxiM", [])
    assert outline["total"] == len(visible_ids(fake.manifest(), ALICE))
    assert len(outline["pages"]) > 1  # fetched in pages as the grid scrolls


def test_calls_need_the_pages_token_and_a_session(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    calls = AppCalls(fake.base_url, cookie)
    calls.init["at"] = "forged"
    assert calls.call("lcxiM", []).status == 400
    calls = AppCalls(fake.base_url, cookie)
    calls.cookie = None
    assert calls.call("lcxiM", []).status == 401


def test_downloads_carry_the_original_bytes_and_name(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    calls = AppCalls(fake.base_url, cookie)
    items = items_by_k(fake.manifest(), ALICE)
    for k in (0, 3, 4, 7, 8):  # photo, Cyrillic, Japanese, hostile name, video
        item = items[k]
        reply = fetch(calls.download_url(item["id"]), cookie=cookie)
        assert reply.status == 200
        disposition = reply.headers["Content-Disposition"]
        quoted = urllib.parse.quote(item["filename"], safe="")
        assert disposition.startswith('attachment; filename="')
        assert disposition.endswith(f"filename*=UTF-8''{quoted}")
        assert int(reply.headers["Content-Length"]) == item["size"] == len(reply.body)
        assert hashlib.sha256(reply.body).hexdigest() == item["files"][0]["sha256"]
    ascii_name = fetch(calls.download_url(items[7]["id"]), cookie=cookie)
    assert 'filename="../../etc/passwd"' in ascii_name.headers["Content-Disposition"]


def test_live_and_edited_items_download_as_the_manifest_says(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    calls = AppCalls(fake.base_url, cookie)
    items = items_by_k(fake.manifest(), ALICE)
    live = fetch(calls.download_url(items[1]["id"]), cookie=cookie)
    assert live.headers["Content-Type"] == "application/zip"
    assert "IMG_0001.zip" in live.headers["Content-Disposition"]
    edited = items[10]
    shown = fetch(calls.download_url(edited["id"]), cookie=cookie)
    original = fetch(calls.download_url(edited["id"], original=True), cookie=cookie)
    assert hashlib.sha256(shown.body).hexdigest() == edited["files"][0]["sha256"]
    assert hashlib.sha256(original.body).hexdigest() == edited["original"]["sha256"]


def test_no_download_for_processing_deleted_or_unsigned(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    calls = AppCalls(fake.base_url, cookie)
    items = items_by_k(fake.manifest(), ALICE)
    processing = calls.answer("pLFTfd", [items[5]["id"], "", 0])
    assert "url" not in processing and "later" in processing["toast"]
    info = calls.answer("VrseUb", [items[5]["id"], ""])
    assert info["processing"] == "Your video will be ready soon"
    gone = calls.answer("pLFTfd", [items[9]["id"], "http://x/photo/y", 0])
    assert gone["notFound"]["text"].startswith("No webpage was found for the web address")
    url = calls.download_url(items[0]["id"])
    assert fetch(url).location.startswith("/v3/signin/identifier")  # no session
    tampered = url.replace("o=0", "o=1")
    assert fetch(tampered, cookie=cookie).status == 403
    counted = fake.downloads.get(items[0]["id"], 0)
    fetch(url, cookie=cookie)
    assert fake.downloads[items[0]["id"]] == counted + 1


def test_not_found_text_is_not_in_the_page_before_it_is_shown(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    items = items_by_k(fake.manifest(), ALICE)
    page = fetch(f"{fake.base_url}/photo/{items[5]['id']}?hl=en", cookie=cookie)
    assert page.status == 200
    assert "No webpage" not in page.text and "ready soon" not in page.text
    script = fetch(fake.base_url + "/_/static/app.js").text
    assert "No webpage" not in script and "ready soon" not in script


def test_admin_grow_delete_and_ready_rewrite_the_manifest(tmp_path) -> None:
    path = tmp_path / "manifest.json"
    with FakePhotos(items=20, seed=SEED, media_scale=0.02, manifest_path=path) as fake:
        assert len(json.loads(path.read_text())["accounts"][ALICE]["items"]) == 20
        grown = fetch(
            fake.base_url + "/_fake/grow",
            "POST",
            headers={"Content-Type": "application/json"},
            form=None,
        )
        assert grown.status == 400  # no item count given
        fake.grow(25)
        on_disk = json.loads(path.read_text())
        assert on_disk["items_per_account"] == 25
        items = items_by_k(on_disk, ALICE)
        fake.delete(ALICE, items[3]["id"])
        fake.make_ready(ALICE, items[5]["id"])
        after = items_by_k(json.loads(path.read_text()), ALICE)
        assert after[3]["state"] == "deleted" and after[3]["deleted_files"] == items[3]["files"]
        assert after[5]["state"] == "ok" and after[5]["files"]
        cookie = sign_in(fake.base_url, ALICE)
        assert items[3]["id"] not in AppCalls(fake.base_url, cookie).listed_ids()
        with pytest.raises(ValueError, match="cannot shrink"):
            fake.grow(10)


def test_latency_is_added_to_every_answer() -> None:
    with FakePhotos(items=3, seed=SEED, media_scale=0.02, latency_ms=150) as slow:
        started = time.monotonic()
        fetch(slow.base_url + "/photos/about/")
        assert time.monotonic() - started >= 0.15


def test_language_follows_hl_then_accept_language(fake: FakePhotos) -> None:
    cookie = sign_in(fake.base_url, ALICE)
    german = fetch(
        fake.base_url + "/", cookie=cookie, headers={"Accept-Language": "de-DE,de;q=0.9"}
    )
    assert '<html lang="de"' in german.text and "Google-Konto: Alice Example" in german.text
    forced = fetch(
        fake.base_url + "/?hl=en", cookie=cookie, headers={"Accept-Language": "de-DE,de;q=0.9"}
    )
    assert '<html lang="en"' in forced.text and "Google Account: Alice Example" in forced.text
    calls = AppCalls(fake.base_url, cookie, hl="de")
    first = calls.answer("EzkLib", [calls.answer("lcxiM", [])["pages"][0]["t"]])["items"][0]
    assert first[1].startswith(("Foto - ", "Video - "))
