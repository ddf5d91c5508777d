"""Make a signed-in Chrome profile by driving Chromium through the fake's sign-in.

The browser is launched with the contract's portable-profile flags, so the
session cookie is stored on disk encrypted with the fixed `basic` key and a
later headless launch on the same directory (the collector's) can read it.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

# The contract's flags for a profile a headless server can use.
PORTABLE_PROFILE_FLAGS = ["--no-first-run", "--password-store=basic", "--use-mock-keychain"]
# What Chromium needs on these machines (no network beyond loopback).
QUIET_NETWORK_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_BROWSER = "/usr/bin/chromium"


class ProfileError(RuntimeError):
    """The profile could not be signed in; the message says why."""


def make_profile(
    base_url: str,
    accounts: list[str],
    profile_dir: Path,
    browser: str = DEFAULT_BROWSER,
    timeout_seconds: float = 30.0,
) -> list[tuple[int, str]]:
    """Sign each account in, in order (the 2nd becomes /u/1/); returns (index, email)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not accounts:
        raise ProfileError("give at least one account to sign in")
    base = base_url.rstrip("/")
    profile_dir.mkdir(parents=True, exist_ok=True)
    profile_dir.chmod(0o700)
    timeout_ms = timeout_seconds * 1000
    signed: list[tuple[int, str]] = []
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile_dir),
                executable_path=browser,
                headless=True,
                args=[
                    *PORTABLE_PROFILE_FLAGS,
                    *QUIET_NETWORK_FLAGS,
                    # The fake's sign-in page, like Google's, refuses automated browsers.
                    "--disable-blink-features=AutomationControlled",
                ],
                ignore_default_args=["--enable-automation"],
                locale="en-US",
            )
        except PlaywrightError as error:
            raise ProfileError(f"could not start {browser}: {error}") from error
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_ms)
            for position, email in enumerate(accounts):
                signed.append(_sign_in(page, base, email, first=position == 0))
        finally:
            context.close()  # a clean shutdown writes the cookie store to disk
    return signed


def _sign_in(page: object, base: str, email: str, first: bool) -> tuple[int, str]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    identifier_url = "/v3/signin/identifier?" + urllib.parse.urlencode({"continue": base + "/"})
    page.goto(base + ("/login" if first else identifier_url))
    if "/v3/signin/" not in page.url:
        # Already signed in (a profile being refreshed): add or refresh through sign-in.
        page.goto(base + identifier_url)
    page.fill("#identifierId", email)
    page.click("#identifierNext button")
    page.wait_for_load_state()
    if page.locator("input[name=Passwd]").count() == 0:
        problem = page.locator("[role=alert]")
        reason = problem.inner_text() if problem.count() else f"stopped at {page.url}"
        raise ProfileError(f"could not sign in {email}: {reason}")
    page.fill("input[name=Passwd]", "fake-password")
    page.click("#passwordNext button")
    page.wait_for_url(lambda url: "/v3/signin/" not in url)
    label = page.locator(f'[aria-label$="({email})"]')
    label.wait_for(state="attached")
    path = urllib.parse.urlsplit(page.url).path
    index = int(path.split("/")[2]) if path.startswith("/u/") else 0
    return index, email
