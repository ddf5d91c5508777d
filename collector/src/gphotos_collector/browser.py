"""Finding and starting Chrome or Chromium, headless for work, plain for sign-in."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gphotos_collector.errors import TemporaryError, UsageError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Playwright

    from gphotos_collector.events import EventSink

CHROME_CANDIDATES = (
    "/usr/bin/google-chrome-stable",
    "/usr/bin/google-chrome",
    "/opt/google/chrome/chrome",
)
CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium-browser",
)

# The contract's flags that make the profile's cookie store portable to a server.
PORTABLE_PROFILE_FLAGS = ("--no-first-run", "--password-store=basic", "--use-mock-keychain")
# Headless work: look like a normal Chrome, and never phone Google's other hosts.
HEADLESS_FLAGS = (
    "--disable-blink-features=AutomationControlled",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
)
VIEWPORT = {"width": 1366, "height": 900}
# Kernel switches that forbid the user namespaces Chrome's sandbox needs (Debian, Ubuntu).
USERNS_SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=0"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=0"),
    (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 24.04's AppArmor)",
    ),
)
SANDBOX_HELPER = "chrome-sandbox"  # Google Chrome's setuid helper, which needs no namespaces


def sandbox_problem(browser: Browser) -> str | None:
    """Why Chrome's sandbox cannot run here, or None when it can (or may: then we try)."""
    if os.geteuid() == 0:
        return "it runs as root, and Chrome's sandbox refuses root: run it as an ordinary user"
    helper = browser.path.resolve().parent / SANDBOX_HELPER
    with contextlib.suppress(OSError):
        if helper.stat().st_uid == 0 and helper.stat().st_mode & stat.S_ISUID:
            return None
    for path, forbidding, setting in USERNS_SWITCHES:
        try:
            value = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if value == forbidding:
            return f"the kernel forbids the user namespaces Chrome's sandbox needs ({setting})"
    return None


@dataclass(frozen=True)
class Browser:
    path: Path
    version: str  # e.g. "156.0.8078.73"

    @property
    def user_agent(self) -> str:
        """A normal desktop Chrome user agent (a HeadlessChrome one is a bot signal)."""
        major = self.version.split(".", 1)[0]
        # Chrome's reduced user agent: "X11; Linux x86_64" and "major.0.0.0" on every
        # Linux, arm64 included, so nothing here depends on the server.
        return (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )


def _first_executable(candidates: tuple[str, ...]) -> Path | None:
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def find_browser(choice: str) -> Browser:
    """Resolve --browser (chrome, chromium, auto or a path) to an installed browser."""
    if choice in ("chrome", "chromium", "auto"):
        lists = {
            "chrome": CHROME_CANDIDATES,
            "chromium": CHROMIUM_CANDIDATES,
            "auto": CHROME_CANDIDATES + CHROMIUM_CANDIDATES,
        }
        path = _first_executable(lists[choice])
        if path is None:
            wanted = {"chrome": "Google Chrome", "chromium": "Chromium"}.get(
                choice, "Google Chrome or Chromium"
            )
            raise UsageError(
                f"{wanted} is not installed here: install it (Debian: apt install chromium) "
                "or give its path with --browser PATH."
            )
    else:
        found = shutil.which(choice)
        path = Path(found) if found else Path(choice)
        if not os.access(path, os.X_OK) or path.is_dir():
            raise UsageError(f"--browser {choice}: no executable browser there.")
    return Browser(path=path, version=_version_of(path))


def _version_of(path: Path) -> str:
    try:
        result = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"the browser {path} does not start: {error}") from None
    match = re.search(r"(\d+\.\d+\.\d+\.\d+|\d+\.\d+)", result.stdout)
    if result.returncode != 0 or not match:
        raise UsageError(
            f"the browser {path} does not start ({result.stderr.strip() or result.stdout.strip()})."
        )
    return match.group(1)


def check_profile_dir(profile: Path) -> None:
    """A missing or unusable profile directory is a configuration error."""
    if not profile.is_dir():
        raise UsageError(
            f"profile directory {profile} does not exist: make one with "
            f"`gphotos-collector login --profile {profile}` on a desktop and copy it here."
        )
    if not os.access(profile, os.R_OK | os.W_OK | os.X_OK):
        raise UsageError(f"profile directory {profile} is not readable and writable by this user.")


def plain_command(browser: Browser, profile: Path, url: str) -> list[str]:
    """A plain Chrome launch with no automation: Google allows signing in there."""
    return [str(browser.path), f"--user-data-dir={profile}", *PORTABLE_PROFILE_FLAGS, url]


async def open_context(
    playwright: Playwright,
    browser: Browser,
    profile: Path,
    downloads_dir: Path | None = None,
    events: EventSink | None = None,
) -> BrowserContext:
    """A headless persistent context on the profile, ready for downloads; sandboxed
    wherever the kernel allows it (otherwise the `browser-sandbox-off` event says why)."""
    problem = sandbox_problem(browser)
    if problem is None:
        try:
            return await _launch(playwright, browser, profile, downloads_dir, sandbox=True)
        except TemporaryError as error:
            if "sandbox" not in error.message.lower() and "namespace" not in error.message:
                raise
            problem = f"Chrome could not start its sandbox ({error.message.splitlines()[0]})"
    if events is not None:
        events.emit(
            "browser-sandbox-off",
            reason=problem,
            message=(
                f"Chrome runs without its sandbox because {problem}; a page that exploited a "
                "browser bug could then reach this user's files. Allow unprivileged user "
                "namespaces (Debian: sysctl kernel.unprivileged_userns_clone=1) or install "
                "Google Chrome (its setuid sandbox needs none)."
            ),
        )
    return await _launch(playwright, browser, profile, downloads_dir, sandbox=False)


async def _launch(
    playwright: Playwright,
    browser: Browser,
    profile: Path,
    downloads_dir: Path | None,
    *,
    sandbox: bool,
) -> BrowserContext:
    try:
        return await playwright.chromium.launch_persistent_context(
            chromium_sandbox=sandbox,
            user_data_dir=str(profile),
            executable_path=str(browser.path),
            headless=True,
            args=[*PORTABLE_PROFILE_FLAGS, *HEADLESS_FLAGS],
            ignore_default_args=["--enable-automation"],
            user_agent=browser.user_agent,
            viewport=VIEWPORT,  # type: ignore[arg-type]
            locale="en-US",
            accept_downloads=True,
            downloads_path=str(downloads_dir) if downloads_dir else None,
        )
    except Exception as error:  # Playwright raises its own Error for every launch failure
        text = str(error)
        if "ProcessSingleton" in text or "profile appears to be in use" in text:
            raise TemporaryError(
                f"the profile {profile} is in use by another Chrome: wait for it to close."
            ) from None
        raise TemporaryError(f"the browser {browser.path} failed to start: {text[:500]}") from None
