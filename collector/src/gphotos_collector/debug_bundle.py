"""Evidence of a changed page: what the browser showed, for whoever fixes the collector.

A bundle is a folder `DEST/.gphotos-collector/debug/<UTC time>/` (or under
--debug-dir) that only the member can read, holding the visible page's HTML,
a screenshot, and `bundle.json` (URL, contract step, selector, browser and
collector versions, error). The account's e-mail address and name are
replaced in every text file. Only the newest few bundles are kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector import __version__

if TYPE_CHECKING:
    from playwright.async_api import Page

KEEP_BUNDLES = 5
EMAIL_STAND_IN = "account@example.invalid"
NAME_STAND_IN = "Account Holder"
BUNDLE_PREFIX = "bundle-"


def redact(text: str, email: str | None, name: str | None) -> str:
    """The account's address and name replaced (in any case), wherever they appear."""
    for secret, stand_in in ((email, EMAIL_STAND_IN), (name, NAME_STAND_IN)):
        if not secret:
            continue
        lowered = text.lower()
        needle = secret.lower()
        parts, start = [], 0
        while (found := lowered.find(needle, start)) >= 0:
            parts.append(text[start:found])
            parts.append(stand_in)
            start = found + len(needle)
        parts.append(text[start:])
        text = "".join(parts)
    return text


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _prune(folder: Path, keep: int) -> None:
    bundles = sorted(
        p for p in folder.iterdir() if p.name.startswith(BUNDLE_PREFIX) and not p.is_symlink()
    )
    for old in bundles[:-keep] if keep else bundles:
        shutil.rmtree(old, ignore_errors=True)


async def save_bundle(
    page: Page,
    folder: Path,
    *,
    step: str,
    target: str,
    error: str,
    browser_version: str,
    email: str | None,
    name: str | None,
    keep: int = KEEP_BUNDLES,
) -> Path:
    """Save what the page shows now into a new bundle under `folder`; its path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    bundle = folder / f"{BUNDLE_PREFIX}{stamp}"
    bundle.mkdir(mode=0o700)
    html = ""
    with contextlib.suppress(Exception):
        html = await page.content()
    _write_private(bundle / "page.html", redact(html, email, name).encode("utf-8"))
    with contextlib.suppress(Exception):
        _write_private(bundle / "screenshot.png", await page.screenshot(full_page=False))
    facts = {
        "time": stamp,
        "url": redact(page.url, email, name),
        "step": step,
        "target": target,
        "error": redact(error, email, name),
        "browser_version": browser_version,
        "collector_version": __version__,
        "contract": "shared/google-photos-web.md",
    }
    _write_private(
        bundle / "bundle.json", (json.dumps(facts, indent=2, ensure_ascii=False) + "\n").encode()
    )
    _prune(folder, keep)
    return bundle
