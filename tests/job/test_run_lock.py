"""The run lock and the host-wide job slots, across real processes (and users)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gphotos_collector.errors import LockedError, TemporaryError, UsageError
from gphotos_collector.lock import JobSlots, RunLock

COLLECTOR_SRC = Path(__file__).resolve().parents[2] / "collector" / "src"


def hold(code: str, ready: Path, *, user: str | None = None) -> subprocess.Popen[bytes]:
    """Another process that takes a lock, says so in `ready`, then sleeps until killed."""
    script = (
        textwrap.dedent(code)
        + f"\nopen({str(ready)!r}, 'w').close()\nimport time\ntime.sleep(600)\n"
    )
    python = sys.executable if user is None else "/usr/bin/python3"
    env = {**os.environ, "PYTHONPATH": str(COLLECTOR_SRC)}
    process = subprocess.Popen([python, "-c", script], env=env, user=user)
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert process.poll() is None, "the holder died"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_a_lock_held_by_another_process_fails_at_once_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = hold(
        f"""
        from pathlib import Path
        from gphotos_collector.lock import RunLock
        lock = RunLock(Path({str(path)!r}))
        lock.acquire()
        """,
        tmp_path / "ready",
    )
    try:
        started = time.monotonic()
        with pytest.raises(LockedError) as caught:
            RunLock(path).acquire()
        assert time.monotonic() - started < 0.5
        assert f"(pid {holder.pid})" in caught.value.message
    finally:
        stop(holder)  # kill -9: the kernel drops the flock with the process
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_util_linux_flock_sees_the_run_lock(tmp_path: Path) -> None:
    """What the Ansible role uses to wait for a member's running job."""
    if shutil.which("flock") is None:
        pytest.fail("util-linux `flock` is missing")
    path = tmp_path / "run.lock"
    with RunLock(path):
        busy = subprocess.run(["flock", "-n", str(path), "true"], check=False)
        assert busy.returncode == 1
    free = subprocess.run(["flock", "-n", str(path), "true"], check=False)
    assert free.returncode == 0


def test_an_unusable_lock_place_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        RunLock(tmp_path / "missing" / "run.lock").acquire()


def test_slots_admit_max_jobs_then_wait_bounded(tmp_path: Path) -> None:
    first, second = JobSlots(tmp_path, 2, wait_seconds=0), JobSlots(tmp_path, 2, wait_seconds=0)
    assert (first.acquire(), second.acquire()) == (0, 1)
    waits: list[float] = []
    clock = iter(range(100))
    third = JobSlots(
        tmp_path, 2, wait_seconds=5, sleep=waits.append, clock=lambda: float(next(clock))
    )
    with pytest.raises(TemporaryError, match="all 2 job slots"):
        third.acquire()
    assert waits and sum(waits) <= 5
    first.release()
    assert JobSlots(tmp_path, 2, wait_seconds=0).acquire() == 0
    second.release()


def test_a_slot_freed_by_another_process_is_taken(tmp_path: Path) -> None:
    holder = hold(
        f"""
        from pathlib import Path
        from gphotos_collector.lock import JobSlots
        JobSlots(Path({str(tmp_path)!r}), 1, wait_seconds=0).acquire()
        """,
        tmp_path / "ready",
    )
    slots = JobSlots(tmp_path, 1, wait_seconds=30, poll_seconds=0.1)
    killer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -9 {holder.pid}"])
    started = time.monotonic()
    notified: list[bool] = []
    assert slots.acquire(on_wait=lambda: notified.append(True)) == 0
    assert 0.4 < time.monotonic() - started < 5
    assert notified == [True]
    killer.wait(timeout=10)
    holder.wait(timeout=10)
    slots.release()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A sticky, world-writable folder like the role's slots dir (outside root's tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="gphotos-slots-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder)


def test_slot_files_work_for_every_members_user(shared_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a second user's process")
    mine = JobSlots(shared_dir, 2, wait_seconds=0)
    assert mine.acquire() == 0  # root makes slot-0 (0644)
    mine.release()
    assert oct((shared_dir / "slot-0.lock").stat().st_mode & 0o777) == "0o644"
    ready = shared_dir / "ready"
    code = f"""
    from pathlib import Path
    from gphotos_collector.lock import JobSlots
    JobSlots(Path({str(shared_dir)!r}), 2, wait_seconds=0).acquire()
    """
    other = hold(code, ready, user="nobody")  # opens root's files read-only and flocks
    try:
        assert JobSlots(shared_dir, 2, wait_seconds=0).acquire() == 1  # nobody holds slot 0
        with pytest.raises(TemporaryError):
            JobSlots(shared_dir, 1, wait_seconds=0).acquire()
    finally:
        stop(other)
