"""Profiles made through the fake's sign-in work in a fresh headless Chromium."""

from __future__ import annotations

import stat
from pathlib import Path

from playwright.sync_api import sync_playwright

from fakes.photos import FakePhotos
from fakes.photos.testing import ALICE, BOB, BROWSER_ARGS, CHROMIUM

SEED = 31
ACCOUNT = '[aria-label^="Google Account:"]'


def _launch(playwright, profile: Path):
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS, locale="en-US"
    )


def test_a_profile_signs_in_two_accounts_and_works_after_a_fresh_launch(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with FakePhotos(items=20, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as fake:
        assert fake.make_profile(profile) == [(0, ALICE), (1, BOB)]
        assert (profile / "Default" / "Cookies").is_file()
        assert stat.S_IMODE(profile.stat().st_mode) == 0o700
        base = fake.base_url
        with sync_playwright() as playwright:
            context = _launch(playwright, profile)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(base + "/login")
            assert page.url == base + "/"
            label = page.locator(ACCOUNT).get_attribute("aria-label")
            assert label == "Google Account: Alice Example (alice@example.com)"
            page.goto(base + "/u/1/?hl=en")
            assert page.locator(ACCOUNT).get_attribute("aria-label").endswith("(bob@example.com)")
            fake.revoke(ALICE)
            page.goto(base + "/")
            assert page.url == base + "/photos/about/"
            page.goto(base + "/login")
            assert "/v3/signin/identifier" in page.url
            page.goto(base + "/u/1/")
            assert page.url == base + "/u/1/"  # the other account of the profile is untouched
            context.close()

    # A restart with the same seed and more items keeps the profile signed in.
    with (
        FakePhotos(items=40, seed=SEED, accounts=[ALICE, BOB], media_scale=0.02) as restarted,
        sync_playwright() as playwright,
    ):
        context = _launch(playwright, profile)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(restarted.base_url + "/u/1/")
        assert page.url == restarted.base_url + "/u/1/"
        page.wait_for_selector('a[href^="./photo/"]:visible')
        context.close()


def test_sign_in_refuses_a_browser_driven_by_automation(tmp_path: Path) -> None:
    with (
        FakePhotos(items=2, seed=SEED, media_scale=0.02) as fake,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(fake.base_url + "/login")
        assert page.locator("#identifierId").count() == 1
        assert page.locator("#rejected").is_visible()
        assert page.locator("#identifierNext button").is_disabled()
        browser.close()
