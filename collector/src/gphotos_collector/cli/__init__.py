"""The `gphotos-collector` command: click groups, one module per group.

Errors a person can act on (CollectorError) are caught here, once: the message
goes to stderr and the process exits with the error's code. Anything else is a
bug and keeps its traceback (exit code 1).
"""

from __future__ import annotations

import sys

import click

from gphotos_collector import __version__
from gphotos_collector.errors import CollectorError


class CollectorGroup(click.Group):
    """A click group that turns CollectorError into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CollectorError as error:
            click.echo(f"gphotos-collector: {error.message}", err=True)
            sys.exit(int(error.exit_code))


@click.group(cls=CollectorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gphotos-collector")
def cli() -> None:
    """Back up a Google Photos library through the web app, originals with EXIF intact."""


def _register() -> None:
    from gphotos_collector.cli import doctor, library

    library.register(cli)
    doctor.register(cli)
    try:
        from gphotos_collector.cli import job
    except ImportError:  # the nightly-job commands are optional while being built
        return
    job.register(cli)


_register()


def main() -> None:
    cli(prog_name="gphotos-collector")
