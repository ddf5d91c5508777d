"""Commands that work on one library: login, check, sync, status, verify."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from gphotos_collector.account import check_account
from gphotos_collector.albums import describe_albums
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
from gphotos_collector.progress import ProgressDisplay, human_bytes, human_seconds
from gphotos_collector.status import read_status
from gphotos_collector.sync import SyncSummary, run_sync
from gphotos_collector.verify import VerifyFailedError, VerifyReport, verify


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
    """A live display on a terminal (stderr), JSON lines otherwise (cron, pipes)."""
    if sys.stdout.isatty():
        return ProgressDisplay(), True
    return JsonLinesSink(sys.stdout), False


def describe(summary: SyncSummary, dest: Path) -> str:
    text = (
        f"{summary.new} new, {summary.skipped} skipped, {summary.failed} failed, "
        f"{human_bytes(summary.bytes)} in {human_seconds(summary.seconds)}"
    )
    if summary.deleted_on_google:
        text += f"; {summary.deleted_on_google} deleted on Google (kept here)"
    if summary.sidecars_unavailable:
        text += f"; NO sidecars (captions, people, albums not kept): {summary.sidecars_unavailable}"
    elif summary.sidecars:
        text += f"; {summary.sidecars} XMP sidecars written"
    if summary.details_changed:
        text += f"; captions, people or albums changed on {summary.details_changed} items"
    if summary.albums is not None:
        text += "; " + describe_albums(summary.albums)
    if summary.details_unread:
        text += f"; {summary.details_unread} items' info panel unread (read again next run)"
    return f"{summary.account}: {text}. Photos are in {dest}"


@click.command()
@config_option
@sync_options
def sync(**params: Any) -> None:
    """Back up the library's new items into DEST (incremental, resumable)."""
    options = sync_options_from(params)
    sink, on_terminal = _sink_for_terminal()
    with sink if isinstance(sink, ProgressDisplay) else contextlib.nullcontext():
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
    if figures["kinds"]:
        kinds = ", ".join(f"{count} {kind}" for kind, count in figures["kinds"].items())
        click.echo(f"  by kind: {kinds}")
    for key, title in (("last_run", "last run"), ("last_success", "last success")):
        run = figures[key]
        if run is None:
            click.echo(f"  {title}: never")
        else:
            click.echo(
                f"  {title}: {run['finished_at']} (exit {run['exit_code']}, {run['new']} new, "
                f"{run['failed']} failed)"
            )
    if figures["archived"] or figures["edited"]:
        click.echo(
            f"  from the Archive: {figures['archived']}; "
            f"edited photos kept with their original: {figures['edited']}"
        )
    if figures["deleted_on_google"]:
        click.echo(f"  deleted on Google, kept here: {figures['deleted_on_google']}")
    click.echo(
        f"  details read (XMP sidecars): {figures['with_details']} of {figures['items']} items; "
        f"with a caption: {figures['with_caption']}, people: {figures['with_people']}, "
        f"in albums: {figures['with_albums']}"
    )
    click.echo(f"  albums: {figures['albums']} (folders of links under {dest}/albums)")
    for album in figures["albums_not_backed_up"]:
        click.echo(
            f"    not backed up: {album['items']} items others added to the shared album "
            f"{album['album']!r}"
        )
    pending = figures["pending"]
    click.echo(f"  pending: {len(pending)}")
    for item in pending[:20]:
        click.echo(
            f"    {item['id']} {item['status']} ({item['failures']} failures): {item['error']}"
        )


def _print_report(report: VerifyReport) -> None:
    problems = len(report.missing) + len(report.changed)
    click.echo(
        f"Checked {report.checked} files ({human_bytes(report.bytes)} hashed) in {report.dest}: "
        f"{len(report.missing)} missing, {len(report.changed)} changed, "
        f"{len(report.unknown)} unknown."
    )
    for problem in [*report.missing, *report.changed]:
        click.echo(f"  {problem.what:8} {problem.path}  (item {problem.item_id}): {problem.detail}")
    for problem in report.unknown:
        click.echo(f"  {problem.what:8} {problem.path}: {problem.detail}")
    for repair in report.repairs:
        for path, target in repair.moved.items():
            click.echo(f"  moved aside {path} -> {target}")
        if not repair.refetch:
            click.echo(f"  not repaired: item {repair.item_id}: {repair.note}")
    if report.repairs:
        click.echo(
            f"{report.repaired} of {len(report.repairs)} items with a missing or changed file "
            "will be fetched again by the next sync."
        )
    elif problems:
        click.echo("Run `gphotos-collector verify --repair` to fetch them again on the next sync.")
    if report.unknown:
        click.echo("Unknown files are left alone: no backed-up item claims them.")


@click.command("verify")
@config_option
@click.option(
    "--dest", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--repair",
    is_flag=True,
    help="Move changed files aside (into .gphotos-collector/quarantine/) and have the next "
    "sync fetch every missing or changed item again.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def verify_command(dest: Path, repair: bool, as_json: bool) -> None:
    """Hash every backed-up file again: report missing, changed and unknown files.

    Exits 7 when a recorded file is missing or changed (also after --repair:
    the next sync fetches them); unknown files alone are not an error.
    """
    report = verify(dest, repair=repair)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if not report.intact:
        problems = len(report.missing) + len(report.changed)
        done = (
            f"{report.repaired} items will be fetched again by the next sync"
            if repair
            else "`verify --repair` has the next sync fetch them again"
        )
        raise VerifyFailedError(
            f"{problems} backed-up files are missing or changed in {dest}: {done}."
        )


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in (login, check, sync, status, verify_command):
        group.add_command(command)
