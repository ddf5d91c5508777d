"""Commands that work on one library: login, check, sync, status."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gphotos_collector.account import check_account
from gphotos_collector.browser import find_browser
from gphotos_collector.cli.options import (
    BASE_URL_OPTION,
    BROWSER_OPTION,
    browser_options,
    sync_options,
    sync_options_from,
)
from gphotos_collector.config import config_option
from gphotos_collector.events import EventSink, JsonLinesSink
from gphotos_collector.login import run_plain_browser
from gphotos_collector.progress import ProgressBar, human_bytes, human_seconds
from gphotos_collector.status import read_status
from gphotos_collector.sync import SyncSummary, run_sync


@click.command()
@config_option
@click.option(
    "--profile",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Profile directory to create or refresh (copy it to the server afterwards).",
)
@BASE_URL_OPTION
@BROWSER_OPTION
def login(profile: Path, base_url: str, browser: str) -> None:
    """Sign in once in a plain browser window; then check the profile.

    Run it on a Linux desktop: Google refuses sign-in in an automated browser,
    so this opens a normal Chrome window. Sign in (add more accounts with the
    avatar menu if you want /u/1/...), wait until your photos show, and close
    the window.
    """
    found = find_browser(browser)
    click.echo(
        f"Opening {found.path.name} on {base_url}: sign in, wait for your photos, "
        "then close the window."
    )
    code = run_plain_browser(found, profile, base_url)
    if code not in (0, None):
        click.echo(f"(the browser exited with code {code})", err=True)
    account = check_account(profile, 0, base_url, browser)
    click.echo(f"Signed in as {account}. The profile is ready: {profile}")


@click.command()
@config_option
@browser_options
@click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
def check(profile: Path, account_index: int, base_url: str, browser: str, as_json: bool) -> None:
    """Headless: print the signed-in account, or exit 3 if the profile is signed out."""
    account = check_account(profile, account_index, base_url, browser)
    if as_json:
        click.echo(
            json.dumps(
                {"name": account.name, "email": account.email, "account_index": account_index}
            )
        )
    else:
        click.echo(f"Signed in as {account}")


def _sink_for_terminal() -> tuple[EventSink, bool]:
    """A progress bar on a terminal, JSON lines otherwise (cron, pipes)."""
    if sys.stdout.isatty():
        return ProgressBar(), True
    return JsonLinesSink(sys.stdout), False


def describe(summary: SyncSummary, dest: Path) -> str:
    text = (
        f"{summary.new} new, {summary.skipped} skipped, {summary.failed} failed, "
        f"{human_bytes(summary.bytes)} in {human_seconds(summary.seconds)}"
    )
    if summary.deleted_on_google:
        text += f"; {summary.deleted_on_google} deleted on Google (kept here)"
    return f"{summary.account}: {text}. Photos are in {dest}"


@click.command()
@config_option
@sync_options
def sync(**params: Any) -> None:
    """Back up the library's new items into DEST (incremental, resumable)."""
    options = sync_options_from(params)
    sink, on_terminal = _sink_for_terminal()
    summary = run_sync(options, sink)
    if on_terminal:
        click.echo(describe(summary, options.dest))
        if summary.failed:
            click.echo("Failed items are retried on the next run.", err=True)
    sys.exit(int(summary.exit_code))


@click.command()
@config_option
@click.option(
    "--dest", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(dest: Path, as_json: bool) -> None:
    """What DEST holds: items, bytes, last run, last success, pending failures."""
    figures = read_status(dest)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(f"Backup of {figures['account']} in {dest}")
    click.echo(
        f"  items: {figures['items']} ({figures['files']} files, {human_bytes(figures['bytes'])})"
    )
    for key, title in (("last_run", "last run"), ("last_success", "last success")):
        run = figures[key]
        if run is None:
            click.echo(f"  {title}: never")
        else:
            click.echo(
                f"  {title}: {run['finished_at']} (exit {run['exit_code']}, {run['new']} new, "
                f"{run['failed']} failed)"
            )
    if figures["deleted_on_google"]:
        click.echo(f"  deleted on Google, kept here: {figures['deleted_on_google']}")
    pending = figures["pending"]
    click.echo(f"  pending: {len(pending)}")
    for item in pending[:20]:
        click.echo(
            f"    {item['id']} {item['status']} ({item['failures']} failures): {item['error']}"
        )


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (login, check, sync, status):
        group.add_command(command)
