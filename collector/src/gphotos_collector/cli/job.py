"""The nightly job's commands: `run` and `healthchecks ensure`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from gphotos_collector.cli.options import sync_options, sync_options_from
from gphotos_collector.config import config_option, read_private_file
from gphotos_collector.errors import UsageError
from gphotos_collector.healthchecks import (
    DEFAULT_PING_TIMEOUT,
    CheckSpec,
    ManagementClient,
    endpoint_from_options,
)
from gphotos_collector.job import (
    DEFAULT_ATTEMPTS,
    DEFAULT_RETRY_DELAY,
    DEFAULT_SLOT_WAIT,
    JobOptions,
    run_job,
)

API_KEY_ENV = "HEALTHCHECKS_API_KEY"
SECRET_OPTIONS = {"ping_url": "--ping-url", "ping_key": "--ping-key"}


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(run)
    group.add_command(healthchecks)


def _warn_secrets_on_command_line(ctx: click.Context) -> None:
    for name, flag in SECRET_OPTIONS.items():
        if ctx.params.get(name) and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            click.echo(
                f"gphotos-collector: warning: {flag} on the command line can be read by every "
                f"user of this host in the process list; put `{name} = ...` in the --config "
                f"file (chmod 600) instead",
                err=True,
            )


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


@click.command("run")
@config_option
@sync_options
@click.option("--ping-url", help="The check's full ping URL (hosted or self-hosted). A secret.")
@click.option(
    "--ping-base",
    help="Ping endpoint for --ping-key/--slug: https://hc-ping.com (the default) or "
    "SITE_ROOT/ping of a self-hosted server.",
)
@click.option("--ping-key", help="The project's ping key, to ping by --slug. A secret.")
@click.option("--slug", help="The check's slug (a-z 0-9 - _), with --ping-key.")
@click.option("--create", is_flag=True, help="Create the slug's check if it does not exist.")
@click.option(
    "--retries",
    type=click.IntRange(1, 10),
    default=DEFAULT_ATTEMPTS,
    show_default=True,
    help="Attempts in all when the sync fails in a way that may pass (network, stalls).",
)
@click.option(
    "--retry-delay",
    type=click.FloatRange(0, 3600),
    default=DEFAULT_RETRY_DELAY,
    show_default=True,
    help="Seconds before the second attempt; doubled before each next one.",
)
@click.option(
    "--lock",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lock file: a second run while one holds it exits at once (code 5). "
    "Default: DEST/.gphotos-collector/run.lock.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also append the JSON lines to this file (created 0600).",
)
@click.option(
    "--slots-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of the host-wide job slots shared by every member's job.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="With --slots-dir: how many jobs may run at once on this host.",
)
@click.option(
    "--slot-wait",
    type=click.FloatRange(0, 24 * 3600),
    default=DEFAULT_SLOT_WAIT,
    show_default=True,
    help="With --slots-dir: seconds to wait for a free slot before giving up (code 6).",
)
@click.option(
    "--account-name",
    help="The family member this job backs up, as people know them; used in ping messages.",
)
@click.option(
    "--refresh-hint",
    help="What to do when the profile is signed out (the exact commands), put in the ping.",
)
@click.option(
    "--ping-timeout",
    type=click.FloatRange(0.1, 60),
    default=DEFAULT_PING_TIMEOUT,
    show_default=True,
    help="Seconds one ping attempt may take (3 attempts at most, with backoff).",
)
@click.pass_context
def run(ctx: click.Context, /, **params: Any) -> None:
    """The nightly job: sync with retries, lock, job slots and Healthchecks pings.

    Takes every option of `sync`. Exits with the sync's code whatever the
    pings did; 5 when another run holds the lock. Put secrets (ping_url,
    ping_key) in the --config file, not on the command line.
    """
    _warn_secrets_on_command_line(ctx)
    if (
        ctx.get_parameter_source("max_jobs") == ParameterSource.COMMANDLINE
        and not params["slots_dir"]
    ):
        raise UsageError("--max-jobs needs --slots-dir (the folder the job slots live in)")
    options = JobOptions(
        sync=sync_options_from(params),
        ping=endpoint_from_options(
            ping_url=params["ping_url"],
            ping_base=params["ping_base"],
            ping_key=params["ping_key"],
            slug=params["slug"],
            create=params["create"],
        ),
        attempts=params["retries"],
        retry_delay=params["retry_delay"],
        lock=params["lock"],
        log_file=params["log_file"],
        slots_dir=params["slots_dir"],
        max_jobs=params["max_jobs"],
        slot_wait=params["slot_wait"],
        account_name=params["account_name"],
        refresh_hint=params["refresh_hint"],
        ping_timeout=params["ping_timeout"],
    )
    # A shutdown, `systemctl stop cron` or `kill` ends the run the way Ctrl-C does:
    # the browser is closed and Healthchecks hears that the run was interrupted.
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    result = run_job(options)
    if result.exit_code != 0:
        click.echo(f"gphotos-collector: {result.message}", err=True)
    ctx.exit(result.exit_code)


@click.group("healthchecks")
def healthchecks() -> None:
    """Healthchecks checks for the nightly job."""


def _api_key(ctx: click.Context, api_key: str | None, api_key_file: Path | None) -> str:
    if api_key and ctx.get_parameter_source("api_key") == ParameterSource.COMMANDLINE:
        raise UsageError(
            "the API key must not be given on the command line (every user of this host can "
            f"read it in the process list): put it in the environment variable {API_KEY_ENV}, "
            "in a file given with --api-key-file, or as api_key in the --config file"
        )
    if api_key_file is not None:
        key = read_private_file(api_key_file, "API key file").decode("utf-8", "replace").strip()
        if not key:
            raise UsageError(f"the API key file {api_key_file} is empty")
        return key
    if api_key:
        return api_key
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise UsageError(
            f"no Healthchecks API key: set {API_KEY_ENV} or give --api-key-file FILE "
            "(a file only you can read) holding the project's read-write API key"
        )
    return key


@healthchecks.command("ensure")
@config_option
@click.option(
    "--api-url",
    required=True,
    help="The Healthchecks site: https://healthchecks.io or a self-hosted SITE_ROOT.",
)
@click.option(
    "--api-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"File holding the project's read-write API key (else ${API_KEY_ENV}).",
)
@click.option("--api-key", hidden=True, help="Only from the --config file, never the command line.")
@click.option("--slug", required=True, help="The check's slug (a-z 0-9 - _): one check per slug.")
@click.option("--name", required=True, help="The check's name, as shown in Healthchecks.")
@click.option("--schedule", required=True, help='The job\'s cron schedule, like "17 3 * * *".')
@click.option("--tz", default="UTC", show_default=True, help="The schedule's time zone.")
@click.option(
    "--grace",
    type=click.IntRange(60, 31_536_000),
    default=3600,
    show_default=True,
    help="Seconds Healthchecks waits past the schedule (or a start) before alerting.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("--json", "json_output", is_flag=True, help="Print a JSON object, not only the URL.")
@click.pass_context
def ensure(ctx: click.Context, /, **params: Any) -> None:
    """Create or update the job's check (idempotent) and print its ping URL.

    The ping URL is a secret: store it in the job's --config file (chmod 600).
    """
    key = _api_key(ctx, params["api_key"], params["api_key_file"])
    client = ManagementClient(params["api_url"], key)
    spec = CheckSpec(
        name=params["name"],
        slug=params["slug"],
        schedule=params["schedule"],
        tz=params["tz"],
        grace=params["grace"],
    )
    if not spec.slug or not all(c.isdigit() or c in "-_" or "a" <= c <= "z" for c in spec.slug):
        raise UsageError(f"--slug {spec.slug!r} may only hold a-z, 0-9, - and _")
    result = client.ensure_check(spec, dry_run=params["dry_run"])
    click.echo(
        f"gphotos-collector: check {spec.slug!r} on {client.host}: {result.action}", err=True
    )
    if params["json_output"]:
        doc = {
            "action": result.action,
            "changed": result.changed,
            "slug": spec.slug,
            "uuid": result.uuid,
            "ping_url": result.ping_url,
        }
        click.echo(json.dumps(doc))
    elif result.ping_url:
        click.echo(result.ping_url)
