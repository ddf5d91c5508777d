"""The disk under DEST: full, remounted read-only, a corrupt or lost state file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from fakes.photos import FakePhotos
from trials.core import (
    STATE_DIR,
    Background,
    TrialResult,
    audit,
    library,
    run,
    sh,
    sync_args,
)

DISK_FULL_MB = 16  # the trial's DEST: a tmpfs smaller than the library (about 26 MB)
READ_ONLY_IMAGE_MB = 64


def _downloads(fake: FakePhotos) -> int:
    return sum(fake.downloads.values())


def disk_full(workdir: Path) -> TrialResult:
    result = TrialResult(
        "disk full",
        f"DEST on a {DISK_FULL_MB} MB tmpfs for a 26 MB library; then the space is grown",
        "exit 6 with a sentence, nothing partial; complete after space is freed",
    )
    dest = workdir / "dest"
    dest.mkdir()
    sh("mount", "-t", "tmpfs", "-o", f"size={DISK_FULL_MB}m,mode=0750", "trial-full", str(dest))
    try:
        with library(workdir, items=100, seed=31, scale=0.05) as fake:
            manifest = fake.manifest()
            full = run(sync_args(fake, workdir / "profile", dest))
            cut = audit(dest, manifest, complete=False)
            said_full = "full" in full.stderr and "nothing was lost" in full.stderr
            sh("mount", "-o", "remount,size=128m", str(dest))
            after = run(sync_args(fake, workdir / "profile", dest))
            final = audit(dest, manifest)
            result.measured = (
                f"full: exit {full.code} after {full.seconds:.0f} s, {cut}; "
                f'"{full.message.replace(str(dest), "DEST")[:150]}"; '
                f"after: exit {after.code}, {final}"
            )
            result.passed = (
                full.code == 6 and said_full and cut.clean and after.code == 0 and final.clean
            )
    finally:
        sh("umount", "-l", str(dest))
    return result


def read_only(workdir: Path) -> TrialResult:
    result = TrialResult(
        "read-only DEST",
        "ext4 DEST (errors=remount-ro) forced read-only mid-run by a filesystem error",
        "exit 6 with its own sentence; nothing corrupt; complete after a read-write mount",
    )
    image, dest = workdir / "dest.img", workdir / "dest"
    with open(image, "wb") as handle:
        handle.truncate(READ_ONLY_IMAGE_MB * 1024 * 1024)
    sh("mkfs.ext4", "-q", "-F", str(image))
    dest.mkdir()
    sh("mount", "-o", "loop,errors=remount-ro", str(image), str(dest))
    try:
        device = Path(sh("findmnt", "-n", "-o", "SOURCE", str(dest)).stdout.strip()).name
        with library(workdir, items=60, seed=32) as fake:
            manifest = fake.manifest()
            job = Background(sync_args(fake, workdir / "profile", dest))
            job.wait_for("item-done", 8)
            # What a disk error does with errors=remount-ro (`mount -o remount,ro` is refused
            # while files are open for writing).
            Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("trial\n")
            stopped = job.finish()
            said = "read-only" in stopped.stderr and "fix its owner" not in stopped.stderr
            sh("umount", str(dest))
            with contextlib.suppress(Exception):
                sh("e2fsck", "-fy", str(image))
            sh("mount", "-o", "loop", str(image), str(dest))
            cut = audit(dest, manifest, complete=False)
            left = cut.temporary  # in the scratch folders, which a read-only disk keeps
            cut.temporary = 0
            after = run(sync_args(fake, workdir / "profile", dest))
            final = audit(dest, manifest)
            result.measured = (
                f"exit {stopped.code}, {cut} ({left} in the scratch folders until the next run), "
                f"state {'intact' if cut.state_ok else 'DAMAGED'}; "
                f'"{stopped.message.replace(str(dest), "DEST")[:150]}"; '
                f"after: exit {after.code}, {final}"
            )
            result.passed = (
                stopped.code == 6 and said and cut.clean and after.code == 0 and final.clean
            )
    finally:
        sh("umount", "-l", str(dest))
    return result


def _state_trial(workdir: Path, name: str, what: str, damage: str, seed: int) -> TrialResult:
    result = TrialResult(
        name,
        what,
        "set aside (kept), rebuilt, complete; 0 re-downloads of files on disk"
        if damage != "remove"
        else "rebuilt by hashing, complete; 0 re-downloads",
    )
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / "dest"
    with library(workdir, items=30, seed=seed) as fake:
        manifest = fake.manifest()
        first = run(sync_args(fake, workdir / "profile", dest))
        assert first.code == 0, first.stderr
        state = dest / STATE_DIR / "state.sqlite3"
        size = state.stat().st_size
        if damage == "garbage":
            state.write_bytes(os.urandom(size))
        elif damage == "truncate":
            with open(state, "r+b") as handle:
                handle.truncate(size // 2)
        else:
            state.unlink()
        before = _downloads(fake)
        again = run(sync_args(fake, workdir / "profile", dest))
        downloads = _downloads(fake) - before
        final = audit(dest, manifest)
        kept = sorted(p.name for p in state.parent.glob("state.sqlite3.corrupt-*"))
        set_aside = again.named("state-set-aside")
        ok = again.code == 0 and final.clean and downloads == 0
        if damage != "remove":
            ok = ok and bool(set_aside) and bool(kept)
        result.measured = (
            f"exit {again.code}, {final}, {downloads} re-downloads of "
            f"{first.summary.get('new', 0)} items" + (f", kept as {kept[0]}" if kept else "")
        )
        result.passed = ok
    return result


def corrupt_state(workdir: Path) -> TrialResult:
    garbage = _state_trial(
        workdir / "garbage",
        "corrupt state",
        "state file overwritten with garbage, then (other run) truncated to half",
        "garbage",
        33,
    )
    truncated = _state_trial(workdir / "truncated", "corrupt state", "", "truncate", 34)
    garbage.measured = f"garbage: {garbage.measured}; truncated: {truncated.measured}"
    garbage.passed = garbage.passed and truncated.passed
    return garbage


def state_lost(workdir: Path) -> TrialResult:
    return _state_trial(
        workdir, "state lost", "state file removed after a complete backup", "remove", 35
    )
