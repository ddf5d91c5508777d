"""`gphotos-collector run` as real processes (the sync scripted, see scripted_sync.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from jobtools import SCRIPTED_SYNC, collector, events, write_config

from fakes.healthchecks import FakeHealthchecks


def member(tmp_path: Path, name: str = "alice") -> dict[str, Any]:
    """Config keys of one member's job: profile, dest, lock, all under tmp_path/name."""
    home = tmp_path / name
    (home / "profile").mkdir(parents=True)
    (home / "photos").mkdir()
    return {
        "profile": str(home / "profile"),
        "dest": str(home / "photos"),
        "lock": str(home / "run.lock"),
        "account_name": name,
        "retry_delay": 0,
        "ping_timeout": 0.5,
    }


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def start_run(config: Path, script: list[dict[str, Any]]) -> subprocess.Popen[str]:
    env = {**os.environ, "SCRIPTED_SYNC": json.dumps(script)}
    return subprocess.Popen(
        [sys.executable, str(SCRIPTED_SYNC), "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_second_concurrent_run_exits_at_once(tmp_path: Path) -> None:
    hc = FakeHealthchecks(mode="hosted", record=tmp_path / "hc.jsonl").start()
    check = hc.add_check("alice")
    calls = tmp_path / "calls"
    config = write_config(tmp_path / "alice.toml", **member(tmp_path), ping_url=hc.ping_url(check))
    first = start_run(config, [{"sleep": 6, "calls": str(calls)}])
    try:
        wait_for(lambda: any(p.kind == "start" for p in check.pings))
        second = collector("run", "--config", config, script=[{"calls": str(calls)}])
        assert second.returncode == 5, second.stderr
        assert "another run holds the lock" in second.stderr
        assert first.poll() is None  # at once: the first run is still working
    finally:
        out, err = first.communicate(timeout=30)
        hc.stop()
    assert first.returncode == 0, err
    assert len(calls.read_text().splitlines()) == 1  # only the first run synced
    kinds = [(p.kind, p.rid) for p in check.pings]
    first_rid = events(out)[0]["rid"]
    assert kinds == [("start", first_rid), ("log", None), ("success", first_rid)]
    assert "this run did nothing" in check.pings[1].body


def test_the_exit_code_is_the_syncs_when_healthchecks_is_down(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(
        tmp_path / "alice.toml",
        **member(tmp_path),
        ping_url=f"http://127.0.0.1:{port}/{uuid.uuid4()}",
    )
    started = time.monotonic()
    result = collector("run", "--config", config, "--retries", "1", script=[{"exit": 4}])
    elapsed = time.monotonic() - started
    assert result.returncode == 4, result.stderr
    assert elapsed < 2 * (3 * 0.5 + 1.25 * 3) + 5  # two pings at most their bounded retries
    pings = [e for e in events(result.stdout) if e["event"] == "ping"]
    assert [(p["kind"], p["recorded"], p["attempts"]) for p in pings] == [
        ("start", False, 3),
        ("4", False, 3),
    ]
    assert "items still failed after 1 attempt" in result.stderr


def test_secrets_stay_out_of_the_process_list_and_the_output(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    check = hc.add_check("alice")
    log = tmp_path / "alice.log"
    config = write_config(
        tmp_path / "alice.toml",
        **member(tmp_path),
        ping_url=hc.ping_url(check),
        log_file=str(log),
    )
    process = start_run(config, [{"sleep": 1.5}])
    try:
        wait_for(lambda: any(p.kind == "start" for p in check.pings))
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().decode()
        assert check.uuid not in cmdline
        assert check.uuid not in environ
    finally:
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    for text in (out, err, log.read_text()):
        assert check.uuid not in text
    assert f"…{check.uuid[-4:]}" in out
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    # On the command line it still works, with a warning that it is visible to all.
    warned = collector("run", "--config", config, "--ping-url", hc.ping_url(check), script=[{}])
    assert warned.returncode == 0
    assert "process list" in warned.stderr
    assert check.uuid not in warned.stderr + warned.stdout


def test_config_values_with_command_line_winning(hc: FakeHealthchecks, tmp_path: Path) -> None:
    check = hc.add_check("alice")
    calls = tmp_path / "calls"
    (tmp_path / "logs").mkdir()
    config = write_config(
        tmp_path / "alice.toml",
        **member(tmp_path),
        ping_url=hc.ping_url(check),
        retries=3,
        log_file="logs/alice.log",  # relative to the config file's folder
    )
    script = [{"exit": 6, "calls": str(calls)}]
    result = collector("run", "--config", config, "--retries", "2", script=script)
    assert result.returncode == 6
    assert len(calls.read_text().splitlines()) == 2  # --retries 2 beat retries = 3
    assert (tmp_path / "logs" / "alice.log").read_text().splitlines() == result.stdout.splitlines()
    assert check.pings[-1].body.startswith("alice on ")  # account_name came from the file


def test_max_jobs_needs_a_slots_dir(tmp_path: Path) -> None:
    config = write_config(tmp_path / "alice.toml", **member(tmp_path))
    result = collector("run", "--config", config, "--max-jobs", "2", script=[{}])
    assert result.returncode == 2
    assert "--max-jobs needs --slots-dir" in result.stderr


def test_job_slots_hold_back_a_second_member_until_the_first_is_done(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    slots = tmp_path / "slots"
    slots.mkdir()
    slots.chmod(0o3770)  # the role's: setgid and sticky, one group for every member
    calls = tmp_path / "calls"
    configs, checks = {}, {}
    for name in ("alice", "bob"):
        checks[name] = hc.add_check(name)
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            **member(tmp_path, name),
            ping_url=hc.ping_url(checks[name]),
            slots_dir=str(slots),
            max_jobs=1,
            slot_wait=60,
        )
    alice = start_run(configs["alice"], [{"sleep": 2, "calls": str(calls)}])
    try:
        wait_for(lambda: calls.exists())
        bob = collector("run", "--config", configs["bob"], script=[{"calls": str(calls)}])
        bob_done = time.monotonic()
        assert bob.returncode == 0, bob.stderr
        assert alice.poll() is not None  # bob only ran once alice had finished
    finally:
        alice_out, _ = alice.communicate(timeout=30)
    assert alice.returncode == 0
    bob_events = events(bob.stdout)
    assert [e["event"] for e in bob_events if e["event"].startswith("slot")] == [
        "slot-wait",
        "slot",
    ]
    assert len(calls.read_text().splitlines()) == 2
    assert time.monotonic() - bob_done < 30
    # What Healthchecks saw, in the order it saw it: bob's start only after alice's
    # success, so bob's measured run time is his work, not his wait for the slot.
    owner = {checks["alice"].uuid: "alice", checks["bob"].uuid: "bob"}
    rids = {"alice": events(alice_out)[0]["rid"], "bob": bob_events[0]["rid"]}
    seen = [(owner[r["check"]], r["kind"], r["rid"]) for r in hc.records() if r["check"]]
    assert seen == [
        ("alice", "start", rids["alice"]),
        ("alice", "success", rids["alice"]),
        ("bob", "start", rids["bob"]),
        ("bob", "success", rids["bob"]),
    ]
    assert oct((slots / "slot-0.lock").stat().st_mode & 0o777) == "0o660"  # group-shared
