"""The item viewer's info panel: when the item was taken, and what people added to it.

Download keeps the camera's bytes; the caption typed in Google Photos, the people
named and the albums the item is in exist only here (and in the app's data calls).
One round trip reads it all, in the page: the date, then the time and zone that
follow it, the file name, the caption (`textarea[aria-label="Description"]`), the
albums list and the people list. Only the item's own shown elements count: earlier
items' panels, and hidden duplicates inside this one, linger in the page.

The albums and people lists are inferred from 2025-26 code (found by role and label):
when they are not there, the item is taken to be in no album and to name no one, and
the caption is recorded as unknown (None), not as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gphotos_collector import google_site

if TYPE_CHECKING:
    from playwright.async_api import Page

INFO_PANEL_WAIT = 3.0  # seconds for the item's data (and its date) to arrive

_INFO_JS = """
async ([itemScope, sel, waitMs]) => {
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  // Hidden stale copies of the panel (earlier items, earlier pages) never count.
  const inItem = (selector) => {
    for (const root of document.querySelectorAll(itemScope)) {
      if (root.matches(selector) && shown(root)) return root;
      for (const found of root.querySelectorAll(selector)) if (shown(found)) return found;
    }
    return null;
  };
  const until = Date.now() + waitMs;
  let clicked = false;
  let date;
  while (!(date = inItem(sel.date))) {
    if (!clicked) {
      const button = [...document.querySelectorAll(sel.open)].filter(shown).pop();
      if (button) { button.click(); clicked = true; }
    }
    if (Date.now() > until) return null;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const time = inItem(sel.time);
  let next = date.nextElementSibling;
  while (next && next.tagName !== "DIV") next = next.nextElementSibling;
  const name = inItem(sel.filename);
  const caption = inItem(sel.caption);
  const albums = inItem(sel.albums);
  const people = inItem(sel.people);
  const firstLine = (e) => (e.innerText || e.textContent || "").split("\\n")[0].trim();
  return {
    date: date.textContent.trim(),
    time: [time ? time.textContent : "", next ? next.textContent : ""].join(" ").trim(),
    filename: name ? name.textContent.trim() : null,
    caption: caption ? caption.value : null,
    albums: albums
      ? [...albums.querySelectorAll(sel.albumLink)].filter(shown)
          .map((a) => [a.getAttribute("href") || "", firstLine(a)])
      : [],
    people: people
      ? [...people.querySelectorAll(sel.person)].filter(shown)
          .map((p) => (p.getAttribute("aria-label") || firstLine(p)).trim())
      : [],
  };
}
"""


@dataclass(frozen=True)
class AlbumRef:
    """An album as the info panel names it."""

    id: str  # the album id or, for a shared album, its share id
    title: str
    shared: bool = False


@dataclass(frozen=True)
class ItemDetails:
    """What people added to an item in Google Photos, as the info panel shows it."""

    filename: str | None = None  # the file name Google shows (not a path)
    caption: str | None = None  # exactly as typed; None: the panel showed no caption field
    albums: tuple[AlbumRef, ...] = ()
    people: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "filename": self.filename,
                "caption": self.caption,
                "albums": [[a.id, a.title, a.shared] for a in self.albums],
                "people": list(self.people),
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ItemDetails:
        data = json.loads(text)
        return cls(
            filename=data.get("filename"),
            caption=data.get("caption"),
            albums=tuple(AlbumRef(str(a[0]), str(a[1]), bool(a[2])) for a in data["albums"]),
            people=tuple(str(p) for p in data["people"]),
        )


@dataclass(frozen=True)
class InfoPanel:
    taken: datetime | None = None  # with its zone when the panel shows one
    details: ItemDetails | None = None  # None: the panel did not show (or the page moved on)


def album_ref(href: str, title: str) -> AlbumRef | None:
    """An album anchor (./album/<id>, ./share/<id>?key=...) as an AlbumRef."""
    path = href.split("?", 1)[0].rstrip("/")
    for marker, shared in (("album/", False), ("share/", True)):
        _, found, tail = path.rpartition(marker)
        if found and tail and "/" not in tail:
            return AlbumRef(tail, title, shared)
    return None


def _details(raw: dict[str, Any]) -> ItemDetails:
    albums = [album_ref(str(href), str(title)) for href, title in raw.get("albums") or []]
    people = [str(name) for name in raw.get("people") or [] if str(name).strip()]
    caption = raw.get("caption")
    return ItemDetails(
        filename=raw.get("filename") or None,
        caption=caption if isinstance(caption, str) else None,
        albums=tuple(dict.fromkeys(a for a in albums if a is not None)),
        people=tuple(dict.fromkeys(people)),
    )


async def read_info(page: Page, item_id: str) -> InfoPanel:
    """The info panel of the item shown (opened if needed); empty if it did not show."""
    selectors = {
        "open": google_site.OPEN_INFO_SELECTOR,
        "date": google_site.INFO_DATE_SELECTOR,
        "time": google_site.INFO_TIME_SELECTOR,
        "filename": google_site.INFO_FILENAME_SELECTOR,
        "caption": google_site.INFO_CAPTION_SELECTOR,
        "albums": google_site.INFO_ALBUMS_SELECTOR,
        "albumLink": google_site.ALBUM_LINK_SELECTOR,
        "people": google_site.INFO_PEOPLE_SELECTOR,
        "person": google_site.PERSON_LINK_SELECTOR,
    }
    args = [google_site.item_scope(item_id), selectors, INFO_PANEL_WAIT * 1000]
    try:
        raw = await page.evaluate(_INFO_JS, args)
    except Exception:  # the page moved on: the grid label will do for the date
        return InfoPanel()
    if not raw:
        return InfoPanel()
    return InfoPanel(
        taken=google_site.parse_info_taken(raw["date"], raw["time"]),
        details=_details(raw),
    )


async def read_taken(page: Page, item_id: str) -> datetime | None:
    """The capture time from the info panel (opened if needed), or None."""
    return (await read_info(page, item_id)).taken
