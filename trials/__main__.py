"""`python -m trials [--only NAME...] [--seed N] [--no-hosts]`: every trial, one table.

Needs root (the disk trials mount a tmpfs and an ext4 image) and Chromium.
Exits 1 when a row fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trials import runs, safety, storage
from trials.core import TrialResult
from trials.hosts import host_trials

TRIALS: dict[str, Callable[[Path], TrialResult]] = {
    "kill -9": runs.kill_9,
    "faults": runs.faults,
    "session expires mid-run": runs.session_expires,
    "disk full": storage.disk_full,
    "read-only DEST": storage.read_only,
    "corrupt state": storage.corrupt_state,
    "state lost": storage.state_lost,
    "planted links": safety.planted_links,
    "hostile names": safety.hostile_names,
    "Healthchecks down or slow": runs.healthchecks_trouble,
    "always-failing item": runs.always_failing,
}


def machine() -> str:
    cores = os.cpu_count() or 0
    return f"{platform.node()}: {platform.system()} {platform.release()}, {cores} cores"


def table(rows: list[TrialResult]) -> str:
    lines = [
        "| trial | what it does | passes when | measured | result | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.name,
            row.what,
            row.passes_when,
            row.measured.replace("|", "/"),
            "pass" if row.passed else "FAIL",
            f"{row.seconds:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m trials", description=__doc__)
    parser.add_argument("--only", action="append", choices=[*TRIALS, "secrets", "isolation"])
    parser.add_argument("--no-hosts", action="store_true", help="skip secrets and isolation")
    parser.add_argument("--keep", action="store_true", help="keep the trials' folders")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        print("make trials needs root: the disk trials mount a tmpfs and an ext4 image.")
        return 2
    started = time.monotonic()
    workroot = Path(tempfile.mkdtemp(prefix="gphotos-trials-"))
    log = workroot / "fakes.log"
    rows: list[TrialResult] = []
    chosen = arguments.only or [*TRIALS, "secrets", "isolation"]
    for name, trial in TRIALS.items():
        if name not in chosen:
            continue
        print(f"trial: {name} ...", flush=True)
        folder = workroot / name.replace(" ", "-").replace("/", "-")
        folder.mkdir()
        begun = time.monotonic()
        # The fakes' servers log every reset connection on stderr: kept in a file.
        with open(log, "a") as stream, contextlib.redirect_stderr(stream):
            try:
                row = trial(folder)
            except Exception as error:  # a trial that breaks is a failed row, with why
                row = TrialResult(name, "", "", f"the trial broke: {type(error).__name__}: {error}")
        row.seconds = time.monotonic() - begun
        print(f"  {'pass' if row.passed else 'FAIL'} in {row.seconds:.0f} s: {row.measured}")
        rows.append(row)
    if not arguments.no_hosts and {"secrets", "isolation"} & set(chosen):
        print("trial: secrets, isolation (Molecule's default scenario) ...", flush=True)
        begun = time.monotonic()
        for row in host_trials():
            row.seconds = time.monotonic() - begun
            rows.append(row)
    if not arguments.keep:
        shutil.rmtree(workroot, ignore_errors=True)
    print()
    print(table(rows))
    failed = [row.name for row in rows if not row.passed]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} trials passed on {machine()} "
        f"in {time.monotonic() - started:.0f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
