"""Waiting for a page of the web app to reach one of several known states.

A single-page app gives no load event to trust: the collector polls for the
first of several signs (an element, a sentence shown to the user, a signed-out
URL) and knows which one it saw.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gphotos_collector import google_site

if TYPE_CHECKING:
    from playwright.async_api import Page

POLL_INTERVAL = 0.03  # one cheap round trip to the page each time
SIGNED_OUT = "signed-out"
TIMED_OUT = "timed-out"

# Returns the name of the first sign present in the page, or null. A sentence
# counts only where it is shown (innerText skips hidden elements). A dialog over
# the app is cancelled on the way (never confirmed).
_PROBE_JS = f"""
([selectors, texts, textScope, dialogCancel]) => {{
  ({google_site.DISMISS_DIALOGS_JS})(dialogCancel);
  for (const [name, selector] of selectors) {{
    if (document.querySelector(selector)) return name;
  }}
  if (texts.length && document.body) {{
    const roots = textScope ? [...document.querySelectorAll(textScope)] : [document.body];
    const shown = roots.map((root) => root.innerText || "").join(" ");
    for (const [name, text] of texts) {{
      if (shown.includes(text)) return name;
    }}
  }}
  return null;
}}
"""


@dataclass(frozen=True)
class Signs:
    """What to look for: named selectors, then named visible sentences."""

    selectors: tuple[tuple[str, str], ...] = ()
    texts: tuple[tuple[str, str], ...] = ()
    text_scope: str | None = None  # look for the sentences only in these elements


async def probe(page: Page, signs: Signs) -> str | None:
    """The first sign present right now (a signed-out URL wins), or None."""
    if google_site.is_signed_out_url(page.url):
        return SIGNED_OUT
    try:
        found = await page.evaluate(
            _PROBE_JS,
            [
                list(signs.selectors),
                list(signs.texts),
                signs.text_scope,
                google_site.DIALOG_CANCEL_SELECTOR,
            ],
        )
    except Exception as error:  # the page navigated while we looked: look again
        if "context was destroyed" in str(error) or "navigat" in str(error):
            return None
        raise
    return str(found) if found else None


async def dismiss_dialogs(page: Page) -> int:
    """Cancel any dialog shown over the app; how many were cancelled."""
    try:
        return int(
            await page.evaluate(google_site.DISMISS_DIALOGS_JS, google_site.DIALOG_CANCEL_SELECTOR)
        )
    except Exception:  # the page navigated meanwhile: nothing to cancel there
        return 0


async def wait_for(page: Page, signs: Signs, timeout: float) -> str:
    """Poll until one of the signs shows (its name), SIGNED_OUT, or TIMED_OUT."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe(page, signs)
        if found:
            return found
        if time.monotonic() >= deadline:
            return TIMED_OUT
        await asyncio.sleep(POLL_INTERVAL)
