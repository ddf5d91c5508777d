"""One sign-in session on a server: a plain browser on a virtual display, shown through noVNC.

Installed by the gphotos_login role as login-session and started by playbooks/login.yml,
as the member's own user, inside a transient systemd unit (private /tmp, time limit):

    login-session --browser PATH --profile DIR --url URL --web-port N --vnc-port N
        --password-file FILE [--novnc-dir DIR] [--display N] [--geometry WxH]
        [--browser-arg ARG ...]

It starts Xvfb (no TCP, no abstract socket: only the unix socket in the unit's private
/tmp), x11vnc on 127.0.0.1:VNC_PORT only (password read from FILE, which x11vnc deletes
once read), websockify serving noVNC on 127.0.0.1:WEB_PORT only,
and the browser with the contract's portable-profile flags and no automation at all.
It returns when the browser exits (the person closed its window) with the browser's
exit code; everything it started is stopped first, and the unit's end stops whatever
is left (systemd kills the unit's whole cgroup).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

# The contract's flags that make the profile's cookie store portable (browser.py).
PORTABLE_PROFILE_FLAGS = ("--no-first-run", "--password-store=basic", "--use-mock-keychain")
STARTUP_TIMEOUT = 30.0


class SessionError(Exception):
    """A part of the session did not start."""


def keep_passwords_out(profile: Path) -> None:
    """Turn Chrome's password manager off in the profile: it must never hold a password."""
    preferences_file = profile / "Default" / "Preferences"
    preferences: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(preferences_file.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            preferences = loaded
    preferences["credentials_enable_service"] = False
    profile_settings = preferences.get("profile")
    if not isinstance(profile_settings, dict):
        profile_settings = {}
    profile_settings["password_manager_enabled"] = False
    preferences["profile"] = profile_settings
    preferences_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    preferences_file.write_text(json.dumps(preferences), encoding="utf-8")


def wait_for_path(path: Path, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not path.exists():
        if process.poll() is not None:
            raise SessionError(f"{what} exited with code {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SessionError(f"{what} was not ready after {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.1)


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise SessionError(f"{what} exited with code {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SessionError(
                f"{what} was not listening on port {port} after {STARTUP_TIMEOUT:.0f} s"
            )
        time.sleep(0.1)


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop the started programs, the last started first."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 5
    for process in reversed(processes):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if process.poll() is None:
            process.kill()
            process.wait()


def run(arguments: argparse.Namespace) -> int:
    os.umask(0o077)
    display = f":{arguments.display}"
    width, height = (int(part) for part in arguments.geometry.split("x", 1))
    processes: list[subprocess.Popen[bytes]] = []

    def on_signal(number: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        xvfb = subprocess.Popen(
            [
                "Xvfb",
                display,
                "-screen",
                "0",
                f"{width}x{height}x24",
                "-nolisten",
                "tcp",
                "-nolisten",
                "local",
            ],
            stdin=subprocess.DEVNULL,
        )
        processes.append(xvfb)
        # X's fixed socket path, in the unit's private /tmp (PrivateTmp=yes).
        x_socket = Path(f"/tmp/.X11-unix/X{arguments.display}")  # noqa: S108
        wait_for_path(x_socket, xvfb, "Xvfb")

        vnc = subprocess.Popen(
            [
                "x11vnc",
                "-display",
                display,
                # The loopback's IPv4 only, behind the one-time password.
                "-rfbport",
                str(arguments.vnc_port),
                "-rfbportv6",
                "-1",
                "-noipv6",
                "-localhost",
                # The first line is the password; x11vnc deletes the file once read.
                "-passwdfile",
                f"rm:{arguments.password_file}",
                "-forever",
                "-shared",
                "-noxdamage",
                "-quiet",
            ],
            stdin=subprocess.DEVNULL,
        )
        processes.append(vnc)
        wait_for_port(arguments.vnc_port, vnc, "x11vnc")

        web = subprocess.Popen(
            [
                "websockify",
                "--web",
                arguments.novnc_dir,
                f"127.0.0.1:{arguments.web_port}",
                f"127.0.0.1:{arguments.vnc_port}",
            ],
            stdin=subprocess.DEVNULL,
        )
        processes.append(web)

        keep_passwords_out(Path(arguments.profile))
        browser_command = [
            arguments.browser,
            f"--user-data-dir={arguments.profile}",
            *PORTABLE_PROFILE_FLAGS,
            "--window-position=0,0",
            "--hide-crash-restore-bubble",
            "--no-default-browser-check",
            f"--window-size={width},{height}",
            *arguments.browser_arg,
            arguments.url,
        ]
        browser = subprocess.Popen(
            browser_command, stdin=subprocess.DEVNULL, env={**os.environ, "DISPLAY": display}
        )
        processes.append(browser)
        print(f"login-session: browser started on display {display}", file=sys.stderr, flush=True)
        code = browser.wait()
        print(f"login-session: the browser exited with code {code}", file=sys.stderr, flush=True)
        return code
    except SessionError as error:
        print(f"login-session: {error}", file=sys.stderr, flush=True)
        return 70
    finally:
        stop(processes)
        with contextlib.suppress(FileNotFoundError):
            Path(arguments.password_file).unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--browser", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--vnc-port", type=int, required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--novnc-dir", default="/usr/share/novnc")
    parser.add_argument("--display", type=int, default=1)
    parser.add_argument("--geometry", default="1280x800")
    parser.add_argument("--browser-arg", action="append", default=[])
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
