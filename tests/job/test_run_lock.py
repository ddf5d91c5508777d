"""The run lock and the host-wide job slots, across real processes (and users)."""

from __future__ import annotations

import grp
import os
import pwd
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
from gphotos_collector.lock import JobSlots, RunLock, SlotsBusyError, UnsafeLockFileError
from jobtools import collector, write_config

from fakes.healthchecks import FakeHealthchecks

COLLECTOR_SRC = Path(__file__).resolve().parents[2] / "collector" / "src"


def primary_group(user: str) -> int:
    return pwd.getpwnam(user).pw_gid


def hold(code: str, ready: Path, *, user: str | None = None) -> subprocess.Popen[bytes]:
    """Another process that takes a lock, says so in `ready`, then sleeps until killed."""
    script = (
        textwrap.dedent(code)
        + f"\nopen({str(ready)!r}, 'w').close()\nimport time\ntime.sleep(600)\n"
    )
    python = sys.executable if user is None else "/usr/bin/python3"
    env = {**os.environ, "PYTHONPATH": str(COLLECTOR_SRC)}
    # As a real other user: their uid, their primary group, no supplementary group of ours.
    as_user = (
        {} if user is None else {"user": user, "group": primary_group(user), "extra_groups": []}
    )
    process = subprocess.Popen([python, "-c", script], env=env, **as_user)
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


# Links and other things planted where a lock or slot file goes ------------------------
SECRET = b"ping_url = 'https://hc-ping.com/secret'\n"


def private_file(path: Path) -> Path:
    """A file a job must never write or chmod through a link: 0600, with content."""
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def untouched(path: Path) -> bool:
    return path.read_bytes() == SECRET and path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_at_the_lock_path_is_a_usage_error_naming_it(
    tmp_path: Path, dangling: bool
) -> None:
    target = tmp_path / "config.toml"
    if not dangling:
        private_file(target)
    path = tmp_path / "run.lock"
    path.symlink_to(target)
    with pytest.raises(UsageError) as caught:
        RunLock(path).acquire()
    assert isinstance(caught.value, UnsafeLockFileError)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"the lock file {path} is a symbolic link: ")
    assert f"`rm {path}`" in caught.value.message
    if dangling:
        assert not target.exists()  # O_CREAT did not make the link's target
    else:
        assert untouched(target)  # neither truncated nor given our pid
    assert path.is_symlink()


def test_a_fifo_at_the_lock_path_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    os.mkfifo(path, 0o600)
    started = time.monotonic()
    with pytest.raises(UsageError, match=f"the lock file {path} is a FIFO"):
        RunLock(path).acquire()
    assert time.monotonic() - started < 2


def test_a_hard_linked_lock_file_locks_but_is_never_written(tmp_path: Path) -> None:
    other = private_file(tmp_path / "config.toml")
    path = tmp_path / "run.lock"
    os.link(other, path)
    with RunLock(path), pytest.raises(LockedError):
        RunLock(path).acquire()  # still a lock
    assert untouched(other)  # but the pid was not written over the other name's content


def test_a_planted_lock_symlink_ends_the_run_with_2_and_a_ping(tmp_path: Path) -> None:
    target = private_file(tmp_path / "config-of-someone-else.toml")
    lock = tmp_path / "alice" / "run.lock"
    lock.parent.mkdir()
    lock.symlink_to(target)
    (tmp_path / "profile").mkdir()
    calls = tmp_path / "calls"
    with FakeHealthchecks(record=tmp_path / "hc.jsonl") as hc:
        check = hc.add_check("alice")
        config = write_config(
            tmp_path / "alice.toml",
            profile=str(tmp_path / "profile"),
            dest=str(tmp_path / "photos"),
            lock=str(lock),
            account_name="alice",
            ping_url=hc.ping_url(check),
            ping_timeout=1,
        )
        result = collector("run", "--config", config, script=[{"calls": str(calls)}])
    assert result.returncode == 2, result.stderr
    assert f"the lock file {lock} is a symbolic link" in result.stderr
    assert not calls.exists()  # the sync never ran
    assert untouched(target)
    assert [(p.kind, p.exit_status) for p in check.pings] == [("fail", 2)]
    first = check.pings[0].body.splitlines()[0]
    assert "nothing was backed up, fix the configuration: " in first
    assert f"the lock file {lock} is a symbolic link" in first


def test_children_never_inherit_the_lock_or_the_slot(tmp_path: Path) -> None:
    """O_CLOEXEC: a child (the browser) must not keep either lock after the job ends."""
    lock, slots = RunLock(tmp_path / "run.lock"), JobSlots(tmp_path, 1, wait_seconds=0)
    lock.acquire()
    slots.acquire()
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        lock.release()
        slots.release()
        for path in (tmp_path / "run.lock", tmp_path / "slot-0.lock"):
            free = subprocess.run(["flock", "-n", str(path), "true"], check=False)
            assert free.returncode == 0, f"the child still holds {path.name}"
    finally:
        child.kill()
        child.wait(timeout=10)


@pytest.fixture
def group_dir() -> Iterator[Path]:
    """A slots folder like the role's: setgid and sticky (3770), one group for all members."""
    folder = Path(tempfile.mkdtemp(prefix="gphotos-slots-"))
    os.chown(folder, 0, grp.getgrnam("nogroup").gr_gid)
    folder.chmod(0o3770)
    yield folder
    shutil.rmtree(folder)


def plant(link: Path, target: Path, *, user: str | None) -> None:
    """Make `link` point at `target`, as `user` (another member) when running as root."""
    as_user = (
        {} if user is None else {"user": user, "group": primary_group(user), "extra_groups": []}
    )
    subprocess.run(["ln", "-s", str(target), str(link)], check=True, **as_user)


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_planted_in_the_slots_folder_is_skipped_as_busy(
    group_dir: Path, tmp_path: Path, dangling: bool
) -> None:
    victim = tmp_path / "config.toml"
    if not dangling:
        private_file(victim)
    user = "nobody" if os.geteuid() == 0 else None
    plant(group_dir / "slot-0.lock", victim, user=user)
    reported: list[tuple[Path, str]] = []
    slots = JobSlots(group_dir, 2, wait_seconds=0)
    assert slots.acquire(on_unsafe=lambda path, why: reported.append((path, why))) == 1
    slots.release()
    assert reported == [(group_dir / "slot-0.lock", "is a symbolic link")]
    if dangling:
        assert not victim.exists()
    else:
        assert untouched(victim)
    assert (group_dir / "slot-0.lock").is_symlink()  # left for a person to remove


def test_hard_links_and_fifos_in_the_slots_folder_are_skipped(
    group_dir: Path, tmp_path: Path
) -> None:
    victim = private_file(tmp_path / "config.toml")
    os.link(victim, group_dir / "slot-0.lock")
    os.mkfifo(group_dir / "slot-1.lock", 0o660)
    reported: list[tuple[str, str]] = []
    slots = JobSlots(group_dir, 3, wait_seconds=0)
    started = time.monotonic()
    slot = slots.acquire(on_unsafe=lambda path, why: reported.append((path.name, why)))
    assert time.monotonic() - started < 2  # the FIFO did not block the open
    assert slot == 2
    slots.release()
    assert reported == [("slot-0.lock", "has 2 hard links"), ("slot-1.lock", "is a FIFO")]
    assert untouched(victim)  # not made group-readable through the link


def test_a_busy_host_names_the_skipped_slot_files(group_dir: Path, tmp_path: Path) -> None:
    (group_dir / "slot-0.lock").symlink_to(tmp_path / "elsewhere")
    holder = JobSlots(group_dir, 2, wait_seconds=0)
    assert holder.acquire() == 1
    try:
        with pytest.raises(SlotsBusyError) as caught:
            JobSlots(group_dir, 2, wait_seconds=0).acquire()
    finally:
        holder.release()
    assert caught.value.exit_code == 6
    assert caught.value.message.endswith(
        "; slot files skipped as unsafe, remove them: slot-0.lock is a symbolic link"
    )
    assert caught.value.unsafe == {group_dir / "slot-0.lock": "is a symbolic link"}


def test_no_usable_slot_file_at_all_is_a_usage_error_at_once(
    group_dir: Path, tmp_path: Path
) -> None:
    for index in range(2):
        (group_dir / f"slot-{index}.lock").symlink_to(tmp_path / f"target-{index}")
    started = time.monotonic()
    with pytest.raises(UsageError) as caught:
        JobSlots(group_dir, 2, wait_seconds=30).acquire()
    assert time.monotonic() - started < 2  # waiting cannot fix it
    assert caught.value.exit_code == 2
    assert caught.value.message == (
        f"none of the 2 job slot files in {group_dir} can be used safely (slot-0.lock is a "
        f"symbolic link; slot-1.lock is a symbolic link): remove them; a job never writes "
        f"through them"
    )
    assert not (tmp_path / "target-0").exists() and not (tmp_path / "target-1").exists()


def test_slot_files_in_a_group_folder_are_0660_and_shared_by_the_group(group_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a second user's process")
    old_umask = os.umask(0o077)  # the group bits come back whatever the umask
    try:
        mine = JobSlots(group_dir, 2, wait_seconds=0)
        assert mine.acquire() == 0
        mine.release()
    finally:
        os.umask(old_umask)
    slot0 = (group_dir / "slot-0.lock").stat()
    assert oct(slot0.st_mode & 0o777) == "0o660"
    assert slot0.st_gid == grp.getgrnam("nogroup").gr_gid  # the folder's group (setgid)
    code = f"""
    import os
    from pathlib import Path
    from gphotos_collector.lock import JobSlots
    os.close(os.open({str(group_dir / "slot-0.lock")!r}, os.O_RDWR))  # the group may write
    JobSlots(Path({str(group_dir)!r}), 2, wait_seconds=0).acquire()
    """
    other = hold(code, group_dir / "ready", user="nobody")  # a member of the folder's group
    try:
        assert JobSlots(group_dir, 2, wait_seconds=0).acquire() == 1
        with pytest.raises(TemporaryError):
            JobSlots(group_dir, 1, wait_seconds=0).acquire()
    finally:
        stop(other)
