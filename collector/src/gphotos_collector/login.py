"""`login`: sign in once in a plain Chrome window, so Google allows it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gphotos_collector import google_site
from gphotos_collector.browser import Browser, plain_command

SINGLETON_LOCK = "SingletonLock"
POLL_INTERVAL = 0.5


def _profile_in_use(profile: Path) -> bool:
    """Does a running Chrome hold the profile (SingletonLock -> host-pid)?"""
    try:
        target = str((profile / SINGLETON_LOCK).readlink())
    except OSError:
        return False
    pid = target.rsplit("-", 1)[-1]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_plain_browser(browser: Browser, profile: Path, base_url: str) -> int:
    """Open Google Photos' sign-in in a plain Chrome and wait until its window is closed."""
    profile.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = plain_command(browser, profile, google_site.login_url(base_url))
    code = subprocess.run(command, check=False).returncode
    # A Chrome already running on this profile takes the window over and we return at
    # once: wait for that Chrome to let the profile go too.
    while _profile_in_use(profile):
        time.sleep(POLL_INTERVAL)
    return code
