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

# Views: the sources of item ids, each a grid of the same structure.
VIEW_GRID = "grid"  # the library by date taken, newest first (not archived items)
VIEW_RECENT = "recently-added"  # the library by upload time, newest first
VIEW_ARCHIVE = "archive"  # archived items, by date taken
VIEW_PATHS = {VIEW_GRID: "", VIEW_RECENT: "/search/_tra_", VIEW_ARCHIVE: "/archive"}

# Albums (2025-26 code): /albums lists the albums as anchors ./album/<id> (shared:
# ./share/<id>?key=...), text lines "title" then "24 items"; an album's grid scrolls in
# the first visible `c-wiz c-wiz c-wiz` holding a photo link, not in [role="main"].
VIEW_ALBUMS = "albums"
VIEW_ALBUM = "album"
ALBUMS_PATH = "/albums"
ALBUM_CONTAINER_SELECTOR = "c-wiz c-wiz c-wiz"
ALBUM_COUNT = re.compile(r"^\s*(\d[\d,.\u202f\xa0]*)\s+items?\b", re.IGNORECASE)

# Sign-in interstitials: a signed-in profile that Google asks for a person.
INTERSTITIALS = (
    (re.compile(r"confirmidentifier", re.I), "Google asks to confirm it is you"),
    (re.compile(r"signinchooser|AccountChooser", re.I), "Google shows its account chooser"),
    (re.compile(r"/challenge/dp\b", re.I), "Google asks to approve the sign-in on another device"),
    (
        re.compile(r"shadowdisambiguate", re.I),
        "Google asks which account to use (Workspace or personal)",
    ),
    (re.compile(r"speedbump/passkeyenrollment", re.I), "Google offers to create a passkey"),
    (re.compile(r"/signin/rejected\b", re.I), "Google rejected the sign-in in this browser"),
)


def account_prefix(account_index: int) -> str:
    """The path prefix of the n-th signed-in account ('' for the first)."""
    return f"/u/{account_index}" if account_index else ""


def library_url(base_url: str, account_index: int) -> str:
    return view_url(base_url, account_index, VIEW_GRID)


def view_url(base_url: str, account_index: int, view: str) -> str:
    """The grid of one view: the library, Recently added or the Archive."""
    path = VIEW_PATHS[view] or "/"
    return f"{base_url.rstrip('/')}{account_prefix(account_index)}{path}?{UI_LANGUAGE_QUERY}"


def item_url(base_url: str, account_index: int, item_id: str, view: str = VIEW_GRID) -> str:
    """An item's viewer inside a view: ArrowRight then steps in that view's order."""
    prefix = account_prefix(account_index) + VIEW_PATHS[view]
    return f"{base_url.rstrip('/')}{prefix}/photo/{item_id}?{UI_LANGUAGE_QUERY}"


def albums_url(base_url: str, account_index: int) -> str:
    return f"{base_url.rstrip('/')}{account_prefix(account_index)}{ALBUMS_PATH}?{UI_LANGUAGE_QUERY}"


def with_language(url: str) -> str:
    """A page's URL with the UI language the collector reads (hl=en) in its query."""
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("hl=")]
    return f"{base}?{'&'.join([*kept, UI_LANGUAGE_QUERY])}"


def album_item_url(album_url: str, album_item_id: str) -> str:
    """An item's viewer inside an album (a shared album's key stays in the query)."""
    base, _, query = album_url.partition("?")
    return with_language(f"{base.rstrip('/')}/photo/{album_item_id}?{query}")


def parse_album_count(text: str) -> int | None:
    """'24 items', '1 item', '1,024 items' -> the number; None if it does not read."""
    match = ALBUM_COUNT.match(text)
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(1))
    return int(digits) if digits else None


def interstitial_of(url: str) -> str | None:
    """What Google asks for, when the URL is one of its sign-in interstitials."""
    for pattern, meaning in INTERSTITIALS:
        if pattern.search(url):
            return meaning
    return None


def login_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{LOGIN_PATH}?{UI_LANGUAGE_QUERY}"


def is_signed_out_url(url: str) -> bool:
    """Signed out, or stopped at an interstitial that needs a person: either way, no backup."""
    return any(p.search(url) for p in SIGNED_OUT_URL_PATTERNS) or interstitial_of(url) is not None


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
# Earlier pages stay in the DOM, hidden: only the visible container counts.
SCROLL_CONTAINER_SELECTOR = '[role="main"]'
GRID_ITEM_SELECTOR = 'a[href*="/photo/"]'
# A day of the grid: days shown but no item found means the items changed shape.
DAY_HEADER_SELECTOR = '[aria-label^="Select all photos from"]'
# Is an element shown? (display:none has no boxes; visibility is inherited.)
IS_SHOWN_JS = "(e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'"

# --- Dialogs over the app (storage full, upsells) -----------------------------
# Language-independent action codes; a dialog is cancelled, never confirmed.
DIALOG_CANCEL_SELECTOR = '[data-mdc-dialog-action="IbE0S"]'
DIALOG_CONFIRM_SELECTOR = '[data-mdc-dialog-action="EBS5u"]'  # never clicked
# Clicks every shown cancel button; returns how many it clicked.
DISMISS_DIALOGS_JS = f"""
(selector) => {{
  const shown = {IS_SHOWN_JS};
  let clicked = 0;
  for (const button of document.querySelectorAll(selector)) {{
    if (shown(button)) {{ button.click(); clicked++; }}
  }}
  return clicked;
}}
"""
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
# Only for edited items, once the item's data has loaded: the camera original.
DOWNLOAD_ORIGINAL_MENU_ITEM_SELECTOR = '[aria-label="Download original"]'
MENU_CLOSE_KEY = "Escape"
# Takeout's name for the edited copy beside the original (immich-go and gpth know it).
EDITED_SUFFIX = "-edited"
OPEN_INFO_SELECTOR = '[aria-label="Open info"]'
INFO_FILENAME_SELECTOR = '[aria-label^="Filename:"]'
INFO_DATE_SELECTOR = '[aria-label^="Date taken:"]'
INFO_TIME_SELECTOR = '[aria-label^="Time taken:"]'
# What people added (2025-26 code, found by role and label; each also has hidden copies).
INFO_CAPTION_SELECTOR = 'textarea[aria-label="Description"]'
INFO_ALBUMS_SELECTOR = '[role="list"][aria-label="Albums"]'
ALBUM_LINK_SELECTOR = 'a[href*="album/"], a[href*="share/"]'
INFO_PEOPLE_SELECTOR = '[role="list"][aria-label="People"]'
PERSON_LINK_SELECTOR = "a"
INFO_DATE_FORMATS = ("%b %d, %Y", "%a, %b %d, %Y", "%B %d, %Y")
INFO_TIME = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[AP]M)?", re.I)
INFO_ZONE = re.compile(r"GMT(?:(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?")
# User-facing sentences: only present in the page once shown (hl=en).
PROCESSING_TEXT = "Your video will be ready soon"
NOT_FOUND_TEXT = "No webpage was found for the web address"
# page.goto's error for an HTTP error page with no body: a deleted id is a real 404.
HTTP_ERROR_PAGE = "ERR_HTTP_RESPONSE_CODE_FAILURE"
GONE_STATUSES = frozenset({404, 410})
# ... and Chrome draws its error page a moment later, which may interrupt the next load.
INTERRUPTED_NAVIGATION = "interrupted by another navigation"
ERROR_PAGE_SETTLE = 0.5  # seconds to let it land before loading again

# --- Steps of the contract, by name (what doctor checks and a stopped run names) ---
STEP_ACCOUNT = "the signed-in account"
STEP_VIEW = {
    VIEW_GRID: "the library grid",
    VIEW_RECENT: "Recently added",
    VIEW_ARCHIVE: "the Archive",
    VIEW_ALBUMS: "the albums list",
    VIEW_ALBUM: "an album's page",
}
STEP_VIEWER = "the item viewer"
STEP_INFO = "the info panel"
STEP_MENU = "the More options menu"
STEP_DOWNLOAD = "Download (Shift+D, or More options > Download)"

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
# The item's data (and with it the Download original entry) arrives a moment after
# the viewer; without an info panel to show it has, wait this long before the menu.
ITEM_DATA_WAIT = 0.6


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
