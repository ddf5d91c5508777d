"""Fixtures of the nightly-job tests: a fake Healthchecks in each mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.healthchecks import FakeHealthchecks


@pytest.fixture(params=["selfhosted", "hosted"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both kinds of server: a test using it runs once against each."""
    return request.param


@pytest.fixture
def hc(mode: str, tmp_path: Path) -> Iterator[FakeHealthchecks]:
    with FakeHealthchecks(mode=mode, record=tmp_path / "hc-record.jsonl") as fake:
        yield fake
