"""Issue #10 in real headless Chromium: the info panel's caption, file size, albums and
people (each with a hidden duplicate), the virtualised albums list, album pages with
their own item ids and scroller, downloads from an album, and changes on the next load."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from fakes.photos import FakePhotos
from fakes.photos.i18n import file_size
from fakes.photos.testing import (
    ALICE,
    BOB,
    items_by_k,
    signed_in_context,
    visible_ids,
    wait_item_loaded,
)

SEED = 53
SHOWN = "(e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'"
# The info panel of the item shown, read as a client should (shown elements only) and as
# a careless one would (the first match).
READ_PANEL = (
    """(scope) => {
  const shown = """
    + SHOWN
    + """;
  const panel = document.querySelector(`${scope} aside.info-panel`);
  const all = (selector) => [...panel.querySelectorAll(selector)];
  const lines = (a) => a.innerText.split('\\n');
  const link = (a) => [a.getAttribute('href'), lines(a)];
  const textareas = all('textarea[aria-label="Description"]');
  const albums = all('[role="list"][aria-label="Albums"]');
  const people = all('[role="list"][aria-label="People"]');
  const visibleAlbums = albums.find(shown);
  const visiblePeople = people.find(shown);
  return {
    afterTitle: panel.querySelector('.info-title').nextElementSibling.tagName,
    textareas: textareas.map((t) => ({ value: t.value, shown: shown(t) })),
    size: all('[aria-label^="File size:"]')
      .map((e) => [e.getAttribute('aria-label'), e.textContent]),
    albumLists: albums.map((l) => ({
      shown: shown(l),
      // A hidden element has no rendered lines: its parts, one per line.
      links: [...l.querySelectorAll('a[role="listitem"]')]
        .map((a) => [a.getAttribute('href'), [...a.children].map((c) => c.textContent)]),
    })),
    visibleAlbums: visibleAlbums
      ? [...visibleAlbums.querySelectorAll('a')].map(link) : [],
    peopleLists: people.map((l) => ({ shown: shown(l), count: l.children.length })),
    visiblePeople: visiblePeople
      ? [...visiblePeople.querySelectorAll('a[role="listitem"]')]
          .map((a) => [a.getAttribute('href'), a.getAttribute('aria-label'), a.textContent]) : [],
  };
}"""
)
# Scroll a container to its end, collecting the hrefs of the links it holds.
COLLECT_LINKS = (
    """([containerSelector, linkSelector]) => {
  const shown = """
    + SHOWN
    + """;
  const box = [...document.querySelectorAll(containerSelector)]
    .find((c) => shown(c) && c.querySelector(linkSelector));
  return {
    hrefs: [...box.querySelectorAll(linkSelector)].map((a) => a.getAttribute('href')),
    texts: [...box.querySelectorAll(linkSelector)].map((a) => a.innerText),
    end: box.scrollTop + box.clientHeight >= box.scrollHeight - 1,
    waiting: box.querySelectorAll('.placeholder').length,
    role: box.getAttribute('role'),
    tag: box.tagName,
  };
}"""
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=150, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        yield running


@pytest.fixture
def page(browser: Any, fake: FakePhotos) -> Iterator[Any]:
    context = signed_in_context(browser, fake.base_url, [ALICE, BOB])
    opened = context.new_page()
    opened.set_viewport_size({"width": 1280, "height": 900})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def _albums(manifest: dict[str, Any], email: str = ALICE) -> list[dict[str, Any]]:
    return list(manifest["accounts"][email]["albums"])


def _by_id(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in manifest["accounts"][ALICE]["items"]}


def _sha(path: Any) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _open_info(page: Any, url: str, shown_id: str) -> dict[str, Any]:
    page.goto(url)
    scope = f'c-wiz[data-media-key="{shown_id}"]'
    page.wait_for_selector(f'{scope} [data-p*="{shown_id}"]')
    page.click(f'{scope} [aria-label="Open info"]')
    page.wait_for_selector(f'{scope} textarea[aria-label="Description"]:visible')
    return dict(page.evaluate(READ_PANEL, scope))


def _scroll_links(page: Any, container: str, link: str) -> tuple[list[str], list[str], Any]:
    page.wait_for_selector(f"{link}:visible")
    seen: list[str] = []
    texts: dict[str, str] = {}
    state: Any = None
    for _ in range(400):
        state = page.evaluate(COLLECT_LINKS, [container, link])
        for href, text in zip(state["hrefs"], state["texts"], strict=True):
            if href not in texts:
                seen.append(href)
                texts[href] = text
        if state["waiting"]:
            page.wait_for_timeout(50)
            continue
        if state["end"]:
            page.wait_for_timeout(150)  # the last rows render after the last scroll
            state = page.evaluate(COLLECT_LINKS, [container, link])
            for href, text in zip(state["hrefs"], state["texts"], strict=True):
                if href not in texts:
                    seen.append(href)
                    texts[href] = text
            break
        page.keyboard.press("PageDown")
        page.wait_for_timeout(40)
    return seen, [texts[h] for h in seen], state


def _album_href(album: dict[str, Any], in_panel: bool) -> str:
    if album["shared"]:
        return f"./share/{album['share_id']}" + ("" if in_panel else f"?key={album['key']}")
    return f"./album/{album['id']}"


def _count(album: dict[str, Any]) -> str:
    count = len(album["items"])
    return "1 item" if count == 1 else f"{count} items"


# --- the info panel ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 2, 3])
def test_the_info_panel_shows_the_exact_caption_in_the_visible_textarea(
    page: Any, fake: FakePhotos, k: int
) -> None:
    item = items_by_k(fake.manifest(), ALICE)[k]
    found = _open_info(page, f"{fake.base_url}/photo/{item['id']}?hl=en", item["id"])
    hidden, shown = found["textareas"]
    assert found["afterTitle"] == "TEXTAREA"
    assert not hidden["shown"] and shown["shown"]
    assert shown["value"] == item["caption"] and hidden["value"] != item["caption"]
    if k == 3:
        assert "\n\n" in shown["value"] and '"' in shown["value"]
    if k == 2:
        assert all(c in shown["value"] for c in "\"'<&")


def test_the_info_panel_lists_size_albums_and_people(page: Any, fake: FakePhotos) -> None:
    manifest = fake.manifest()
    item = items_by_k(manifest, ALICE)[0]  # in four albums, one shared; two people
    albums = {a["id"]: a for a in _albums(manifest)}
    found = _open_info(page, f"{fake.base_url}/photo/{item['id']}?hl=en", item["id"])
    size = file_size("en", item["size"])
    assert found["size"] == [[f"File size: {size}", size]]
    expected = [
        [_album_href(albums[i], True), [albums[i]["title"], _count(albums[i])]]
        for i in item["albums"]
    ]
    shared = next(a for a in albums.values() if a["shared"])
    for entry in expected:
        if entry[0] == _album_href(shared, True):
            entry[1][1] += " · Shared"
    assert found["visibleAlbums"] == expected and len(expected) == 4
    hidden, visible = found["albumLists"]
    assert not hidden["shown"] and visible["shown"]
    assert hidden["links"][0] not in expected and hidden["links"][1:] == expected
    assert [name for _, name, _ in found["visiblePeople"]] == item["people"]
    assert all(href.startswith("./search/AF1Qip") for href, _, _ in found["visiblePeople"])
    assert all(name == text for _, name, text in found["visiblePeople"])
    assert [p["shown"] for p in found["peopleLists"]] == [False, True]


def test_an_item_without_caption_albums_or_people_has_only_hidden_ones(
    page: Any, fake: FakePhotos
) -> None:
    manifest = fake.manifest()
    shown_ids = set(visible_ids(manifest, ALICE))
    item = next(
        i
        for i in items_by_k(manifest, ALICE)[14:]
        if not i["caption"] and not i["albums"] and not i["people"] and i["id"] in shown_ids
    )
    found = _open_info(page, f"{fake.base_url}/photo/{item['id']}?hl=en", item["id"])
    assert [t["shown"] for t in found["textareas"]] == [False, True]
    assert found["textareas"][1]["value"] == "" and found["textareas"][0]["value"]
    assert found["visibleAlbums"] == [] and found["visiblePeople"] == []
    assert [a["shown"] for a in found["albumLists"]] == [False]  # a careless read finds one
    assert found["albumLists"][0]["links"]
    assert [p["shown"] for p in found["peopleLists"]] == [False]


def test_german_labels(page: Any, fake: FakePhotos) -> None:
    item = items_by_k(fake.manifest(), ALICE)[0]
    scope = f'c-wiz[data-media-key="{item["id"]}"]'
    page.goto(f"{fake.base_url}/photo/{item['id']}?hl=de")
    page.click(f'{scope} [aria-label="Info öffnen"]')
    page.wait_for_selector(f'{scope} textarea[aria-label="Beschreibung"]:visible')
    assert page.locator(f'{scope} [aria-label^="Dateigröße: "]').count() == 1
    assert page.locator(f'{scope} [role="list"][aria-label="Alben"]:visible').count() == 1
    assert page.locator(f'{scope} [role="list"][aria-label="Personen"]:visible').count() == 1


# --- the albums list ---------------------------------------------------------------------


def test_the_albums_list_is_virtualised_with_many_albums(browser: Any) -> None:
    with FakePhotos(items=120, seed=SEED, media_scale=0.02, albums=100) as many:
        albums = _albums(many.manifest())
        context = signed_in_context(browser, many.base_url, [ALICE])
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(many.base_url + "/albums?hl=en")
        page.wait_for_selector("a.album-card")
        assert page.title() == "Albums - Google Photos"
        first = page.evaluate(
            COLLECT_LINKS, ['[role="main"]', 'a[href*="album/"], a[href*="share/"]']
        )
        assert first["role"] == "main" and 0 < len(first["hrefs"]) < len(albums)
        hrefs, texts, _ = _scroll_links(
            page, '[role="main"]', 'a[href*="album/"], a[href*="share/"]'
        )
        assert hrefs == [_album_href(a, False) for a in albums]
        assert texts == [f"{a['title']}\n{_count(a)}" for a in albums]
        # Far from the top, the first cards are gone from the page.
        assert page.locator(f'a[href="{hrefs[0]}"]').count() == 0
        # Cards are focusable links: Home, then the keyboard, then Enter opens one.
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.getAttribute('href')") == hrefs[1]
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/album/{albums[1]['id']}")
        assert page.title() == f"{albums[1]['title']} - Google Photos"
        context.close()


def test_album_cards_open_the_album_page(page: Any, fake: FakePhotos) -> None:
    albums = _albums(fake.manifest())
    page.goto(fake.base_url + "/albums?hl=en")
    page.wait_for_selector("a.album-card")  # the list arrives a moment after the page
    assert page.locator("a.album-card").count() == len(albums)  # few albums: all in view
    page.locator(f'a[href="{_album_href(albums[4], False)}"]').click()
    page.wait_for_url(f"{fake.base_url}/album/{albums[4]['id']}")
    assert page.title() == "Berlin / München 2018 - Google Photos"
    # Bob's albums under /u/1/.
    bobs = _albums(fake.manifest(), BOB)
    page.goto(fake.base_url + "/u/1/albums?hl=en")
    page.locator(f'a[href="{_album_href(bobs[0], False)}"]').click()
    page.wait_for_url(f"{fake.base_url}/u/1/album/{bobs[0]['id']}")


# --- album pages -------------------------------------------------------------------------


def test_an_album_scrolls_in_a_c_wiz_and_uses_its_own_ids(page: Any, fake: FakePhotos) -> None:
    manifest = fake.manifest()
    album = max(_albums(manifest), key=lambda a: len(a["items"]))
    assert len(album["items"]) >= 8
    page.set_viewport_size({"width": 800, "height": 600})
    page.goto(f"{fake.base_url}/album/{album['id']}?hl=en")
    prefix = f"./album/{album['id']}/photo/"
    page.wait_for_selector(f'a[href^="{prefix}"]:visible')
    shape = page.evaluate(
        """(prefix) => {
      const shown = """
        + SHOWN
        + """;
      const first = document.querySelector('c-wiz c-wiz c-wiz');
      const live = [...document.querySelectorAll('c-wiz c-wiz c-wiz')]
        .find((c) => shown(c) && c.querySelector('a[href*="/photo/"]'));
      const mains = [...document.querySelectorAll('[role="main"]')];
      return {
        firstHidden: !shown(first) && first.querySelectorAll('a[href*="/photo/"]').length > 0,
        firstHrefs: [...first.querySelectorAll('a')].map((a) => a.getAttribute('href')),
        liveScrolls: live.scrollHeight > live.clientHeight && getComputedStyle(live).overflowY,
        liveHasItems: live.querySelectorAll(`a[href^="${prefix}"]`).length,
        shownMains: mains.filter(shown).length,
      };
    }""",
        prefix,
    )
    assert shape["firstHidden"] and not any(h.startswith(prefix) for h in shape["firstHrefs"])
    assert shape["liveScrolls"] == "auto" and shape["liveHasItems"] > 0
    assert shape["shownMains"] == 0  # not [role="main"]
    hrefs, _, state = _scroll_links(page, "c-wiz c-wiz c-wiz", f'a[href^="{prefix}"]')
    assert state["tag"] == "C-WIZ" and state["role"] is None
    assert [h[len(prefix) :] for h in hrefs] == [e["album_item_id"] for e in album["items"]]
    library_ids = set(_by_id(manifest))
    assert not {e["album_item_id"] for e in album["items"]} & library_ids


def test_album_items_step_with_arrows_and_download_the_library_bytes(
    page: Any, fake: FakePhotos
) -> None:
    manifest = fake.manifest()
    items = _by_id(manifest)
    album = next(
        a
        for a in _albums(manifest)
        if not a["shared"]
        and len(a["items"]) >= 3
        and all(
            items[e["library_id"]]["state"] == "ok" and items[e["library_id"]]["kind"] == "photo"
            for e in a["items"][:3]
        )
    )
    entries = album["items"]
    page.goto(f"{fake.base_url}/album/{album['id']}?hl=en")
    page.locator(f'a[href="./album/{album["id"]}/photo/{entries[0]["album_item_id"]}"]').click()
    page.wait_for_url(f"**/album/{album['id']}/photo/{entries[0]['album_item_id']}")
    wait_item_loaded(page)
    scope = f'c-wiz[data-media-key="{entries[0]["album_item_id"]}"]'
    page.click(f'{scope} [aria-label="Open info"]')
    page.wait_for_selector(f'{scope} textarea[aria-label="Description"]:visible')
    panel = page.evaluate(READ_PANEL, scope)
    library = items[entries[0]["library_id"]]
    assert panel["textareas"][1]["value"] == library["caption"]
    assert page.inner_text(f'{scope} [aria-label^="Filename:"]') == library["filename"]
    assert [h for h, _ in panel["visibleAlbums"]] == [
        _album_href(next(a for a in _albums(manifest) if a["id"] == i), True)
        for i in library["albums"]
    ]
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert caught.value.suggested_filename == library["filename"]
    assert _sha(caught.value.path()) == library["files"][0]["sha256"]
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/album/{album['id']}/photo/{entries[1]['album_item_id']}")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/album/{album['id']}/photo/{entries[2]['album_item_id']}")
    page.wait_for_function(
        f"document.title === {items[entries[2]['library_id']]['filename'] + ' - Google Photos'!r}"
    )
    page.click(f'[data-p*="{entries[2]["album_item_id"]}"] [aria-label="More options"]')
    with page.expect_download() as caught:
        page.click('[aria-label="Download - Shift+D"]')
    assert _sha(caught.value.path()) == items[entries[2]["library_id"]]["files"][0]["sha256"]
    assert fake.downloads.get(entries[2]["album_item_id"]) == 1
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/album/{album['id']}/photo/{entries[1]['album_item_id']}")
    page.keyboard.press("Escape")
    page.wait_for_url(f"{fake.base_url}/album/{album['id']}")
    assert page.title() == f"{album['title']} - Google Photos"


def test_a_shared_album_holds_others_items_that_are_not_in_the_library(
    page: Any, fake: FakePhotos
) -> None:
    manifest = fake.manifest()
    shared = next(a for a in _albums(manifest) if a["shared"])
    key = shared["key"]
    theirs = [e for e in shared["items"] if e["library_id"] is None]
    photo = next(e for e in theirs if e["kind"] == "photo")
    page.goto(f"{fake.base_url}/share/{shared['share_id']}?key={key}&hl=en")
    link = f'a[href="./share/{shared["share_id"]}/photo/{photo["album_item_id"]}?key={key}"]'
    page.locator(link).click()
    page.wait_for_url(f"**/share/{shared['share_id']}/photo/{photo['album_item_id']}?key={key}")
    page.wait_for_function(f"document.title === {photo['filename'] + ' - Google Photos'!r}")
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert caught.value.suggested_filename == photo["filename"]
    assert _sha(caught.value.path()) == photo["files"][0]["sha256"]
    # None of them is in the library grid: scroll it all.
    page.goto(fake.base_url + "/?hl=en")
    grid, labels, _ = _scroll_links(page, '[role="main"]', 'a[href^="./photo/"]')
    assert [h[len("./photo/") :] for h in grid] == visible_ids(manifest, ALICE)
    assert not {e["album_item_id"] for e in theirs} & {h[len("./photo/") :] for h in grid}
    assert len(labels) == len(grid)


# --- changes show on the next page load ------------------------------------------------


def test_changes_show_on_the_next_load(browser: Any) -> None:
    with FakePhotos(items=60, seed=SEED, media_scale=0.02) as small:
        context = signed_in_context(browser, small.base_url, [ALICE])
        page = context.new_page()
        manifest = small.manifest()
        item = items_by_k(manifest, ALICE)[0]
        albums = _albums(manifest)
        url = f"{small.base_url}/photo/{item['id']}?hl=en"

        small.set_caption(ALICE, item["id"], "Neu:\n\"eins\" & 'zwei' <drei>")
        small.set_people(ALICE, item["id"], ["Ana García"])
        small.rename_album(ALICE, albums[0]["id"], "Renamed / ✓")
        small.delete_album(ALICE, albums[1]["id"])
        small.remove_from_album(ALICE, albums[6]["id"], item["id"])
        found = _open_info(page, url, item["id"])
        assert found["textareas"][1]["value"] == "Neu:\n\"eins\" & 'zwei' <drei>"
        assert [name for _, name, _ in found["visiblePeople"]] == ["Ana García"]
        titles = [lines[0] for _, lines in found["visibleAlbums"]]
        assert "Renamed / ✓" in titles and albums[6]["title"] not in titles
        assert len(titles) == len(item["albums"]) - 2

        page.goto(small.base_url + "/albums?hl=en")
        page.wait_for_selector("a.album-card")
        cards = page.evaluate(
            "[...document.querySelectorAll('a.album-card')].map(a => a.innerText)"
        )
        assert cards[0].startswith("Renamed / ✓\n") and len(cards) == len(albums) - 1
        assert page.locator(f'a[href="./album/{albums[1]["id"]}"]').count() == 0

        # The deleted album is the real 404: page.goto fails on it.
        with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
            page.goto(f"{small.base_url}/album/{albums[1]['id']}?hl=en")
        fresh = context.new_page()
        removed = next(e for e in albums[6]["items"] if e["library_id"] == item["id"])
        fresh.goto(f"{small.base_url}/album/{albums[6]['id']}?hl=en")
        fresh.wait_for_selector(f'a[href^="./album/{albums[6]["id"]}/photo/"]:visible')
        assert fresh.locator(f'a[href*="{removed["album_item_id"]}"]').count() == 0
        with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
            fresh.goto(f"{small.base_url}/album/{albums[6]['id']}/photo/{removed['album_item_id']}")
        context.close()


def test_an_album_viewer_url_loads_on_its_own(page: Any, fake: FakePhotos) -> None:
    album = _albums(fake.manifest())[2]
    entry = album["items"][1]
    path = f"/album/{album['id']}/photo/{entry['album_item_id']}"
    page.goto(f"{fake.base_url}{path}?hl=en")
    wait_item_loaded(page)
    assert page.title() == f"{entry['filename']} - Google Photos"
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/album/{album['id']}/photo/{album['items'][2]['album_item_id']}")
    assert urllib.parse.urlsplit(page.url).path.startswith(f"/album/{album['id']}/photo/")
