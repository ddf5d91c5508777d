"""`login` end to end: a plain Chromium process, signed in like a person would.

A person types into the window `login` opens. Here the window is headless, so a
wrapper adds a DevTools port the test uses to type; the collector itself still
starts a plain browser process with the portable-profile flags, waits for it to
be closed, then checks the profile headless.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from fakes.photos import FakePhotos
from tests.conftest import CHROMIUM, collector_command

ALICE = "alice@example.com"


def stop_group(process: subprocess.Popen[str]) -> None:
    """Kill what is left of the login command and the browser it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def desktop_browser(tmp_path: Path) -> Path:
    """A stand-in for the person's desktop Chrome: the real Chromium, headless."""
    script = tmp_path / "desktop-chromium"
    script.write_text(
        "#!/bin/sh\n"
        f"exec {CHROMIUM} --headless=new --no-sandbox --remote-debugging-port=0 \\\n"
        # Headless Chrome reports navigator.webdriver; a person's window does not.
        "  --disable-blink-features=AutomationControlled \\\n"
        '  --disable-background-networking --disable-component-update --disable-sync "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def sign_in_like_a_person(profile: Path, email: str) -> str:
    """Type into the open window, wait for the library, then close the browser."""
    from playwright.async_api import async_playwright

    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    port = port_file.read_text().split()[0]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        page = browser.contexts[0].pages[0]
        await page.wait_for_selector("#identifierId")
        flags = await page.evaluate("navigator.webdriver")
        await page.fill("#identifierId", email)
        await page.click("#identifierNext button")
        await page.wait_for_selector("input[name=Passwd]")
        await page.fill("input[name=Passwd]", "correct horse")
        await page.click("#passwordNext button")
        await page.wait_for_selector(f'[aria-label$="({email})"]')
        session = await browser.new_browser_cdp_session()
        await session.send("Browser.close")  # the person closes the window
    return str(flags)


def start_login(profile: Path, base_url: str, tmp_path: Path) -> subprocess.Popen[str]:
    """`gphotos-collector login` as a person starts it, with the stand-in desktop browser."""
    return subprocess.Popen(
        collector_command(
            "login",
            "--profile",
            str(profile),
            "--base-url",
            base_url,
            "--browser",
            str(desktop_browser(tmp_path)),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_login_signs_in_in_a_plain_browser_then_checks(tmp_path: Path) -> None:
    with FakePhotos(items=3, seed=1, accounts=[ALICE], media_scale=0.02) as fake:
        profile = tmp_path / "profile"
        process = start_login(profile, fake.base_url, tmp_path)
        try:
            webdriver = asyncio.run(asyncio.wait_for(sign_in_like_a_person(profile, ALICE), 90))
            stdout, stderr = process.communicate(timeout=120)
        finally:
            stop_group(process)  # a failed test must not leave a browser waiting for a person
        assert process.returncode == 0, stderr
        assert webdriver == "False"  # no automation flag: Google would allow this sign-in
        assert f"Signed in as {fake.full_name(ALICE)} <{ALICE}>" in stdout
        assert stat.S_IMODE(profile.stat().st_mode) == 0o700
        # The same profile works for the headless commands.
        check = subprocess.run(
            collector_command(
                "check",
                "--profile",
                str(profile),
                "--base-url",
                fake.base_url,
                "--browser",
                CHROMIUM,
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert check.returncode == 0, check.stderr


def test_login_with_an_abandoned_window_reports_signed_out(tmp_path: Path) -> None:
    with FakePhotos(items=3, seed=1, accounts=[ALICE], media_scale=0.02) as fake:
        profile = tmp_path / "profile"
        process = start_login(profile, fake.base_url, tmp_path)

        async def close_without_signing_in() -> None:
            from playwright.async_api import async_playwright

            port_file = profile / "DevToolsActivePort"
            while not port_file.exists():
                await asyncio.sleep(0.1)
            async with async_playwright() as playwright:
                port = port_file.read_text().split()[0]
                browser = await playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
                session = await browser.new_browser_cdp_session()
                await session.send("Browser.close")

        try:
            asyncio.run(asyncio.wait_for(close_without_signing_in(), 60))
            _, stderr = process.communicate(timeout=120)
        finally:
            stop_group(process)
        assert process.returncode == 3
        assert "signed out" in stderr
