"""5. Deploy: `site.yml` on one booted Debian test host with two members, run twice.

The host is a `python -m testhosts` systemd-nspawn machine reached over real SSH;
the members back up two accounts of the fake Google Photos (each with its own
login profile), unmonitored. The first run installs everything (the browser
from Debian, the collector's virtualenv); the second must change nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.collector import BROWSER
from benchmarks.fake import FakeServer

REPO = Path(__file__).resolve().parent.parent
MEMBERS = {"alice": "alice@example.com", "bob": "bob@example.com"}
HOST_NAME = "bench"
PLAYBOOK_TIMEOUT = 1800


def _testhosts(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "testhosts", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"testhosts {args[0]} failed: {completed.stderr[-2000:]}")
    return completed.stdout


def _write_inventory(folder: Path, base_url: str, profiles: dict[str, Path]) -> None:
    (folder / "group_vars").mkdir(parents=True, exist_ok=True)
    (folder / "host_vars").mkdir(parents=True, exist_ok=True)
    (folder / "group_vars" / "gphotos_servers.yml").write_text(
        f"---\ngphotos_browser: chromium\ngphotos_accounts_base_url: {base_url}\n"
    )
    members = "".join(
        f"  - name: {name}\n    profile_src: {profiles[name]}\n    dest: /srv/photos/{name}\n"
        for name in MEMBERS
    )
    (folder / "host_vars" / f"{HOST_NAME}-1.yml").write_text(f"---\ngphotos_accounts:\n{members}")


def _playbook(inventory: Path, log: Path) -> tuple[float, dict[str, int], list[str]]:
    """One `ansible-playbook site.yml` run: its seconds, the recap's counts, changed tasks."""
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    started = time.monotonic()
    completed = subprocess.run(
        [f"{venv_bin}/ansible-playbook", "-i", str(inventory), "site.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
        timeout=PLAYBOOK_TIMEOUT,
    )
    seconds = time.monotonic() - started
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"site.yml failed (exit {completed.returncode}): see {log}")
    recap = {"ok": 0, "changed": 0, "failed": 0}
    for key in recap:
        recap[key] = sum(int(n) for n in re.findall(rf"\b{key}=(\d+)", completed.stdout))
    return seconds, recap, _changed_tasks(completed.stdout)


def _changed_tasks(output: str) -> list[str]:
    """The tasks that reported a change, by name, in order."""
    changed: list[str] = []
    task = ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line[line.index("[") + 1 : line.rindex("]")]
        elif line.startswith("changed:") and task not in changed:
            changed.append(task)
    return changed


def deploy(work: Path, logs: Path) -> dict[str, Any]:
    """Both runs' output is kept in `logs` (first-run.log, second-run.log)."""
    folder = work / "deploy"
    state = folder / "testhosts"
    inventory = folder / "inventory"
    inventory.mkdir(parents=True, exist_ok=True)
    with FakeServer(work, 12, seed=48, media_scale=0.05, accounts=tuple(MEMBERS.values())) as fake:
        profiles: dict[str, Path] = {}
        for name, email in MEMBERS.items():
            profiles[name] = folder / "profiles" / name
            fake.make_profile(profiles[name], BROWSER, account=email)
        _write_inventory(inventory, fake.base_url, profiles)
        started = time.monotonic()
        _testhosts(
            "up",
            "--name",
            HOST_NAME,
            "--count",
            "1",
            "--state-dir",
            str(state),
            "--group",
            "gphotos_servers",
            "--inventory",
            str(inventory / "hosts.ini"),
        )
        boot = time.monotonic() - started
        try:
            first, first_recap, _ = _playbook(inventory, logs / "deploy-first-run.log")
            second, second_recap, second_tasks = _playbook(
                inventory, logs / "deploy-second-run.log"
            )
        finally:
            _testhosts("down", "--state-dir", str(state))
    return {
        "members": len(MEMBERS),
        "host_boot_seconds": round(boot, 1),
        "first_run_seconds": round(first, 1),
        "first_run_changed": first_recap["changed"],
        "second_run_seconds": round(second, 1),
        "second_run_changed": second_recap["changed"],
        "second_run_changed_tasks": second_tasks,
    }
