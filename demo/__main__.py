"""`python -m demo [run|stop]`: deploy site.yml for two members onto a booted Debian test host.

run (the default): boots (or reuses) one test host, starts the fake Google Photos (a few
hundred photos) and the fake Healthchecks, signs the members' profiles in, deploys
site.yml, runs playbooks/run-now.yml and prints where the photos are. Everything keeps
running afterwards so you can look around; `stop` ends it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import testhosts
from demo.inventory import GROUP, MEMBERS, PROFILES, DemoMember, write_inventory

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = Path(os.environ.get("GPHOTOS_DEMO_DIR", "/var/lib/gphotos-demo"))
HOSTS_DIR = DEMO_DIR / "testhosts"
FAKES_DIR = DEMO_DIR / "fakes"
PROFILES_DIR = DEMO_DIR / "profiles"
INVENTORY_DIR = DEMO_DIR / "inventory"
HOST_NAME = "demo"
ITEMS_PER_ACCOUNT = 150
LIBRARY_SEED = 2024
MEDIA_SCALE = "0.1"  # small files: the demo shows the flow, not the bandwidth
BIN = Path(sys.executable).parent


def _say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (a loopback URL of ours)
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only with an error page
    except OSError:
        return False


def _running_fake(name: str) -> str | None:
    """The URL of a fake left running by an earlier `make demo`, if it still answers."""
    for service in testhosts.services_in(HOSTS_DIR):
        if service.name == name and service.is_running() and _answers(service.url):
            return service.url
    return None


def _start_fakes() -> tuple[str, str, bool]:
    """(photos URL, healthchecks URL, whether the photos fake is new)."""
    FAKES_DIR.mkdir(parents=True, exist_ok=True)
    photos_url = _running_fake("fake-photos")
    fresh = photos_url is None
    if photos_url is None:
        accounts = ",".join(dict.fromkeys(a for group in PROFILES.values() for a in group))
        url_file = FAKES_DIR / "photos.url"
        photos_url = testhosts.start_service(
            HOSTS_DIR,
            "fake-photos",
            [
                sys.executable, "-m", "fakes.photos", "serve", "--port", "0",
                "--items", str(ITEMS_PER_ACCOUNT), "--seed", str(LIBRARY_SEED),
                "--media-scale", MEDIA_SCALE, "--accounts", accounts,
                "--manifest", str(FAKES_DIR / "manifest.json"), "--url-file", str(url_file),
            ],
            url_file,
        ).url  # fmt: skip
    healthchecks_url = _running_fake("fake-healthchecks")
    if healthchecks_url is None:
        url_file = FAKES_DIR / "healthchecks.url"
        healthchecks_url = testhosts.start_service(
            HOSTS_DIR,
            "fake-healthchecks",
            [
                sys.executable, "-m", "fakes.healthchecks", "serve", "--port", "0",
                "--record", str(FAKES_DIR / "healthchecks.jsonl"), "--url-file", str(url_file),
            ],
            url_file,
        ).url  # fmt: skip
    return photos_url, healthchecks_url, fresh


def _make_profiles(photos_url: str, fresh_fake: bool) -> None:
    for profile, accounts in PROFILES.items():
        target = PROFILES_DIR / profile
        if target.is_dir() and not fresh_fake:
            continue  # still signed in to the fake that is running
        shutil.rmtree(target, ignore_errors=True)
        account_args = [arg for account in accounts for arg in ("--account", account)]
        subprocess.run(
            [sys.executable, "-m", "fakes.photos", "make-profile", "--base-url", photos_url,
             *account_args, "--profile", str(target)],
            check=True,
        )  # fmt: skip


def _ansible_playbook(*args: str) -> None:
    # from the repository root, so its ansible.cfg applies as it does for users
    subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(INVENTORY_DIR), *args], cwd=REPO, check=True
    )


def _status(host: testhosts.TestHost, dest: str) -> dict[str, Any]:
    result = host.run(f"gphotos-collector status --dest {shlex.quote(dest)} --json")
    try:
        status = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}
    return status if isinstance(status, dict) else {}


def _describe(member: DemoMember, status: dict[str, Any]) -> str:
    """One line per member from `gphotos-collector status --json`."""
    if not status:
        return f"  {member.name} ({member.account}): no status in {member.dest}"
    mib = int(status.get("bytes", 0)) / 1048576
    line = (
        f"  {member.name} ({member.account}): {status.get('items', '?')} items, "
        f"{status.get('files', '?')} files, {mib:.1f} MiB in {member.dest} "
        f"({status.get('archived', 0)} from the Archive, {status.get('edited', 0)} edited "
        "photos with their original)"
    )
    line += (
        f"; XMP sidecars of {status.get('with_details', 0)} items ({status.get('with_caption', 0)}"
        f" with a caption, {status.get('with_people', 0)} naming people); "
        f"{status.get('albums', 0)} albums as folders of links in {member.dest}/albums"
    )
    not_kept = status.get("albums_not_backed_up") or []
    if not_kept:
        named = ", ".join(f"{a['album']} ({a['items']})" for a in not_kept)
        line += f"; not backed up, added by others to shared albums: {named}"
    last = status.get("last_run") or {}
    if last:
        line += (
            f"; last run: {last.get('new', '?')} new, {last.get('failed', '?')} failed "
            f"in {float(last.get('seconds', 0)):.0f} s (exit {last.get('exit_code', '?')})"
        )
    pending = status.get("pending") or []
    if pending:
        reasons = sorted({str(p.get("error", p.get("status", ""))) for p in pending})
        line += f"; {len(pending)} to retry next run ({'; '.join(reasons)})"
    return line


def run() -> None:
    started = time.monotonic()
    DEMO_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # profiles and keys live here
    _say("Booting the Debian test host (the first time builds its base tree: about a minute)")
    (host,) = testhosts.up(
        HOSTS_DIR,
        name=HOST_NAME,
        count=1,
        inventory=INVENTORY_DIR / "hosts.ini",
        group=GROUP,
        reuse=True,
    )
    _say("Starting the fake Google Photos and the fake Healthchecks on this machine's loopback")
    photos_url, healthchecks_url, fresh = _start_fakes()
    _say("Signing the members' login profiles in through the fake's sign-in page")
    _make_profiles(photos_url, fresh)
    from fakes.healthchecks.server import DEFAULT_PING_KEY  # the fake's test-only key

    write_inventory(
        INVENTORY_DIR, host.name, photos_url, healthchecks_url, DEFAULT_PING_KEY, PROFILES_DIR
    )
    _say(f"Deploying site.yml (inventory {INVENTORY_DIR})")
    _ansible_playbook("site.yml")
    _say("Backing up now: playbooks/run-now.yml")
    _ansible_playbook("playbooks/run-now.yml")

    _say(f"Done in {time.monotonic() - started:.0f} s. On {host.name}:")
    for member in MEMBERS:
        print(_describe(member, _status(host, member.dest)))
    print(
        "\nThe host and the fakes keep running. Look around:\n"
        f"  {BIN}/python -m testhosts ssh --state-dir {HOSTS_DIR} {host.name}\n"
        f"  (or: {host.ssh_command_line()})\n"
        f"  then e.g. ls -R /srv/photos/alice | head; cat /etc/cron.d/gphotos-collector-alice\n"
        f"Fake Google Photos: {photos_url}\n"
        f"Fake Healthchecks: {healthchecks_url} (every ping in {FAKES_DIR}/healthchecks.jsonl)\n"
        "Stop everything: make demo-stop"
    )


def stop() -> None:
    stopped = testhosts.down(HOSTS_DIR)
    print(f"demo: stopped {', '.join(stopped) or 'nothing (not running)'}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    try:
        if command == "run":
            run()
        elif command == "stop":
            stop()
        else:
            print("usage: python -m demo [run|stop]", file=sys.stderr)
            return 2
    except testhosts.TestHostError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"demo: {shlex.join(map(str, error.cmd))} failed with exit code {error.returncode}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
