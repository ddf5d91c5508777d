"""Is the profile signed in to Google Photos, and as whom."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from gphotos_collector import google_site, page_state
from gphotos_collector.browser import Browser, check_profile_dir, find_browser, open_context
from gphotos_collector.errors import PageChangedError, SignedOutError, TemporaryError
from gphotos_collector.page_watch import DOCTOR_HINT

if TYPE_CHECKING:
    from playwright.async_api import Page

SIGNED_IN = "signed-in"
LIBRARY_SIGNS = page_state.Signs(selectors=((SIGNED_IN, google_site.ACCOUNT_LABEL_SELECTOR),))


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    index: int

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


REFRESH_HINT = (
    "Refresh it: with the Ansible bundle, `ansible-playbook playbooks/login.yml -e account=NAME` "
    "signs the member in again on the server, from your browser; or on a desktop run "
    "`gphotos-collector login --profile PROFILE_DIR`, sign in, and copy the profile to this "
    "server again (`ansible-playbook playbooks/refresh-profile.yml -e account=NAME`)."
)


def signed_out(profile: Path, account_index: int, why: str = "", url: str = "") -> SignedOutError:
    """Signed out, or held at a sign-in interstitial (told by the URL) that needs a person."""
    which = f" for account #{account_index} (/u/{account_index}/)" if account_index else ""
    reason = f" ({why})" if why else ""
    asks = google_site.interstitial_of(url) if url else None
    if asks:
        return SignedOutError(
            f"{asks} before it shows the library of the profile {profile}{which}{reason}: "
            "a headless backup cannot answer, a person must sign in again. " + REFRESH_HINT,
            profile=str(profile),
            asks=asks,
        )
    return SignedOutError(
        f"the profile {profile} is signed out of Google Photos{which}{reason}. " + REFRESH_HINT,
        profile=str(profile),
    )


class PageMissing(TemporaryError):
    """The page answered 404: it is not there (any more)."""


def _raise_for(error: Exception, url: str, what: str) -> NoReturn:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    if google_site.HTTP_ERROR_PAGE in first:  # an error status with no body: a 404
        raise PageMissing(f"{what} is not there ({url} answered an HTTP error)") from None
    raise TemporaryError(f"could not open {what}: {first}") from None


async def goto(page: Page, url: str, what: str) -> None:
    """Navigate, turning network failures and server errors into TemporaryError."""
    for attempt in (1, 2):
        try:
            response = await page.goto(
                url, wait_until="domcontentloaded", timeout=google_site.PAGE_LOAD_TIMEOUT * 1000
            )
            break
        except Exception as error:  # Playwright's Error or TimeoutError
            # Chrome's own error page for an earlier 404 may still be on its way: settle, retry.
            if attempt == 1 and google_site.INTERRUPTED_NAVIGATION in str(error):
                await asyncio.sleep(google_site.ERROR_PAGE_SETTLE)
                continue
            _raise_for(error, url, what)
    if response is not None and response.status in google_site.GONE_STATUSES:
        raise PageMissing(f"{what} is not there ({url} answered HTTP {response.status})")
    if response is not None and response.status >= 500:
        raise TemporaryError(f"{what} answered HTTP {response.status}")


async def open_library(
    page: Page,
    base_url: str,
    account_index: int,
    profile: Path,
    view: str = google_site.VIEW_GRID,
) -> Account:
    """Open a view of the chosen account's library and read who is signed in.

    A view other than the library grid that is not there (404) is a changed page.
    """
    url = google_site.view_url(base_url, account_index, view)
    step = google_site.STEP_VIEW[view]
    try:
        await goto(page, url, step)
    except PageMissing as error:
        if view == google_site.VIEW_GRID:
            raise
        raise PageChangedError(
            f"{error.message}. {DOCTOR_HINT}", step=step, target=google_site.VIEW_PATHS[view]
        ) from None
    found = await page_state.wait_for(page, LIBRARY_SIGNS, google_site.PAGE_LOAD_TIMEOUT)
    if found == page_state.SIGNED_OUT:
        raise signed_out(profile, account_index, url=page.url)
    if found == page_state.TIMED_OUT:
        raise TemporaryError(f"the library page at {page.url} did not show a signed-in account")
    if not google_site.serves_account(page.url, account_index):
        raise signed_out(profile, account_index, "that account is not signed in in this profile")
    label = await page.locator(google_site.ACCOUNT_LABEL_SELECTOR).first.get_attribute("aria-label")
    match = google_site.ACCOUNT_LABEL.match(label or "")
    if not match:
        raise TemporaryError(f"unexpected account label on the library page: {label!r}")
    return Account(name=match.group("name"), email=match.group("email"), index=account_index)


async def _check(profile: Path, account_index: int, base_url: str, browser: Browser) -> Account:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await open_context(playwright, browser, profile)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            return await open_library(page, base_url, account_index, profile)
        finally:
            await context.close()


def check_account(profile: Path, account_index: int, base_url: str, browser_choice: str) -> Account:
    """Headless: who is signed in on this profile (raises SignedOutError if nobody)."""
    check_profile_dir(profile)
    browser = find_browser(browser_choice)
    return asyncio.run(_check(profile, account_index, base_url, browser))


async def still_signed_in(page: Page) -> bool:
    """Is the page still showing a signed-in account?"""
    return await page_state.probe(page, LIBRARY_SIGNS) == SIGNED_IN
