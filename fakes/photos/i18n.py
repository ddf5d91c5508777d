"""The UI languages of the fake: every label and sentence, and how dates read.

English is what `?hl=en` forces; German is the second language so that a
client that matches labels without forcing English fails here as it would on
the real site.
"""

from __future__ import annotations

import datetime as dt

LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"

_MONTHS_SHORT = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "de": [
        "Jan.",
        "Feb.",
        "März",
        "Apr.",
        "Mai",
        "Juni",
        "Juli",
        "Aug.",
        "Sept.",
        "Okt.",
        "Nov.",
        "Dez.",
    ],
}
_MONTHS_LONG_DE = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
_DAYS_SHORT = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "de": ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."],
}

# Labels live in the page (aria-labels); sentences are sent only when shown.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "account": "Google Account: {name} ({email})",
        "photo": "Photo",
        "video": "Video",
        "landscape": "Landscape",
        "portrait": "Portrait",
        "select_all": "Select all photos from {date}",
        "more_options": "More options",
        "download": "Download - Shift+D",
        "download_text": "Download",
        "download_original": "Download original",
        "slideshow": "Slideshow",
        "rotate": "Rotate left - Shift+R",
        "add_to_album": "Add to album",
        "open_info": "Open info",
        "close_info": "Close info",
        "back": "Back",
        "previous": "View previous photo",
        "next": "View next photo",
        "filename": "Filename: {value}",
        "date_taken": "Date taken: {value}",
        "time_taken": "Time taken: {value}",
        "search": "Search your photos",
        "select_photos": "Select photos",
        "add_account": "Add another account",
        "description": "Description",
        "add_description": "Add a description",
        "file_size": "File size: {value}",
        "albums": "Albums",
        "people": "People",
        "items": "{count} items",
        "one_item": "1 item",
        "shared": "Shared",
    },
    "de": {
        "account": "Google-Konto: {name} ({email})",
        "photo": "Foto",
        "video": "Video",
        "landscape": "Querformat",
        "portrait": "Hochformat",
        "select_all": "Alle Fotos vom {date} auswählen",
        "more_options": "Weitere Optionen",
        "download": "Herunterladen - Umschalt+D",
        "download_text": "Herunterladen",
        "download_original": "Original herunterladen",
        "slideshow": "Diashow",
        "rotate": "Nach links drehen - Umschalt+R",
        "add_to_album": "Zu Album hinzufügen",
        "open_info": "Info öffnen",
        "close_info": "Info schließen",
        "back": "Zurück",
        "previous": "Vorheriges Foto ansehen",
        "next": "Nächstes Foto ansehen",
        "filename": "Dateiname: {value}",
        "date_taken": "Aufnahmedatum: {value}",
        "time_taken": "Aufnahmezeit: {value}",
        "search": "Fotos durchsuchen",
        "select_photos": "Fotos auswählen",
        "add_account": "Weiteres Konto hinzufügen",
        "description": "Beschreibung",
        "add_description": "Beschreibung hinzufügen",
        "file_size": "Dateigröße: {value}",
        "albums": "Alben",
        "people": "Personen",
        "items": "{count} Elemente",
        "one_item": "1 Element",
        "shared": "Geteilt",
    },
}

# What a page change (`FakePhotos.change_page`) puts in place of the contract's labels,
# as a Google redesign would: mode -> language -> label overrides.
CHANGED_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "more-options": {
        "en": {"more_options": "More actions"},
        "de": {"more_options": "Weitere Aktionen"},
    },
    "info-labels": {
        "en": {
            "filename": "File name: {value}",
            "date_taken": "Taken on: {value}",
            "time_taken": "Time: {value}",
        },
        "de": {
            "filename": "Name der Datei: {value}",
            "date_taken": "Aufgenommen am: {value}",
            "time_taken": "Uhrzeit: {value}",
        },
    },
    "download": {
        "en": {"download": "Download - Shift+S"},
        "de": {"download": "Herunterladen - Umschalt+S"},
    },
}


SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "processing": "Your video will be ready soon",
        "processing_toast": "Video is still processing & can be downloaded later",
        "not_found_title": "This page can’t be found",  # noqa: RUF001 - Chrome's own text
        "not_found": "No webpage was found for the web address: {url}",
        "not_found_code": "HTTP ERROR 404",
        "offline": "Couldn’t connect. Trying again…",  # noqa: RUF001 - Google's text
    },
    "de": {
        "processing": "Dein Video ist bald fertig",
        "processing_toast": (
            "Das Video wird noch verarbeitet und kann später heruntergeladen werden"
        ),
        "not_found_title": "Diese Seite kann nicht gefunden werden",
        "not_found": "Es wurde keine Webseite für folgende Webadresse gefunden: {url}",
        "not_found_code": "HTTP ERROR 404",
        "offline": "Keine Verbindung. Neuer Versuch…",
    },
}


def pick_language(hl: str | None, accept_language: str | None) -> str:
    """`hl` wins; otherwise the first supported language of Accept-Language."""
    if hl:
        base = hl.split("-")[0].lower()
        return base if base in LANGUAGES else DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().split("-")[0].lower()
        quality = 1.0
        for field in fields[1:]:
            name, _, value = field.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def label(lang: str, key: str, **values: str) -> str:
    return LABELS[lang][key].format(**values)


def sentence(lang: str, key: str, **values: str) -> str:
    return SENTENCES[lang][key].format(**values)


def _clock_12h(moment: dt.datetime, seconds: bool) -> str:
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    if seconds:
        return f"{hour}:{moment.minute:02d}:{moment.second:02d} {suffix}"
    return f"{hour}:{moment.minute:02d} {suffix}"


def grid_datetime(lang: str, moment: dt.datetime) -> str:
    """The date in an item anchor's aria-label: `Jul 15, 2010, 2:10:48 PM`."""
    if lang == "de":
        return f"{moment.day:02d}.{moment.month:02d}.{moment.year}, {moment:%H:%M:%S}"
    month = _MONTHS_SHORT["en"][moment.month - 1]
    return f"{month} {moment.day}, {moment.year}, {_clock_12h(moment, seconds=True)}"


def day_label(lang: str, day: dt.date) -> str:
    """The date of a day header's aria-label and of the info panel: `Jul 15, 2010`."""
    if lang == "de":
        return f"{day.day}. {_MONTHS_LONG_DE[day.month - 1]} {day.year}"
    return f"{_MONTHS_SHORT['en'][day.month - 1]} {day.day}, {day.year}"


def day_heading(lang: str, day: dt.date) -> str:
    """The visible text of a day header: `Thu, Jul 15, 2010`."""
    return f"{_DAYS_SHORT[lang][day.weekday()]}, {day_label(lang, day)}"


def info_time(lang: str, moment: dt.datetime) -> str:
    """The time in the info panel: weekday and minutes, as Google shows it."""
    weekday = _DAYS_SHORT[lang][moment.weekday()]
    if lang == "de":
        return f"{weekday}, {moment:%H:%M}"
    return f"{weekday}, {_clock_12h(moment, seconds=False)}"


def gmt_offset(offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"GMT{sign}{hours:02d}:{minutes:02d}"


def item_count(lang: str, count: int) -> str:
    """An album's size as the albums list and the info panel show it: `24 items`."""
    if count == 1:
        return label(lang, "one_item")
    shown = f"{count:,}".replace(",", "." if lang == "de" else ",")
    return label(lang, "items", count=shown)


def file_size(lang: str, size: int) -> str:
    """A size as the info panel shows it (`3.2 MB`; units of 1024, as Google's storage
    counts them)."""
    value = float(size)
    unit = "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value /= 1024
        unit = bigger
    text = f"{value:.0f}" if unit in ("B", "KB") else f"{value:.1f}"
    if lang == "de":
        text = text.replace(".", ",")
    return f"{text} {unit}"
