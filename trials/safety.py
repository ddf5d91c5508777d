"""What DEST may hold that must not lead the collector outside it."""

from __future__ import annotations

import os
from pathlib import Path

from trials.core import ACCOUNT, STATE_DIR, TrialResult, audit, library, run, snapshot, sync_args


def planted_links(workdir: Path) -> TrialResult:
    """Links at every place the collector writes, all to one folder outside DEST."""
    result = TrialResult(
        "planted links",
        "links in DEST to a folder outside it: tmp, downloads, the state folder and file, "
        "the year and month folders, a file's name",
        "nothing outside DEST changed; the rest complete",
    )
    outside = workdir / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "precious.txt").write_text("not yours\n")
    (outside / "state.sqlite3").write_text("not a state\n")
    with library(workdir, items=30, seed=41) as fake:
        manifest = fake.manifest()
        items = [i for i in manifest["accounts"][ACCOUNT]["items"] if i["state"] == "ok"]
        profile = workdir / "profile"
        # 1. The state folder itself is a link: refused with a sentence, nothing written.
        dest = workdir / "dest"
        dest.mkdir()
        (dest / STATE_DIR).symlink_to(outside)
        before = snapshot(outside)
        refused = run(sync_args(fake, profile, dest))
        untouched = snapshot(outside) == before
        (dest / STATE_DIR).unlink()
        # 2. Links inside the state folder and at a year, a month and a file name.
        state = dest / STATE_DIR
        state.mkdir(mode=0o700)
        for name in ("tmp", "downloads", "debug"):
            (state / name).symlink_to(outside / "keep")
        (state / "state.sqlite3").symlink_to(outside / "state.sqlite3")
        (state / "state.sqlite3-journal").symlink_to(outside / "journal")
        first = items[0]
        year = first["taken"][:4]
        (dest / year).symlink_to(outside)
        other = next(i for i in items if i["taken"][:4] != year)
        (dest / other["taken"][:4]).mkdir()
        (dest / other["taken"][:4] / other["taken"][5:7]).symlink_to(outside / "keep")
        before = snapshot(outside)
        synced = run(sync_args(fake, profile, dest))
        changed = sorted(
            set(snapshot(outside).items()) ^ set(before.items()), key=lambda entry: entry[0]
        )
        # What the links blocked is named, then fixed by a person: the next run completes.
        for link in (dest / year, dest / other["taken"][:4] / other["taken"][5:7]):
            link.unlink()
        healed = run(sync_args(fake, profile, dest))
        final = audit(dest, manifest)
        result.measured = (
            f"state folder a link: exit {refused.code}, outside "
            f"{'unchanged' if untouched else 'CHANGED'}; other links: exit {synced.code}, "
            f"{synced.summary.get('failed', '?')} items failed naming the link, "
            f"{len(changed)} entries changed outside; links removed: exit {healed.code}, {final}"
        )
        result.passed = (
            refused.code == 2
            and untouched
            and not changed
            and synced.code == 4
            and healed.code == 0
            and final.clean
            and not any(p.is_symlink() for p in (state / "tmp", state / "downloads"))
        )
    return result


def hostile_names(workdir: Path) -> TrialResult:
    result = TrialResult(
        "hostile names",
        "every hostile name the fake has (../, /, control and bidi characters, 255+ bytes, "
        "duplicates)",
        "all inside DEST, none overwritten",
    )
    with library(workdir, items=120, seed=42) as fake:
        manifest = fake.manifest()
        items = [i for i in manifest["accounts"][ACCOUNT]["items"] if i["state"] == "ok"]
        hostile = [
            i["filename"]
            for i in items
            if "/" in i["filename"]
            or "\\" in i["filename"]
            or any(
                ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or c == "\u200b" for c in i["filename"]
            )
            or len(i["filename"].encode()) > 200
        ]
        names = [f["name"] for i in items for f in i["files"]]
        duplicates = len(names) - len(set(names))
        dest = workdir / "photos" / "dest"
        dest.mkdir(parents=True)
        sibling = workdir / "photos"
        before = {p for p in sibling.iterdir() if p.name != "dest"}
        synced = run(sync_args(fake, workdir / "profile", dest))
        final = audit(dest, manifest)
        escaped = {p for p in sibling.iterdir() if p.name != "dest"} - before
        real = os.path.realpath(dest)
        outside = [p for p in dest.rglob("*") if not os.path.realpath(p).startswith(real + os.sep)]
        result.measured = (
            f"{len(hostile)} hostile names, {duplicates} duplicate names: exit {synced.code}, "
            f"{final}, {len(escaped) + len(outside)} outside DEST"
        )
        result.passed = (
            bool(hostile) and synced.code == 0 and final.clean and not escaped and not outside
        )
    return result
