"""Everything about Google Photos' web app that Google may change, by name.

The rest of the collector never spells a selector, a URL pattern, a key or a
wait of its own. The facts come from ../shared/google-photos-web.md (the
contract); when Google changes the site, this module is the one to edit.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://photos.google.com"

# --- URLs -------------------------------------------------------------------
UI_LANGUAGE_QUERY = "hl=en"  # labels and dates are parsed in English
LOGIN_PATH = "/login"
# Where a signed-out visit ends: the about page, or Google's sign-in pages.
SIGNED_OUT_URL_PATTERNS = (
    re.compile(r"/photos/about\b"),
    re.compile(r"/signin\b"),
    re.compile(r"ServiceLogin"),
    re.compile(r"^https?://accounts\.", re.IGNORECASE),
)
ITEM_ID_IN_URL = re.compile(r"/photo/([A-Za-z0-9_-]+)")


def account_prefix(account_index: int) -> str:
    """The path prefix of the n-th signed-in account ('' for the first)."""
    return f"/u/{account_index}" if account_index else ""


def library_url(base_url: str, account_index: int) -> str:
    return f"{base_url.rstrip('/')}{account_prefix(account_index)}/?{UI_LANGUAGE_QUERY}"


def item_url(base_url: str, account_index: int, item_id: str) -> str:
    prefix = account_prefix(account_index)
    return f"{base_url.rstrip('/')}{prefix}/photo/{item_id}?{UI_LANGUAGE_QUERY}"


def login_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{LOGIN_PATH}?{UI_LANGUAGE_QUERY}"


def is_signed_out_url(url: str) -> bool:
    return any(pattern.search(url) for pattern in SIGNED_OUT_URL_PATTERNS)


def serves_account(url: str, account_index: int) -> bool:
    """Does this library URL belong to the n-th account (and not the first)?"""
    path = urlsplit(url).path
    if account_index == 0:
        return not path.startswith("/u/") or path.startswith("/u/0/")
    return path.startswith(f"/u/{account_index}/")


# --- Signed-in account ------------------------------------------------------
ACCOUNT_LABEL_SELECTOR = '[aria-label^="Google Account:"]'
ACCOUNT_LABEL = re.compile(
    r"^Google Account:\s*(?P<name>.*?)\s*\((?P<email>[^()\s]+@[^()\s]+)\)\s*$"
)

# --- Library grid -----------------------------------------------------------
SCROLL_CONTAINER_SELECTOR = '[role="main"]'
GRID_ITEM_SELECTOR = 'a[href*="/photo/"]'
# "Photo - Landscape - Jul 15, 2010, 2:10:48 PM" (English with hl=en).
GRID_LABEL = re.compile(
    r"^(?P<kind>Photo|Video)\b.*?-\s*"
    r"(?P<when>[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4}, \d{1,2}:\d{2}(?::\d{2})?\s*[AP]M)\s*$"
)
GRID_LABEL_TIME_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y, %I:%M %p")

# --- Item viewer ------------------------------------------------------------
VIEWER_SELECTOR = 'c-wiz[data-media-key="{item_id}"]'
ITEM_PANEL_SELECTOR = '[data-p*="{item_id}"]'
DOWNLOAD_KEY = "Shift+D"
NEXT_ITEM_KEY = "ArrowRight"  # in the viewer: the next item in grid order (older)
MORE_OPTIONS_SELECTOR = '[aria-label="More options"]'
DOWNLOAD_MENU_ITEM_SELECTOR = '[aria-label="Download - Shift+D"]'
OPEN_INFO_SELECTOR = '[aria-label="Open info"]'
INFO_FILENAME_SELECTOR = '[aria-label^="Filename:"]'
INFO_DATE_SELECTOR = '[aria-label^="Date taken:"]'
INFO_TIME_SELECTOR = '[aria-label^="Time taken:"]'
INFO_DATE_FORMATS = ("%b %d, %Y", "%a, %b %d, %Y", "%B %d, %Y")
INFO_TIME = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[AP]M)?", re.I)
INFO_ZONE = re.compile(r"GMT(?:(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?")
# User-facing sentences: only present in the page once shown (hl=en).
PROCESSING_TEXT = "Your video will be ready soon"
NOT_FOUND_TEXT = "No webpage was found for the web address"

# --- Waits (seconds) --------------------------------------------------------
PAGE_LOAD_TIMEOUT = 45.0  # a page (grid or viewer) reaching a known state
DOWNLOAD_START_TIMEOUT = 30.0  # from Shift+D to the download starting
DOWNLOAD_STALL_TIMEOUT = 60.0  # no new byte for this long: the download stalled
NEXT_ITEM_TIMEOUT = 5.0  # from ArrowRight to the viewer showing the next item
GRID_SETTLE_TIME = 1.5  # no new anchor for this long at the bottom: end of grid
# A full scan reports deletions from where the grid ends: be surer it ended.
FULL_SCAN_SETTLE_TIME = 5.0
GRID_STEP_TIMEOUT = 10.0  # wait for the grid to show more after a scroll
KNOWN_RUN_TO_STOP = 30  # this many already-known ids in a row: nothing older is new


def item_scope(item_id: str) -> str:
    """A CSS selector of the item's own viewer element and panels.

    The app keeps earlier items' viewers (hidden) in the page, so any viewer
    selector must be scoped to the item.
    """
    viewer = VIEWER_SELECTOR.format(item_id=item_id)
    panels = ITEM_PANEL_SELECTOR.format(item_id=item_id)
    return f":is({viewer}, {panels})"


def parse_grid_label(label: str) -> tuple[str, datetime | None]:
    """Kind ('photo' or 'video') and the naive local capture time of a grid anchor."""
    text = " ".join(label.replace("\u202f", " ").replace("\xa0", " ").split())
    match = GRID_LABEL.match(text)
    if not match:
        kind = "video" if text.startswith("Video") else "photo"
        return kind, None
    when = match.group("when").replace(".", "")
    for fmt in GRID_LABEL_TIME_FORMATS:
        try:
            return match.group("kind").lower(), datetime.strptime(when, fmt)
        except ValueError:
            continue
    return match.group("kind").lower(), None


def parse_info_taken(date_text: str, time_text: str) -> datetime | None:
    """The capture time from the info panel: date, then time and GMT zone."""
    date_text = " ".join(date_text.replace("\xa0", " ").split())
    time_text = " ".join(time_text.replace("\u202f", " ").replace("\xa0", " ").split())
    day = None
    for fmt in INFO_DATE_FORMATS:
        try:
            day = datetime.strptime(date_text, fmt)
            break
        except ValueError:
            continue
    clock = INFO_TIME.search(time_text)
    if day is None or clock is None:
        return None
    hour, minute = int(clock.group("h")), int(clock.group("m"))
    second = int(clock.group("s") or 0)
    ampm = (clock.group("ampm") or "").upper()
    if ampm == "PM" and hour != 12:
        hour += 12
    elif ampm == "AM" and hour == 12:
        hour = 0
    zone = INFO_ZONE.search(time_text)
    tzinfo = None
    if zone:
        offset = timedelta()
        if zone.group("sign"):
            offset = timedelta(hours=int(zone.group("h")), minutes=int(zone.group("m") or 0))
            if zone.group("sign") == "-":
                offset = -offset
        tzinfo = timezone(offset)
    return day.replace(hour=hour, minute=minute, second=second, tzinfo=tzinfo)


def combine_taken(info: datetime | None, label: datetime | None) -> datetime | None:
    """The info panel gives the zone but only minutes; the grid label gives seconds.

    `label` may also be an exact time recorded earlier (with its zone).
    """
    if info is None:
        return label
    if label is None:
        return info
    if label.tzinfo is not None:
        return label if abs(label - info) < timedelta(minutes=1) else info
    if label.replace(second=0) == info.replace(second=0, tzinfo=None):
        return info.replace(second=label.second)
    return info
