"""The two trials that need a deployed host: secrets and isolation, on Molecule's
`default` scenario (two booted Debian hosts, real SSH; converged first if it is not up):
its testinfra verifier, run on molecule/default/tests/test_trials_security.py only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from trials.core import TrialResult

REPO = Path(__file__).resolve().parent.parent
SCENARIO = "default"
TESTS = "test_trials_security.py"
ROWS = {
    "test_trial_secrets": TrialResult(
        "secrets",
        "a deployed member's nightly job run as cron would, then `ansible-playbook -v "
        "run-now.yml`; ps sampled every 0.2 s",
        "no ping URL, key or cookie in ps, cron files, logs, journal or ansible-playbook -v",
    ),
    "test_trial_isolation": TrialResult(
        "isolation",
        "two members on one host try to read each other's photos, state, profile, cookies, "
        "config and log",
        "every read refused",
    ),
}


def _molecule(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        [str(Path(bin_dir) / "molecule"), *args, "-s", SCENARIO],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        timeout=timeout,
        check=False,
    )


def scenario_up() -> bool:
    listing = _molecule("list", "--format", "plain")
    rows = [line.split() for line in listing.stdout.splitlines() if SCENARIO in line.split()]
    return bool(rows) and all(row[-1] == "true" for row in rows)


def host_trials(converge: bool = True) -> list[TrialResult]:
    """Run the verifier on the scenario (converged first if it is not up and `converge`)."""
    rows = [ROWS[key] for key in ROWS]
    if not scenario_up():
        if not converge:
            for row in rows:
                row.measured = f"not run: Molecule's {SCENARIO} scenario is not up"
            return rows
        converged = _molecule("converge")
        if converged.returncode != 0:
            for row in rows:
                row.measured = "not run: `molecule converge` failed: " + converged.stderr[-200:]
            return rows
    verified = _verify()
    output = verified.stdout + verified.stderr
    for key, row in ROWS.items():
        match = re.search(rf"{key}\w*\[[^\]]*\] (PASSED|FAILED|ERROR|SKIPPED)", output)
        outcome = match.group(1) if match else "NOT RUN: " + output.strip()[-200:]
        row.passed = outcome == "PASSED"
        row.measured = f"testinfra on booted host-1 over SSH: {outcome}"
        if not row.passed:
            failure = re.search(r"^E +(AssertionError: .*|assert .*)$", output, re.MULTILINE)
            row.measured += f" ({failure.group(1)[:150]})" if failure else ""
    return rows


def _ephemeral_dir() -> Path | None:
    """Molecule's folder for this checkout's scenario (its inventory links back here)."""
    wanted = (REPO / "molecule" / SCENARIO / "inventory" / "host_vars").resolve()
    for folder in sorted(Path.home().glob(f".ansible/tmp/molecule.*.{SCENARIO}")):
        if (folder / "inventory" / "host_vars").resolve() == wanted:
            return folder
    return None


def _verify() -> subprocess.CompletedProcess[str]:
    """The scenario's testinfra verifier, as `molecule verify` runs it, on TESTS only."""
    ephemeral = _ephemeral_dir()
    if ephemeral is None:
        return subprocess.CompletedProcess([], 1, "", "Molecule's ephemeral folder not found")
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [
            str(bin_dir / "pytest"),
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-v",
            f"--ansible-inventory={ephemeral / 'inventory'}",
            "--connection=ansible",
            str(REPO / "molecule" / SCENARIO / "tests" / TESTS),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
            "MOLECULE_SCENARIO_DIRECTORY": str(REPO / "molecule" / SCENARIO),
            "MOLECULE_PROJECT_DIRECTORY": str(REPO),
            "PYTHONPATH": str(REPO / "molecule" / "shared"),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        },
        timeout=1800,
        check=False,
    )
