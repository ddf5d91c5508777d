"""`run`'s orchestration (job.run_job) with a scripted sync, against the fake Healthchecks.

The sync is injected here so every outcome (success, items failed, signed
out, temporary failures, a bug) can be played exactly; the pings travel over
real HTTP to the fake in both modes. End-to-end runs with the real sync are in
test_run_end_to_end.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import socket
import stat
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from gphotos_collector.errors import (
    ExitCode,
    ItemsFailedError,
    SignedOutError,
    TemporaryError,
    UsageError,
)
from gphotos_collector.events import EventSink
from gphotos_collector.healthchecks import PingEndpoint, endpoint_from_options
from gphotos_collector.job import JobOptions, JobResult, human_seconds, run_job
from gphotos_collector.lock import JobSlots, RunLock
from gphotos_collector.sync import SyncOptions, SyncSummary

from fakes.healthchecks import FakeHealthchecks

HOST = socket.gethostname()


class ScriptedSync:
    """Plays one step per attempt: a SyncSummary to return or an exception to raise."""

    def __init__(self, *steps: SyncSummary | BaseException, lines: int = 5) -> None:
        self.steps = steps
        self.lines = lines
        self.calls = 0

    def __call__(self, options: SyncOptions, events: EventSink) -> SyncSummary:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        events.emit("sync-start", attempt=self.calls)
        for n in range(self.lines):
            events.emit("item-done", n=n, name=f"IMG_{n:05d}.JPG", padding="é" * 40)
        if isinstance(step, BaseException):
            raise step
        events.emit("summary", new=step.new, failed=step.failed)
        return step


def ok(new: int = 3) -> SyncSummary:
    return SyncSummary(account="alice@example.com", new=new, skipped=7, bytes=4_200_000, seconds=2)


def items_failed() -> SyncSummary:
    return SyncSummary(account="alice@example.com", new=1, failed=2, seconds=2)


def signed_out(profile: Path) -> SignedOutError:
    return SignedOutError(
        f"the profile {profile} is signed out of Google Photos", profile=str(profile)
    )


def options_for(tmp_path: Path, ping: PingEndpoint | None, **overrides: Any) -> JobOptions:
    profile, dest = tmp_path / "profile", tmp_path / "dest"
    profile.mkdir(exist_ok=True)
    dest.mkdir(exist_ok=True)
    settings: dict[str, Any] = {
        "retry_delay": 0.0,
        "ping_timeout": 0.5,
        "ping_backoff": 0.05,
        "account_name": "alice",
    }
    settings.update(overrides)
    return JobOptions(sync=SyncOptions(profile=profile, dest=dest), ping=ping, **settings)


def monitored(fake: FakeHealthchecks, name: str = "alice") -> tuple[PingEndpoint, str]:
    check = fake.add_check(name, slug=name)
    endpoint = endpoint_from_options(ping_url=fake.ping_url(check))
    assert endpoint is not None
    return endpoint, check.uuid


def run(options: JobOptions, sync: ScriptedSync, **kwargs: Any) -> tuple[JobResult, list[dict]]:
    out = io.StringIO()
    result = run_job(options, sync=sync, stdout=out, **kwargs)
    return result, [json.loads(line) for line in out.getvalue().splitlines()]


def check_pings(fake: FakeHealthchecks, code: str) -> list[Any]:
    return next(c for c in fake.checks if c.uuid == code).pings


def test_a_good_run_sends_start_and_success_with_one_run_id(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(ok(new=3))
    result, events = run(options_for(tmp_path, endpoint), sync)
    assert result.exit_code == 0
    pings = check_pings(hc, code)
    assert [p.kind for p in pings] == ["start", "success"]
    assert pings[0].rid == pings[1].rid == result.rid
    uuid.UUID(result.rid)
    first_line = pings[1].body.splitlines()[0]
    assert first_line.startswith(f"alice (alice@example.com) on {HOST}: backup done: 3 new")
    assert json.loads(pings[1].body.splitlines()[1])["summary"]["new"] == 3
    assert result.pings == ["start", "success"]
    names = [e["event"] for e in events]
    assert names[0] == "run-start" and names[-1] == "run-end"
    assert {"attempt", "ping", "sync-start", "summary"} <= set(names)
    assert events[-1]["exit_code"] == 0


def test_a_second_good_run_gets_a_new_run_id(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    first, _ = run(options_for(tmp_path, endpoint), ScriptedSync(ok()))
    second, _ = run(options_for(tmp_path, endpoint), ScriptedSync(ok()))
    assert first.rid != second.rid
    assert [p.rid for p in check_pings(hc, code)] == [first.rid] * 2 + [second.rid] * 2


@pytest.mark.parametrize("limit", [600, 4000])
def test_a_failed_run_sends_its_exit_code_and_a_tail_within_the_limit(
    tmp_path: Path, mode: str, limit: int
) -> None:
    with FakeHealthchecks(mode=mode, body_limit=limit, record=tmp_path / "r.jsonl") as fake:
        endpoint, code = monitored(fake)
        sync = ScriptedSync(items_failed(), lines=300)
        result, events = run(options_for(tmp_path, endpoint, attempts=2), sync)
        assert result.exit_code == ExitCode.ITEMS_FAILED
        assert sync.calls == 2  # items failed is worth a second attempt
        pings = check_pings(fake, code)
        assert [(p.kind, p.exit_status) for p in pings] == [("start", None), ("fail", 4)]
        failure = next(r for r in fake.records() if r["kind"] == "4")
        assert failure["body_bytes"] <= limit
        assert failure["body_bytes"] > limit - 300  # the room is used, up to a line
        body = failure["body"]
        lines = body.splitlines()
        assert lines[0] == (
            f"alice (alice@example.com) on {HOST}: 2 items still failed after 2 attempts "
            f"(1 new item saved); nothing to do: failed items are tried again on the next "
            f"run (the log's item-failed lines name them)"
        )
        assert lines[1].startswith(f"[output cut to fit the server's {limit}-byte limit")
        assert json.loads(lines[-1])["event"] in ("attempt-failed", "summary")  # the very end
        assert [e["n"] for e in events if e["event"] == "attempt-failed"] == [1, 2]


def test_a_signed_out_profile_fails_at_once_with_the_refresh_sentence_first(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    endpoint, code = monitored(hc)
    hint = (
        "run `gphotos-collector login --profile ~/alice` on a desktop, then "
        "`ansible-playbook playbooks/refresh-profile.yml -e account=alice`"
    )
    options = options_for(tmp_path, endpoint, attempts=3, refresh_hint=hint)
    sync = ScriptedSync(signed_out(options.sync.profile))
    started = time.monotonic()
    result, events = run(options, sync)
    assert time.monotonic() - started < 5
    assert result.exit_code == ExitCode.SIGNED_OUT
    assert sync.calls == 1  # never retried
    assert not [e for e in events if e["event"] == "retry-wait"]
    pings = check_pings(hc, code)
    assert [(p.kind, p.exit_status) for p in pings] == [("start", None), ("fail", 3)]
    lines = pings[1].body.splitlines()
    assert lines[0] == (
        f"alice on {HOST} is signed out of Google Photos, nothing was backed up: {hint}"
    )
    assert lines[1] == f"the profile {options.sync.profile} is signed out of Google Photos"
    assert result.message == lines[0]


def test_the_default_refresh_sentence_names_the_profile(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    endpoint, code = monitored(hc)
    options = options_for(tmp_path, endpoint, account_name=None)
    run(options, ScriptedSync(signed_out(options.sync.profile)))
    first = check_pings(hc, code)[1].body.splitlines()[0]
    assert first.startswith(f"the backup of profile {options.sync.profile} on {HOST} is signed out")
    assert "gphotos-collector login --profile" in first
    assert f"copy that profile folder to {options.sync.profile} on {HOST}" in first


def test_bad_configuration_is_never_retried(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(UsageError("--dest /nope is not writable by this user"))
    result, _ = run(options_for(tmp_path, endpoint, attempts=3), sync)
    assert (result.exit_code, sync.calls) == (ExitCode.USAGE, 1)
    last = check_pings(hc, code)[-1]
    assert last.exit_status == 2
    assert last.body.splitlines()[0] == (
        f"alice on {HOST}: nothing was backed up, fix the configuration: "
        f"--dest /nope is not writable by this user"
    )


def test_transient_failures_are_retried_with_growing_waits(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(
        TemporaryError("the site did not answer"), ItemsFailedError("2 items failed"), ok()
    )
    waits: list[float] = []
    result, _ = run(
        options_for(tmp_path, endpoint, attempts=3, retry_delay=30), sync, sleep=waits.append
    )
    assert (result.exit_code, sync.calls) == (0, 3)
    assert waits == [30, 60]
    pings = check_pings(hc, code)
    assert [p.kind for p in pings] == ["start", "success"]
    assert ", after 3 attempts" in pings[1].body.splitlines()[0]


def test_temporary_failure_after_the_last_attempt(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(TemporaryError("the browser went away: crashed"))
    result, _ = run(options_for(tmp_path, endpoint, attempts=2), sync)
    assert (result.exit_code, sync.calls) == (ExitCode.TEMPORARY, 2)
    first = check_pings(hc, code)[-1].body.splitlines()[0]
    assert first == (
        f"alice on {HOST}: temporary failure after 2 attempts, the next run tries again: "
        f"the browser went away: crashed"
    )


def test_a_share_that_is_not_mounted_is_not_retried_within_the_run(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    """The real sync's mount check: minutes of retrying would not mount it."""
    endpoint, code = monitored(hc)
    share = tmp_path / "nas"
    share.mkdir()
    options = options_for(tmp_path, endpoint, attempts=3)
    options = dataclasses.replace(
        options,
        sync=dataclasses.replace(
            options.sync, dest=share / "alice", require_mount=share, browser="chromium"
        ),
    )
    waits: list[float] = []
    out = io.StringIO()
    result = run_job(options, stdout=out, sleep=waits.append)
    assert result.exit_code == ExitCode.TEMPORARY
    assert (
        waits == []
        and sum('"event": "attempt"' in line for line in out.getvalue().splitlines()) == 1
    )
    assert not (share / "alice").exists()
    first = check_pings(hc, code)[-1].body.splitlines()[0]
    assert "not mounted" in first and "the next run tries again" in first


def unreachable() -> PingEndpoint:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = endpoint_from_options(ping_url=f"http://127.0.0.1:{port}/{uuid.uuid4()}")
    assert endpoint is not None
    return endpoint


@pytest.mark.parametrize("trouble", ["down", "slow", "500"])
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("ok", ExitCode.OK),
        ("items-failed", ExitCode.ITEMS_FAILED),
        ("signed-out", ExitCode.SIGNED_OUT),
    ],
)
def test_healthchecks_trouble_changes_neither_result_nor_exit_code(
    tmp_path: Path, mode: str, trouble: str, outcome: str, expected: ExitCode
) -> None:
    faults = {"down": None, "slow": "timeout=1,slow=30", "500": "500=1"}[trouble]
    with FakeHealthchecks(mode=mode, faults=faults, record=tmp_path / "r.jsonl") as fake:
        endpoint = unreachable() if trouble == "down" else monitored(fake)[0]
        options = options_for(tmp_path, endpoint, attempts=2, ping_timeout=0.2)
        step = {"ok": ok(), "items-failed": items_failed()}.get(outcome) or signed_out(
            options.sync.profile
        )
        sync = ScriptedSync(step)
        started = time.monotonic()
        result, events = run(options, sync)
        elapsed = time.monotonic() - started
    assert result.exit_code == expected
    assert sync.calls == (2 if outcome == "items-failed" else 1)
    assert result.pings == []
    budget = 3 * 0.2 + 1.25 * (0.05 + 0.1)  # attempts x timeout + backoff waits
    assert elapsed < 2 * budget + 2.0  # two pings, each bounded
    ping_events = [e for e in events if e["event"] == "ping"]
    assert [e["recorded"] for e in ping_events] == [False, False]
    assert all(e["attempts"] == 3 for e in ping_events)


def test_unmonitored_runs_send_nothing(hc: FakeHealthchecks, tmp_path: Path) -> None:
    sync = ScriptedSync(items_failed())
    result, events = run(options_for(tmp_path, None, attempts=1), sync)
    assert result.exit_code == ExitCode.ITEMS_FAILED
    assert hc.records() == []
    assert events[0]["monitored"] is False
    assert not [e for e in events if e["event"] == "ping"]


def test_a_bug_is_reported_then_raised(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(KeyError("item-id"))
    with pytest.raises(KeyError):
        run(options_for(tmp_path, endpoint, attempts=3), sync)
    assert sync.calls == 1
    last = check_pings(hc, code)[-1]
    assert last.exit_status == 1
    assert last.body.splitlines()[0] == (
        f"alice on {HOST}: the collector crashed (a bug: please report it with this log): "
        f"KeyError: 'item-id'"
    )
    assert "Traceback" in last.body


def test_a_held_lock_exits_at_once_with_a_log_ping(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    options = options_for(tmp_path, endpoint, lock=tmp_path / "alice.lock")
    sync = ScriptedSync(ok())
    with RunLock(tmp_path / "alice.lock"):
        before = sorted(options.sync.dest.iterdir())
        started = time.monotonic()
        result, _ = run(options, sync)
        assert time.monotonic() - started < 2
    assert result.exit_code == ExitCode.LOCKED
    assert sync.calls == 0
    assert sorted(options.sync.dest.iterdir()) == before
    pings = check_pings(hc, code)
    assert [(p.kind, p.rid) for p in pings] == [("log", None)]  # no start: no run began
    assert pings[0].body.startswith(f"alice on {HOST}: another run holds the lock ")
    assert f"(pid {os.getpid()})" in pings[0].body
    assert "this run did nothing" in pings[0].body


def test_the_default_lock_lives_in_dest(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, _ = monitored(hc)
    options = options_for(tmp_path, endpoint)
    (options.sync.dest / ".gphotos-collector").mkdir()
    with RunLock(options.sync.dest / ".gphotos-collector" / "run.lock"):
        result, _ = run(options, ScriptedSync(ok()))
    assert result.exit_code == ExitCode.LOCKED


def test_pinging_by_slug_creates_the_check(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint = endpoint_from_options(
        ping_base=hc.ping_base, ping_key=hc.ping_key, slug="bob-nas", create=True
    )
    result, _ = run(options_for(tmp_path, endpoint), ScriptedSync(ok()))
    assert result.exit_code == 0
    pings = hc.check("bob-nas").pings
    assert [(p.kind, p.rid) for p in pings] == [("start", result.rid), ("success", result.rid)]


def test_log_file_is_private_and_secrets_stay_out(hc: FakeHealthchecks, tmp_path: Path) -> None:
    check = hc.add_check("alice")
    endpoint = endpoint_from_options(ping_url=hc.ping_url(check))
    log = tmp_path / "logs" / "alice.log"
    log.parent.mkdir()
    log.write_text("an older line\n")
    log.chmod(0o644)
    out = io.StringIO()
    sync = ScriptedSync(TemporaryError(f"could not reach {hc.ping_url(check)}"), ok())
    result = run_job(options_for(tmp_path, endpoint, log_file=log), sync=sync, stdout=out)
    assert result.exit_code == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o640  # others lost their read bit
    logged = log.read_text().splitlines()
    assert logged[0] == "an older line"
    assert logged[1:] == out.getvalue().splitlines()
    everything = out.getvalue() + "".join(p.body for p in check.pings)
    assert check.uuid not in everything
    assert f"…{check.uuid[-4:]}" in everything
    new_log = tmp_path / "logs" / "new.log"
    run_job(options_for(tmp_path, None, log_file=new_log), sync=ScriptedSync(ok()), stdout=out)
    assert stat.S_IMODE(new_log.stat().st_mode) == 0o600


def test_a_missing_log_folder_is_a_configuration_error(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    endpoint, code = monitored(hc)
    sync = ScriptedSync(ok())
    options = options_for(tmp_path, endpoint, log_file=tmp_path / "nope" / "a.log")
    result, _ = run(options, sync)
    assert (result.exit_code, sync.calls) == (ExitCode.USAGE, 0)
    pings = check_pings(hc, code)
    assert [p.exit_status for p in pings] == [2]
    assert "does not exist" in pings[0].body.splitlines()[0]


def test_busy_job_slots_end_the_run_as_temporary(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    slots_dir = tmp_path / "slots"
    slots_dir.mkdir()
    other = JobSlots(slots_dir, 1, wait_seconds=0)
    other.acquire()
    sync = ScriptedSync(ok())
    options = options_for(tmp_path, endpoint, slots_dir=slots_dir, max_jobs=1, slot_wait=1.2)
    started = time.monotonic()
    result, events = run(options, sync)
    assert 1.2 <= time.monotonic() - started < 6
    other.release()
    assert (result.exit_code, sync.calls) == (ExitCode.TEMPORARY, 0)
    assert [e["event"] for e in events if e["event"].startswith("slot")] == [
        "slot-wait",
        "slot-busy",
    ]
    # No start: the run never began its work, so Healthchecks gets the failure alone,
    # on the run's id, with a first line saying what happened and what to do.
    pings = check_pings(hc, code)
    assert [(p.kind, p.exit_status, p.rid) for p in pings] == [("fail", 6, result.rid)]
    assert result.pings == ["6"]
    lines = pings[0].body.splitlines()
    waited = re.fullmatch(
        rf"all 1 job slots in {re.escape(str(slots_dir))} stayed busy for ([1-5]) s \(other "
        r"backups are running on this host\): this run did nothing; the next one will try "
        r"again, or raise --max-jobs",
        lines[1],
    )
    assert waited, lines[1]
    assert lines[0] == (
        f"alice on {HOST}: nothing was backed up: no job slot came free in {waited[1]} s (other "
        f"backups on this host held all 1); the next run tries again. If this happens often, "
        f"raise max_jobs or slot_wait in the job's config, or spread the members' schedules"
    )
    assert result.message == lines[0]
    result, events = run(options, sync)  # the slot is free now
    assert (result.exit_code, sync.calls) == (0, 1)
    assert [e["slot"] for e in events if e["event"] == "slot"] == [0]
    pings = check_pings(hc, code)[1:]
    assert [(p.kind, p.rid) for p in pings] == [("start", result.rid), ("success", result.rid)]


def test_start_is_pinged_only_once_a_job_slot_is_taken(
    hc: FakeHealthchecks, tmp_path: Path
) -> None:
    """Waiting for a slot is not run time: `start` follows the slot, not the lock."""
    check = hc.add_check("alice", slug="alice")
    endpoint = endpoint_from_options(ping_url=hc.ping_url(check))
    slots_dir = tmp_path / "slots"
    slots_dir.mkdir()
    other = JobSlots(slots_dir, 1, wait_seconds=0)
    other.acquire()

    def finish_the_other_job() -> None:
        time.sleep(1.0)
        # The other job's last word reaches the server before its slot is freed.
        urllib.request.urlopen(hc.ping_url(check) + "/log", data=b"other job done").close()
        other.release()

    releaser = threading.Thread(target=finish_the_other_job)
    releaser.start()
    try:
        options = options_for(tmp_path, endpoint, slots_dir=slots_dir, max_jobs=1, slot_wait=30)
        result, events = run(options, ScriptedSync(ok()))
    finally:
        releaser.join(timeout=10)
        other.release()
    assert result.exit_code == 0
    assert [(p.kind, p.rid) for p in check.pings] == [
        ("log", None),
        ("start", result.rid),
        ("success", result.rid),
    ]
    order = [e["event"] if e["event"] != "ping" else f"ping {e['kind']}" for e in events]
    assert order.index("lock") < order.index("slot-wait") < order.index("slot")
    assert order.index("slot") < order.index("ping start") < order.index("attempt")


def test_a_missing_profile_leaves_dest_uncreated(tmp_path: Path) -> None:
    options = JobOptions(
        sync=SyncOptions(profile=tmp_path / "no-profile", dest=tmp_path / "photos"),
        retry_delay=0,
    )
    sync = ScriptedSync(UsageError("--profile does not exist"))
    result, events = run(options, sync)
    assert result.exit_code == ExitCode.USAGE
    assert not (tmp_path / "photos").exists()
    assert next(e for e in events if e["event"] == "lock")["path"] is None


def test_an_interrupted_run_says_so_then_stops(hc: FakeHealthchecks, tmp_path: Path) -> None:
    endpoint, code = monitored(hc)
    with pytest.raises(KeyboardInterrupt):
        run(options_for(tmp_path, endpoint), ScriptedSync(KeyboardInterrupt()))
    last = check_pings(hc, code)[-1]
    assert last.exit_status == 130
    assert "interrupted before it finished" in last.body.splitlines()[0]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0 s"),
        (59.4, "59 s"),
        (61, "1 min"),
        (3599, "59 min"),
        (14400, "4 h"),
        (7500, "2 h 5 min"),
    ],
)
def test_slot_waits_read_like_a_person_would_say_them(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text
