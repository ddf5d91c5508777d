"""The hard cases of issue #9 in real headless Chromium: Recently added and the archive as
grids, hidden stale copies, the modal dialog, the late "Download original" entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.photos import FakePhotos
from fakes.photos.testing import (
    ALICE,
    BOB,
    archived_ids,
    items_by_k,
    recent_ids,
    signed_in_context,
    visible_ids,
    wait_item_loaded,
)

SEED = 43
VISIBLE_MAIN = """[...document.querySelectorAll('[role="main"]')]
  .find((m) => m.checkVisibility({ visibilityProperty: true }))"""
COLLECT = (
    """(prefix) => {
  const main = """
    + VISIBLE_MAIN
    + """;
  return {
    ids: [...main.querySelectorAll(`a[href^="${prefix}"]`)]
      .map(a => a.getAttribute('href').slice(prefix.length)),
    end: main.scrollTop + main.clientHeight >= main.scrollHeight - 1,
    waiting: main.querySelectorAll('.placeholder').length,
  };
}"""
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePhotos]:
    with FakePhotos(items=300, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as running:
        running.upload_old(ALICE, dt.datetime(2001, 5, 1, 10, 0, tzinfo=dt.timezone.utc), 2)
        yield running


@pytest.fixture
def page(browser: Any, fake: FakePhotos) -> Iterator[Any]:
    context = signed_in_context(browser, fake.base_url, [ALICE, BOB])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def _scroll_all(page: Any, prefix: str, last: str) -> list[str]:
    page.wait_for_selector(f'a[href^="{prefix}"]:visible')
    seen: list[str] = []
    for _ in range(600):
        state = page.evaluate(COLLECT, prefix)
        seen += [i for i in state["ids"] if i not in seen]
        if state["end"] and last in state["ids"]:
            break
        if state["waiting"]:
            page.wait_for_timeout(50)
            continue
        page.keyboard.press("PageDown")
        page.wait_for_timeout(30)
    return seen


def _path(page: Any) -> str:
    return urllib.parse.urlsplit(page.url).path


def test_recently_added_is_a_grid_in_upload_order_with_its_own_viewer(
    page: Any, fake: FakePhotos
) -> None:
    expected = recent_ids(fake.manifest(), ALICE)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(fake.base_url + "/search/_tra_?hl=en")
    assert _scroll_all(page, "./search/_tra_/photo/", expected[-1]) == expected
    page.goto(fake.base_url + "/search/_tra_?hl=en")
    first = page.locator('a[href^="./search/_tra_/photo/"]:visible').first
    assert first.get_attribute("aria-label").startswith(("Photo - ", "Video - "))
    first.click()
    page.wait_for_url(f"{fake.base_url}/search/_tra_/photo/{expected[0]}")
    page.wait_for_selector(f'c-wiz[data-media-key="{expected[0]}"] [data-p*="{expected[0]}"]')
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/search/_tra_/photo/{expected[1]}")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/search/_tra_/photo/{expected[2]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/search/_tra_/photo/{expected[1]}")
    page.keyboard.press("Escape")
    page.wait_for_url(f"{fake.base_url}/search/_tra_")
    # A page load of a viewer URL steps in upload order too.
    page.goto(f"{fake.base_url}/search/_tra_/photo/{expected[5]}?hl=en")
    page.wait_for_selector(f'[data-p*="{expected[5]}"]')
    wait_item_loaded(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/search/_tra_/photo/{expected[6]}")


def test_recently_added_under_u_1_resolves_against_the_account_prefix(
    page: Any, fake: FakePhotos
) -> None:
    bobs = recent_ids(fake.manifest(), BOB)
    page.goto(fake.base_url + "/u/1/search/_tra_?hl=en")
    page.locator('a[href^="./search/_tra_/photo/"]:visible').first.click()
    page.wait_for_url(f"{fake.base_url}/u/1/search/_tra_/photo/{bobs[0]}")


def test_the_archive_is_a_grid_of_archived_items_only(page: Any, fake: FakePhotos) -> None:
    manifest = fake.manifest()
    expected = archived_ids(manifest, ALICE)
    assert len(expected) >= 3
    page.goto(fake.base_url + "/archive?hl=en")
    assert _scroll_all(page, "./archive/photo/", expected[-1]) == expected
    assert not set(expected) & set(visible_ids(manifest, ALICE))
    page.goto(fake.base_url + "/archive?hl=en")
    page.locator('a[href^="./archive/photo/"]:visible').first.click()
    page.wait_for_url(f"{fake.base_url}/archive/photo/{expected[0]}")
    page.wait_for_selector(f'[data-p*="{expected[0]}"]')
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/archive/photo/{expected[1]}")
    # The same id opens in the library's viewer too.
    page.goto(f"{fake.base_url}/photo/{expected[0]}?hl=en")
    page.wait_for_selector(f'c-wiz[data-media-key="{expected[0]}"] [data-p*="{expected[0]}"]')


def test_backdated_and_old_uploads_are_deep_in_the_grid(page: Any, fake: FakePhotos) -> None:
    manifest = fake.manifest()
    grid = visible_ids(manifest, ALICE)
    old = [i["id"] for i in manifest["accounts"][ALICE]["items"] if i["k"] is None]
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(fake.base_url + "/?hl=en")
    seen = _scroll_all(page, "./photo/", grid[-1])
    assert seen == grid
    assert all(seen.index(i) > len(seen) // 2 for i in old)
    assert recent_ids(manifest, ALICE)[:2] == old


def test_hidden_stale_copies_come_first_in_the_document(page: Any, fake: FakePhotos) -> None:
    item = items_by_k(fake.manifest(), ALICE)[0]
    page.goto(f"{fake.base_url}/photo/{item['id']}?hl=en")
    scope = f'c-wiz[data-media-key="{item["id"]}"]'
    page.click(f'{scope} [aria-label="Open info"]')
    page.wait_for_selector(f'{scope} [aria-label^="Filename:"]')
    found = page.evaluate(
        """(scope) => {
      const mains = [...document.querySelectorAll('[role="main"]')];
      const first = document.querySelector('[role="main"]');
      const hiddenBy = (node) => {
        for (let n = node; n; n = n.parentElement) {
          const style = getComputedStyle(n);
          if (style.display === 'none') return 'display';
        }
        return getComputedStyle(node).visibility === 'hidden' ? 'visibility' : null;
      };
      const live = document.querySelector(scope);
      const fields = {};
      for (const name of ['Filename:', 'Date taken:', 'Time taken:']) {
        const all = [...document.querySelectorAll(`[aria-label^="${name}"]`)];
        fields[name] = {
          count: all.length,
          firstHidden: hiddenBy(all[0]),
          firstInLive: live.contains(all[0]),
          firstText: all[0].textContent,
          liveText: live.querySelector(`[aria-label^="${name}"]`).textContent,
        };
      }
      return {
        mains: mains.length,
        firstHidden: hiddenBy(first),
        staleAnchors: first.querySelectorAll('a[href*="/photo/"]').length,
        fields,
      };
    }""",
        scope,
    )
    assert found["mains"] >= 1 and found["firstHidden"] == "visibility"
    assert found["staleAnchors"] >= 24
    for name, field in found["fields"].items():
        assert field["count"] >= 2, name
        assert field["firstHidden"] == "display" and not field["firstInLive"], name
    assert found["fields"]["Filename:"]["liveText"] == item["filename"]
    page.goto(fake.base_url + "/?hl=en")
    page.wait_for_selector('a[href^="./photo/"]:visible')
    grid = page.evaluate(
        """() => {
      const mains = [...document.querySelectorAll('[role="main"]')];
      const shown = mains.filter((m) => m.checkVisibility({ visibilityProperty: true }));
      return { count: mains.length, shown: shown.length, live: mains.indexOf(shown[0]) };
    }"""
    )
    assert grid["count"] >= 2 and grid["shown"] == 1 and grid["live"] >= 1
    assert found["fields"]["Date taken:"]["firstText"] != found["fields"]["Date taken:"]["liveText"]


def test_no_stale_copies_when_switched_off(browser: Any) -> None:
    with FakePhotos(items=20, seed=SEED, media_scale=0.02, stale_copies=False) as plain:
        context = signed_in_context(browser, plain.base_url, [ALICE])
        page = context.new_page()
        page.goto(plain.base_url + "/?hl=en")
        page.wait_for_selector('a[href^="./photo/"]')
        assert page.evaluate("document.querySelectorAll('[role=\"main\"]').length") == 1
        assert page.evaluate("document.querySelector('[role=\"main\"]').checkVisibility()")
        context.close()


def test_the_dialog_blocks_the_keys_until_cancelled_and_counts_a_confirm(browser: Any) -> None:
    with FakePhotos(items=20, seed=SEED, media_scale=0.02) as small:
        context = signed_in_context(browser, small.base_url, [ALICE])
        page = context.new_page()
        newest = visible_ids(small.manifest(), ALICE)[0]
        small.dialog(ALICE, "storage-full")
        page.goto(f"{small.base_url}/photo/{newest}?hl=en")
        page.wait_for_selector(f'[data-p*="{newest}"]')
        dialog = page.locator('[role="dialog"][aria-modal="true"]')
        dialog.wait_for()
        assert "storage" in dialog.inner_text().lower()
        downloads: list[Any] = []
        page.on("download", lambda download: downloads.append(download))
        page.keyboard.press("Shift+D")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(700)
        assert downloads == [] and _path(page) == f"/photo/{newest}"
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached")
        with page.expect_download():
            page.keyboard.press("Shift+D")
        _wait_for(lambda: small.dialog_cancels == 1)
        page.goto(small.base_url + "/?hl=en")
        page.wait_for_selector('a[href^="./photo/"]:visible')
        page.wait_for_timeout(600)
        assert dialog.count() == 0  # cancelled once: gone for good

        small.dialog(ALICE, "storage-full")
        page.goto(small.base_url + "/?hl=en")
        page.locator('[data-mdc-dialog-action="IbE0S"]').wait_for()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        assert page.evaluate("document.activeElement.getAttribute('href')") is None
        page.click('[data-mdc-dialog-action="EBS5u"]')
        page.wait_for_url(small.base_url + "/storage")
        assert small.dialog_confirms == 1 and small.dialog_cancels == 1
        page.goto(small.base_url + "/?hl=en")
        page.locator('[data-mdc-dialog-action="IbE0S"]').click()  # still there: not cancelled
        dialog.wait_for(state="detached")
        _wait_for(lambda: small.dialog_cancels == 2)
        context.close()


def _wait_for(condition: Any, seconds: float = 5) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_download_original_appears_only_once_the_item_has_loaded(
    page: Any, fake: FakePhotos
) -> None:
    edited = items_by_k(fake.manifest(), ALICE)[10]
    more = f'[data-p*="{edited["id"]}"] [aria-label="More options"]'
    page.goto(f"{fake.base_url}/photo/{edited['id']}?hl=en", wait_until="commit")
    early = page.evaluate(
        """async (more) => {
      let button = null;
      while (!(button = document.querySelector(more))) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      button.click();  // as soon as the viewer shows: the item's data is not there yet
      return [...document.querySelectorAll('[role="menuitem"]')]
        .map((item) => item.getAttribute('aria-label'));
    }""",
        more,
    )
    assert "Download - Shift+D" in early and "Download original" not in early
    page.keyboard.press("Escape")
    page.wait_for_function(f"document.title.startsWith({edited['filename']!r})")
    page.click(more)
    before = fake.original_downloads.get(edited["id"], 0)
    with page.expect_download() as caught:
        page.click('[aria-label="Download original"]')
    assert caught.value.suggested_filename == edited["filename"]
    with open(caught.value.path(), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == edited["original"]["sha256"]
    _wait_for(lambda: fake.original_downloads.get(edited["id"], 0) == before + 1)
    with page.expect_download() as caught:
        page.keyboard.press("Shift+D")
    assert caught.value.suggested_filename == edited["filename"]  # same name, edited bytes
    with open(caught.value.path(), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == edited["files"][0]["sha256"]
