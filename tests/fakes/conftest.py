"""Fixtures for the tests of the fake Google Photos (helpers: fakes.photos.testing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fakes.photos.testing import BROWSER_ARGS, CHROMIUM


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Any) -> Iterator[Any]:
    launched = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    yield launched
    launched.close()
