"""The real `gphotos-collector` CLI in a real process, with a scripted sync.

Tests of `run` that are about processes (a second concurrent run, secrets in
the process list, exit codes through the CLI) do not need Chrome: this
script replaces only `gphotos_collector.sync.run_sync` with steps read from
the environment variable SCRIPTED_SYNC (a JSON list, one step per sync
attempt, the last one repeating), then runs the CLI unchanged:

    {"exit": 0|1|2|3|4|6, "sleep": seconds, "lines": n, "new": n,
     "failed": n, "account": "...", "calls": "FILE"}

`calls` names a file that gets one line per sync call (to prove whether the
sync ran at all).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import gphotos_collector.sync as sync_stage
from gphotos_collector.errors import SignedOutError, TemporaryError, UsageError
from gphotos_collector.events import EventSink
from gphotos_collector.sync import SyncOptions, SyncSummary

STEPS: list[dict[str, Any]] = json.loads(os.environ.get("SCRIPTED_SYNC", "[]")) or [{}]
_calls = 0


def scripted_sync(options: SyncOptions, events: EventSink) -> SyncSummary:
    global _calls
    step = STEPS[min(_calls, len(STEPS) - 1)]
    _calls += 1
    if step.get("calls"):
        with open(step["calls"], "a", encoding="utf-8") as file:
            file.write(f"{os.getpid()} {_calls}\n")
    events.emit("sync-start", profile=str(options.profile), dest=str(options.dest))
    for n in range(int(step.get("lines", 0))):
        events.emit("item-done", n=n, name=f"IMG_{n:05d}.JPG", padding="x" * 80)
    time.sleep(float(step.get("sleep", 0)))
    code = int(step.get("exit", 0))
    account = step.get("account", "alice@example.com")
    if code == 1:
        raise RuntimeError("scripted bug in the sync")
    if code == 2:
        raise UsageError(f"--profile {options.profile} does not exist")
    if code == 3:
        raise SignedOutError(
            f"the profile {options.profile} is signed out of Google Photos ({account})",
            profile=str(options.profile),
        )
    if code == 6:
        raise TemporaryError("the site did not answer (scripted)")
    summary = SyncSummary(
        account=account,
        new=int(step.get("new", 3)),
        skipped=10,
        failed=int(step.get("failed", 2 if code == 4 else 0)),
        bytes=123456,
        seconds=1.5,
    )
    events.emit("summary", new=summary.new, failed=summary.failed)
    return summary


if __name__ == "__main__":
    sync_stage.run_sync = scripted_sync  # type: ignore[assignment]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gphotos_collector.cli import main

    sys.argv[0] = "gphotos-collector"
    main()
