"""The fake's web app in real headless Chromium: grid, keys, viewer, menus, downloads."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import urllib.parse
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from fakes.photos import FakePhotos
from fakes.photos.testing import (
    ALICE,
    BOB,
    items_by_k,
    signed_in_context,
    visible_ids,
    wait_item_loaded,
)

SEED = 41
# The page keeps hidden stale copies (as Google's does): a client reads the visible ones.
ANCHORS = 'a[href^="./photo/"]:visible'
COLLECT = """(prefix) => {
  const main = [...document.querySelectorAll('[role="main"]')]
    .find((m) => m.checkVisibility({ visibilityProperty: true }));
  return {
    ids: [...main.querySelectorAll(`a[href^="${prefix}"]`)]
      .map(a => a.getAttribute('href').slice(prefix.length)),
    end: main.scrollTop + main.clientHeight >= main.scrollHeight - 1,
    waiting: main.querySelectorAll('.placeholder').length,
    headers: document.querySelectorAll('[aria-label^="Select all photos from "]').length,
  };
}"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=400, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


@pytest.fixture(scope="module")
def manifest(fake: FakePhotos) -> dict[str, Any]:
    return fake.manifest()


@pytest.fixture
def page(browser: Any, fake: FakePhotos) -> Iterator[Any]:
    context = signed_in_context(browser, fake.base_url, [ALICE, BOB])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def _sha(path: Any) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _open_item(page: Any, fake: FakePhotos, item_id: str, prefix: str = "/") -> None:
    page.goto(f"{fake.base_url}{prefix}photo/{item_id}?hl=en")
    page.wait_for_selector(f'c-wiz[data-media-key="{item_id}"] [data-p*="{item_id}"]')
    wait_item_loaded(page)


def test_the_grid_is_virtualised_and_scrolling_reaches_every_item(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    expected = visible_ids(manifest, ALICE)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(fake.base_url + "/?hl=en")
    page.wait_for_selector(ANCHORS)
    seen: list[str] = []
    most = 0
    for _ in range(400):
        state = page.evaluate(COLLECT, "./photo/")
        most = max(most, len(state["ids"]))
        seen += [i for i in state["ids"] if i not in seen]
        if state["end"] and expected[-1] in state["ids"]:
            break
        if state["waiting"]:  # a page of ids is still loading: wait before scrolling on
            page.wait_for_timeout(50)
            continue
        page.keyboard.press("PageDown")
        page.wait_for_timeout(30)
    assert seen == expected  # every item, newest first, none invented
    assert 0 < most < len(expected) / 2  # far anchors were removed while scrolling
    assert state["headers"] > 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"./photo/\"]').length") < 150


def test_arrow_keys_move_focus_and_enter_opens_the_item_in_page(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    expected = visible_ids(manifest, ALICE)
    page.goto(fake.base_url + "/?hl=en")
    page.wait_for_selector(ANCHORS)
    page.evaluate("window.loadedOnce = true")
    focused = None
    for _ in range(10):  # as gphotos-cdp does: press until an item has focus
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(100)
        focused = page.evaluate("document.activeElement.getAttribute('href')")
        if focused:
            break
    assert focused == f"./photo/{expected[0]}"
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"document.activeElement.getAttribute('href') === './photo/{expected[1]}'"
    )
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"document.activeElement.getAttribute('href') === './photo/{expected[0]}'"
    )
    page.keyboard.press("Enter")
    page.wait_for_url(f"{fake.base_url}/photo/{expected[0]}")
    assert page.evaluate("window.loadedOnce") is True  # a history push, not a page load
    page.wait_for_selector(f'c-wiz[data-media-key="{expected[0]}"] [data-p*="{expected[0]}"]')
    page.keyboard.press("Escape")
    page.wait_for_url(fake.base_url + "/")


def test_viewer_arrows_follow_grid_order_and_stop_at_both_ends(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    expected = visible_ids(manifest, ALICE)
    _open_item(page, fake, expected[1])
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/photo/{expected[2]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/photo/{expected[1]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/photo/{expected[0]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(600)
    assert urllib.parse.urlsplit(page.url).path == f"/photo/{expected[0]}"  # nothing newer
    _open_item(page, fake, expected[-1])
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(800)
    assert urllib.parse.urlsplit(page.url).path == f"/photo/{expected[-1]}"  # the oldest end
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/photo/{expected[-2]}")


def test_shift_d_and_the_menu_download_the_original_in_the_top_frame(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    item = next(
        i
        for i in manifest["accounts"][ALICE]["items"]
        if i["state"] == "ok" and i["kind"] == "photo" and not i["edited"]
    )
    _open_item(page, fake, item["id"])
    url = page.url
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    download = caught.value
    assert download.suggested_filename == item["filename"]
    assert _sha(download.path()) == item["files"][0]["sha256"]
    assert page.url == url  # the page stays where it is
    assert download.page == page

    more = f'[data-p*="{item["id"]}"] [aria-label="More options"]'
    page.click(more)
    with page.expect_download() as caught:
        page.click('[role="menuitem"][aria-label="Download - Shift+D"]')
    assert _sha(caught.value.path()) == item["files"][0]["sha256"]
    assert page.locator('[aria-label="Download original"]').count() == 0  # not edited

    page.click(more)
    with page.expect_download() as caught:
        page.locator('[aria-label="Download - Shift+D"]').press("Enter")  # focus, then Enter
    assert _sha(caught.value.path()) == item["files"][0]["sha256"]
    assert page.url == url


def test_live_photos_zip_and_edited_photos_offer_the_original(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    items = items_by_k(manifest, ALICE)
    live = items[1]
    _open_item(page, fake, live["id"])
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert caught.value.suggested_filename == "IMG_0001.zip"
    with zipfile.ZipFile(caught.value.path()) as archive:
        inside = {n: hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist()}
    assert inside == {f["name"]: f["sha256"] for f in live["files"]}
    page.click(f'[data-p*="{live["id"]}"] [aria-label="Open info"]')
    filename = page.locator(f'[data-p*="{live["id"]}"] [aria-label^="Filename:"]')
    assert filename.inner_text() == "IMG_0001.JPG"  # the still's name, though it downloads a zip

    edited = items[10]
    assert edited["edited"]
    _open_item(page, fake, edited["id"])
    # The menu lists "Download original" once the item's data is there (then the title
    # names the file); an edited item's data takes 150-300 ms.
    page.wait_for_function(f"document.title.startsWith({edited['filename']!r})")
    page.click(f'[data-p*="{edited["id"]}"] [aria-label="More options"]')
    with page.expect_download() as caught:
        page.click('[aria-label="Download original"]')
    assert _sha(caught.value.path()) == edited["original"]["sha256"]
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert _sha(caught.value.path()) == edited["files"][0]["sha256"]


def test_the_info_panel_shows_name_date_time_and_zone(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    item = items_by_k(manifest, ALICE)[3]
    _open_item(page, fake, item["id"])
    scope = f'[data-p*="{item["id"]}"]'
    assert page.locator(f'{scope} [aria-label^="Date taken:"]').count() == 0  # closed at first
    page.click(f'{scope} [aria-label="Open info"]')
    taken = dt.datetime.fromisoformat(item["taken"])
    date = page.locator(f'{scope} [aria-label^="Date taken:"]')
    assert date.inner_text() == f"{taken:%b} {taken.day}, {taken.year}"
    assert date.get_attribute("aria-label") == f"Date taken: {taken:%b} {taken.day}, {taken.year}"
    time_text = page.locator(
        f'{scope} [aria-label^="Date taken:"] + div [aria-label^="Time taken:"]'
    )
    hour = taken.hour % 12 or 12
    assert time_text.inner_text() == f"{taken:%a}, {hour}:{taken:%M} {taken:%p}"
    offset = taken.strftime("%z")
    zone = page.locator(f'{scope} [aria-label^="Date taken:"] + div [aria-label^="GMT"]')
    assert zone.inner_text() == f"GMT{offset[:3]}:{offset[3:]}"
    assert page.locator(f'{scope} [aria-label^="Filename:"]').inner_text() == item["filename"]


def test_processing_and_not_found_texts_appear_only_when_shown(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    items = items_by_k(manifest, ALICE)
    processing = items[5]
    assert processing["state"] == "processing"
    response = page.goto(f"{fake.base_url}/photo/{processing['id']}?hl=en")
    assert "Your video will be ready soon" not in response.text()
    wiz = page.locator(f'c-wiz[data-media-key="{processing["id"]}"]')
    wiz.get_by_text("Your video will be ready soon").wait_for()
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    page.keyboard.press("Shift+D")
    page.get_by_role("status").filter(has_text="still processing").wait_for()
    page.wait_for_timeout(700)
    assert downloads == []

    deleted = items[9]
    assert deleted["state"] == "deleted"
    assert deleted["id"] not in visible_ids(manifest, ALICE)


def test_a_deleted_id_loaded_as_a_page_is_an_http_404(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    deleted = items_by_k(manifest, ALICE)[9]
    for path in ("photo", "search/_tra_/photo", "archive/photo"):
        with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
            page.goto(f"{fake.base_url}/{path}/{deleted['id']}?hl=en")
        page.wait_for_timeout(300)  # Chrome draws its own error page a moment later


def test_an_in_app_step_onto_an_item_deleted_meanwhile_shows_not_found(browser: Any) -> None:
    with FakePhotos(items=30, seed=SEED, media_scale=0.02) as small:
        context = signed_in_context(browser, small.base_url, [ALICE])
        page = context.new_page()
        grid = visible_ids(small.manifest(), ALICE)
        _open_item(page, small, grid[0])
        page.keyboard.press("ArrowRight")
        page.wait_for_url(f"**/photo/{grid[1]}")  # the app now knows the next ids
        small.delete(ALICE, grid[2])
        page.keyboard.press("ArrowRight")
        page.get_by_text("No webpage was found for the web address").wait_for()
        context.close()


def test_hostile_and_unicode_names_download_intact(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    items = items_by_k(manifest, ALICE)
    for k in (3, 4, 7, 12):
        item = items[k]
        _open_item(page, fake, item["id"])
        with page.expect_download() as caught:
            page.keyboard.press("Shift+D")
        assert caught.value.suggested_filename  # Chrome's own sanitised name
        assert "/" not in caught.value.suggested_filename
        assert _sha(caught.value.path()) == item["files"][0]["sha256"]
    assert caught.value is not None


def test_labels_follow_the_language_unless_hl_en(browser: Any, fake: FakePhotos) -> None:
    context = signed_in_context(browser, fake.base_url, [ALICE], locale="de-DE")
    page = context.new_page()
    page.goto(fake.base_url + "/")
    page.wait_for_selector(ANCHORS)
    assert page.evaluate("document.documentElement.lang") == "de"
    first = page.locator(ANCHORS).first.get_attribute("aria-label")
    assert first.startswith(("Foto - ", "Video - "))
    assert page.locator('[aria-label^="Alle Fotos vom "]').count() > 0
    assert page.locator('[aria-label^="Google-Konto: Alice Example"]').count() == 1
    page.goto(fake.base_url + "/?hl=en")
    page.wait_for_selector(ANCHORS)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert (
        page.locator(ANCHORS).first.get_attribute("aria-label").startswith(("Photo - ", "Video - "))
    )
    context.close()


def test_the_second_account_is_served_under_u_1(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    bobs = visible_ids(manifest, BOB)
    page.goto(fake.base_url + "/u/1/?hl=en")
    page.wait_for_selector(ANCHORS)
    label = page.locator('[aria-label^="Google Account:"]').get_attribute("aria-label")
    assert label == "Google Account: Bob Example (bob@example.com)"
    page.locator(ANCHORS).first.click()
    page.wait_for_url(f"{fake.base_url}/u/1/photo/{bobs[0]}")
    page.wait_for_selector(f'[data-p*="{bobs[0]}"]')
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    newest = manifest["accounts"][BOB]["items"][0]
    if newest["state"] == "ok" and newest["kind"] != "live":
        assert _sha(caught.value.path()) == newest["files"][0]["sha256"]
    else:
        assert caught.value.suggested_filename


def test_a_revoked_session_leaves_the_app_for_the_about_page(browser: Any) -> None:
    with FakePhotos(items=12, seed=SEED, media_scale=0.02) as small:
        context = signed_in_context(browser, small.base_url, [ALICE])
        page = context.new_page()
        newest = visible_ids(small.manifest(), ALICE)[0]
        page.goto(f"{small.base_url}/photo/{newest}?hl=en")
        page.wait_for_selector(f'[data-p*="{newest}"]')
        small.revoke(ALICE)
        page.keyboard.press("Shift+D")
        page.wait_for_url(small.base_url + "/photos/about/")
        context.close()


def test_downloads_read_back_as_jpeg_with_exif(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    from PIL import ExifTags, Image

    item = items_by_k(manifest, ALICE)[0]
    _open_item(page, fake, item["id"])
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    with open(caught.value.path(), "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
    details = image.getexif().get_ifd(ExifTags.IFD.Exif)
    taken = dt.datetime.fromisoformat(item["taken"])
    assert details[ExifTags.Base.DateTimeOriginal] == taken.strftime("%Y:%m:%d %H:%M:%S")
