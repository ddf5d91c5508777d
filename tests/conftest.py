"""Shared fixtures: the collector's CLI as a real process, and where the browser is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GPHOTOS_TEST_BROWSER", "/usr/bin/chromium")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def event(self, name: str) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == name]
        assert found, f"no {name!r} event in:\n{self.stdout}\n{self.stderr}"
        return found[-1]

    @property
    def summary(self) -> dict[str, Any]:
        return self.event("summary")


def collector_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gphotos_collector", *args]


def run_collector(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> CliResult:
    """Run gphotos-collector as a real process (stdout is a pipe: JSON lines)."""
    completed = subprocess.run(
        collector_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def collector() -> Any:
    return run_collector
