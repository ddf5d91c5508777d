"""`doctor`: does Google's web app still do every step the backup relies on?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from gphotos_collector.cli.options import browser_options
from gphotos_collector.config import config_option
from gphotos_collector.doctor import DoctorReport, StepResult, run_doctor

TARGET_WIDTH = 44  # longer selectors and URLs are cut in the table (not in --json)
SHOWN_STATUS = {"pass": "pass", "fail": "FAIL", "not reached": "NOT REACHED", "skipped": "skip"}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(steps: list[StepResult]) -> str:
    """One row a step: name, result, time, what it relies on, what it saw."""
    rows = [("step", "result", "ms", "selector / URL / key", "detail")]
    for step in steps:
        status = SHOWN_STATUS.get(step.status, step.status)
        if not step.needed and step.status != "skipped":
            status += " (info)"
        rows.append((step.step, status, str(step.ms), _cut(step.target, TARGET_WIDTH), step.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def describe(report: DoctorReport) -> str:
    head = f"Signed in as {report.account}" if report.account else "Signed in as: unknown"
    text = f"{head}\n\n{format_table(report.steps)}\n\n"
    if report.ok:
        needed = sum(1 for s in report.steps if s.needed)
        text += (
            f"All {needed} steps the backup needs work (the other rows are informational), "
            f"checked in {report.seconds:.1f} s."
        )
    else:
        text += f"Checked in {report.seconds:.1f} s."
    return text


@click.command()
@config_option
@browser_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def doctor(profile: Path, account_index: int, base_url: str, browser: str, as_json: bool) -> None:
    """Headless, read-only: walk every step of Google's web app the backup relies on.

    Signed in, the grid, Recently added, the Archive, the viewer, stepping,
    the info panel, the More options menu and Shift+D (one download, started
    in a temporary folder and cancelled at once). Prints one row a step with
    the selector, URL or key it relies on. Exits 8 when a step the backup
    needs fails (most likely Google changed its page), 3 when the profile is
    signed out, 0 when everything works.
    """
    report = run_doctor(profile, account_index, base_url, browser)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(describe(report))
    if not report.ok:
        raise report.error()


def register(group: click.Group) -> None:
    """Add this module's command to the top-level group."""
    group.add_command(doctor)
