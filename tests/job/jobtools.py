"""Helpers of the nightly-job tests: config files, CLI runs, recorded pings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakes.healthchecks import FakeHealthchecks

HERE = Path(__file__).resolve().parent
SCRIPTED_SYNC = HERE / "scripted_sync.py"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_config(path: Path, mode: int = 0o600, **values: Any) -> Path:
    """A TOML config file with these keys, created with `mode` from the start."""
    text = "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    path.chmod(mode)
    return path


def collector(
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    script: list[dict[str, Any]] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `gphotos-collector ARGS` as a real process.

    With `script`, the process runs the real CLI with the sync replaced by a
    scripted one (see scripted_sync.py), one step per sync attempt.
    """
    full_env = {**os.environ, **(env or {})}
    if script is not None:
        full_env["SCRIPTED_SYNC"] = json.dumps(script)
        command = [sys.executable, str(SCRIPTED_SYNC), *map(str, args)]
    else:
        command = [sys.executable, "-m", "gphotos_collector", *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def events(stdout: str) -> list[dict[str, Any]]:
    """The JSON-lines events a run printed."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def pings(fake: FakeHealthchecks) -> list[dict[str, Any]]:
    """The recorded requests that reached a check (ping or not counted)."""
    return [r for r in fake.records() if r["kind"] and not r["kind"].startswith("api")]
