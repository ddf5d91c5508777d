"""The quick reliability trials, as tests (`make trials` runs them all and prints the table;
the slow ones, kill -9, faults, disk full, read-only DEST and the host trials, only there)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trials import runs, safety, storage
from trials.core import TrialResult

QUICK: dict[str, Callable[[Path], TrialResult]] = {
    "corrupt state": storage.corrupt_state,
    "state lost": storage.state_lost,
    "planted links": safety.planted_links,
    "hostile names": safety.hostile_names,
    "always-failing item": runs.always_failing,
    "Healthchecks down or slow": runs.healthchecks_trouble,
    "session expires mid-run": runs.session_expires,
}


@pytest.mark.parametrize("name", list(QUICK))
def test_trial(name: str, tmp_path: Path) -> None:
    row = QUICK[name](tmp_path)
    print(f"{row.name}: {row.measured}")
    assert row.passed, f"{row.name}: passes when {row.passes_when}; measured: {row.measured}"
