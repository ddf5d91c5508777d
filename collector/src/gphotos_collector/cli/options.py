"""Options shared by several commands (sync and run take the same ones)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from gphotos_collector.google_site import DEFAULT_BASE_URL, DOWNLOAD_STALL_TIMEOUT
from gphotos_collector.sync import SyncOptions

F = TypeVar("F", bound=Callable[..., Any])


def _parse_date(ctx: click.Context, param: click.Parameter, value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-01-31") from None


PROFILE_OPTION = click.option(
    "--profile",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Chrome profile directory holding the Google sign-in (made by `login`).",
)
ACCOUNT_INDEX_OPTION = click.option(
    "--account-index",
    default=0,
    show_default=True,
    type=click.IntRange(0, 9),
    help="Which signed-in account of the profile (the n of /u/<n>/).",
)
BASE_URL_OPTION = click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="Where the Google Photos web app is served.",
)
BROWSER_OPTION = click.option(
    "--browser",
    default="auto",
    show_default=True,
    help="chrome, chromium, auto (Chrome, else Chromium) or the path of a browser.",
)
SYNC_ONLY_OPTIONS = (
    click.option(
        "--dest",
        required=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Folder the library is backed up into (DEST/YYYY/MM/name).",
    ),
    click.option(
        "--workers",
        default=2,
        show_default=True,
        type=click.IntRange(1, 16),
        help="Browser pages downloading at once.",
    ),
    click.option(
        "--since",
        callback=_parse_date,
        help="Only items taken on or after this date (YYYY-MM-DD).",
    ),
    click.option(
        "--until",
        callback=_parse_date,
        help="Only items taken on or before this date (YYYY-MM-DD).",
    ),
    click.option(
        "--full-scan",
        is_flag=True,
        help="Walk the whole library (not only new items) and report items deleted on Google.",
    ),
    click.option(
        "--full-scan-every",
        default=0.0,
        show_default=True,
        type=click.FloatRange(0, 3650),
        metavar="DAYS",
        help="Make a run a full scan when the last successful one is older than DAYS (0: never).",
    ),
    click.option(
        "--albums/--no-albums",
        default=False,
        show_default=True,
        help="After the items, keep DEST/albums/<title>/ as links to the backed-up files "
        "(an album is walked only when new, changed in count, or on a full scan).",
    ),
    click.option(
        "--shared-albums/--no-shared-albums",
        default=False,
        show_default=True,
        help="With the album pass (implies --albums), also keep the items others added to "
        "shared albums (not in your library) under DEST/shared/<title>/YYYY/MM/.",
    ),
    click.option(
        "--require-mount",
        type=click.Path(path_type=Path, file_okay=False),
        help="DEST is on this mounted share: fail (exit 6) instead of filling the local disk "
        "when it is not mounted.",
    ),
    click.option(
        "--stall-timeout",
        default=DOWNLOAD_STALL_TIMEOUT,
        show_default=True,
        type=click.FloatRange(1, 3600),
        help="Seconds without a new byte after which a download counts as stalled.",
    ),
    click.option(
        "--debug-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Save a debug bundle (the page's HTML, a screenshot, versions) here at the end "
        "of the run, and here instead of DEST/.gphotos-collector/debug/ on a changed page.",
    ),
)


def _with(decorators: tuple[Callable[[F], F], ...], func: F) -> F:
    """Apply option decorators so they show in --help in the order given."""
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def browser_options(func: F) -> F:
    """--profile, --account-index, --base-url, --browser: what opens the library."""
    return _with((PROFILE_OPTION, ACCOUNT_INDEX_OPTION, BASE_URL_OPTION, BROWSER_OPTION), func)


def sync_options(func: F) -> F:
    """Every option of `sync` (also taken by `run`)."""
    return _with(SYNC_ONLY_OPTIONS, browser_options(func))


def sync_options_from(params: dict[str, Any]) -> SyncOptions:
    """Build SyncOptions from the keyword arguments click passed to a command."""
    return SyncOptions(
        profile=params["profile"],
        dest=params["dest"],
        workers=params["workers"],
        account_index=params["account_index"],
        since=params["since"],
        until=params["until"],
        full_scan=params["full_scan"],
        full_scan_every=params["full_scan_every"],
        require_mount=params["require_mount"],
        base_url=params["base_url"],
        browser=params["browser"],
        stall_timeout=params["stall_timeout"],
        debug_dir=params.get("debug_dir"),
        albums=bool(params.get("albums", False)),
        shared_albums=bool(params.get("shared_albums", False)),
    )
