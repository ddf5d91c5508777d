"""Issue #15 in real headless Chromium: each page change breaks the one thing it names
and leaves its neighbours working; foreign Recently added ids open nothing; clearing a
change restores the page."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from fakes.photos import FakePhotos
from fakes.photos.testing import (
    ALICE,
    BOB,
    archived_ids,
    recent_ids,
    signed_in_context,
    visible_ids,
)

SEED = 47


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=200, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
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
    fake.change_page(None)
    fake.foreign_recent(False)
    assert errors == []


def _photo(manifest: dict[str, Any]) -> dict[str, Any]:
    """A plain photo that downloads (not edited, not processing, in the grid)."""
    shown = set(visible_ids(manifest, ALICE)[:60])
    return next(
        i
        for i in manifest["accounts"][ALICE]["items"]
        if i["id"] in shown and i["state"] == "ok" and i["kind"] == "photo" and not i["edited"]
    )


def _open(page: Any, fake: FakePhotos, item_id: str) -> str:
    page.goto(f"{fake.base_url}/photo/{item_id}?hl=en")
    scope = f'c-wiz[data-media-key="{item_id}"] [data-p*="{item_id}"]'
    page.wait_for_selector(scope)
    page.wait_for_function("!document.title.startsWith('Photos')")  # the item's data is in
    return scope


def _sha(path: Any) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _download_calls(fake: FakePhotos) -> int:
    return sum(1 for r in fake.requests if r["kind"] == "rpc:pLFTfd")


def test_more_options_renamed_but_shift_d_still_downloads(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    item = _photo(manifest)
    fake.change_page("more-options")
    scope = _open(page, fake, item["id"])
    assert page.locator('[aria-label="More options"]').count() == 0
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert _sha(caught.value.path()) == item["files"][0]["sha256"]
    # The renamed button still opens the menu with the contract's entry.
    page.click(f'{scope} [aria-label="More actions"]')
    with page.expect_download() as caught:
        page.click('[role="menuitem"][aria-label="Download - Shift+D"]')
    assert caught.value.suggested_filename == item["filename"]

    fake.change_page(None)
    scope = _open(page, fake, item["id"])
    assert page.locator(f'{scope} [aria-label="More options"]').count() == 1
    assert page.locator('[aria-label="More actions"]').count() == 0


def test_info_labels_changed_but_values_still_shown(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    item = _photo(manifest)
    fake.change_page("info-labels")
    scope = _open(page, fake, item["id"])
    page.click(f'{scope} [aria-label="Open info"]')
    name = page.locator(f'{scope} [aria-label^="File name:"]')
    assert name.inner_text() == item["filename"]
    assert page.locator(f'{scope} [aria-label^="Taken on:"] + div [aria-label^="Time:"]').count()
    zone = page.locator(f'{scope} [aria-label^="Taken on:"] + div [aria-label^="GMT"]')
    assert zone.inner_text().startswith("GMT")  # the neighbour the contract also names
    for old in ("Filename:", "Date taken:", "Time taken:"):
        assert page.locator(f'[aria-label^="{old}"]').count() == 0, old  # not even hidden
    assert page.locator(f'{scope} [aria-label="More options"]').count() == 1

    fake.change_page(None)
    scope = _open(page, fake, item["id"])
    page.click(f'{scope} [aria-label="Open info"]')
    assert page.locator(f'{scope} [aria-label^="Filename:"]').inner_text() == item["filename"]


@pytest.mark.parametrize(
    ("path", "expected_ids"),
    [("/", visible_ids), ("/search/_tra_", recent_ids), ("/archive", archived_ids)],
)
def test_grid_anchors_changed_in_every_grid_but_viewer_urls_work(
    page: Any, fake: FakePhotos, manifest: dict[str, Any], path: str, expected_ids: Any
) -> None:
    expected = expected_ids(manifest, ALICE)
    fake.change_page("grid-anchors")
    page.goto(f"{fake.base_url}{path}?hl=en")
    first = page.locator('[role="main"] [role="link"][data-id]:visible').first
    first.wait_for()
    assert first.get_attribute("data-id") == expected[0]
    assert page.locator('a[href*="/photo/"]').count() == 0  # hidden stale copies too
    assert first.get_attribute("aria-label").startswith(("Photo - ", "Video - "))
    # The keyboard and the viewer URLs keep working.
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"document.activeElement && document.activeElement.dataset.id === {expected[0]!r}"
    )
    page.keyboard.press("Enter")
    view = path.strip("/")
    viewer = f"{fake.base_url}/{view + '/' if view else ''}photo/{expected[0]}"
    page.wait_for_url(viewer)
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/photo/{expected[1]}")
    page.goto(f"{viewer}?hl=en")
    page.wait_for_selector(f'[data-p*="{expected[0]}"]')

    fake.change_page(None)
    page.goto(f"{fake.base_url}{path}?hl=en")
    prefix = f"./{view + '/' if view else ''}photo/"
    anchor = page.locator(f'a[href^="{prefix}"]:visible').first
    assert anchor.get_attribute("href") == f"{prefix}{expected[0]}"
    assert page.locator("[data-id]").count() == 0


def test_grid_anchors_changed_a_click_still_opens_the_item(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    expected = visible_ids(manifest, ALICE)
    fake.change_page("grid-anchors")
    page.goto(f"{fake.base_url}/?hl=en")
    page.locator(f'[data-id="{expected[2]}"]:visible').click()
    page.wait_for_url(f"{fake.base_url}/photo/{expected[2]}")


def test_download_changed_neither_contract_route_downloads_but_shift_s_does(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    item = _photo(manifest)
    fake.change_page("download")
    scope = _open(page, fake, item["id"])
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    before = _download_calls(fake)
    page.keyboard.press("Shift+D")
    page.click(f'{scope} [aria-label="More options"]')  # the neighbour still works
    page.wait_for_selector('[role="menuitem"]')
    assert page.locator('[aria-label="Download - Shift+D"]').count() == 0
    entry = page.locator('[role="menuitem"][aria-label="Download - Shift+S"]')
    assert entry.inner_text().splitlines() == ["Download", "Shift+S"]
    page.keyboard.press("Escape")
    page.wait_for_timeout(700)
    assert downloads == [] and _download_calls(fake) == before
    with page.expect_download() as caught:
        page.keyboard.press("Shift+S")
    assert _sha(caught.value.path()) == item["files"][0]["sha256"]
    page.click(f'{scope} [aria-label="More options"]')
    with page.expect_download() as caught:
        entry.click()
    assert caught.value.suggested_filename == item["filename"]

    fake.change_page(None)
    _open(page, fake, item["id"])
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert _sha(caught.value.path()) == item["files"][0]["sha256"]


def test_recently_added_removed_raises_on_goto_while_the_grid_works(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    fake.change_page("recently-added")
    with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
        page.goto(f"{fake.base_url}/search/_tra_?hl=en")
    page.wait_for_timeout(300)  # let Chrome's own error page settle
    fresh = page.context.new_page()
    fresh.goto(f"{fake.base_url}/archive?hl=en")
    first = archived_ids(manifest, ALICE)[0]
    fresh.wait_for_selector(f'a[href="./archive/photo/{first}"]:visible')
    fake.change_page(None)
    fresh.goto(f"{fake.base_url}/search/_tra_?hl=en")
    fresh.wait_for_selector('a[href^="./search/_tra_/photo/"]:visible')


def test_foreign_recent_ids_show_in_order_and_open_nothing(
    page: Any, fake: FakePhotos, manifest: dict[str, Any]
) -> None:
    expected = [fake.foreign_id(i) for i in recent_ids(manifest, ALICE)]
    fake.foreign_recent(True)
    page.goto(f"{fake.base_url}/search/_tra_?hl=en")
    prefix = "./search/_tra_/photo/"
    page.wait_for_selector(f'a[href^="{prefix}"]:visible')
    hrefs = page.eval_on_selector_all(
        f'.grid-page:not(.stale-page) a[href^="{prefix}"]',
        "all => all.map(a => a.getAttribute('href'))",
    )
    ids = [h[len(prefix) :] for h in hrefs]
    assert len(ids) >= 10 and ids == expected[: len(ids)]
    # The library grid is unchanged.
    library = visible_ids(manifest, ALICE)
    other = page.context.new_page()
    other.goto(f"{fake.base_url}/?hl=en")
    other.wait_for_selector(f'a[href="./photo/{library[0]}"]:visible')
    # A foreign id opens nothing: in the app, the not-found page; as a page load, a 404.
    page.locator(f'a[href="{prefix}{ids[0]}"]').click()
    page.get_by_text("HTTP ERROR 404").wait_for()
    with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
        other.goto(f"{fake.base_url}/search/_tra_/photo/{ids[1]}?hl=en")
    assert urllib.parse.urlsplit(page.url).path == f"/search/_tra_/photo/{ids[0]}"
