"""`status`: what a DEST holds (per kind too), when it last ran and what is left to retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gphotos_collector.errors import UsageError
from gphotos_collector.state import STATE_FILE_NAME, State, state_dir


def read_status(dest: Path) -> dict[str, Any]:
    """The figures of one backup, from its state file.

    Only read: no run is recorded. Opening a state file written by an older
    version may add the tables and indexes the current schema has.
    """
    path = state_dir(dest) / STATE_FILE_NAME
    if not path.is_file():
        raise UsageError(f"{dest} holds no backup yet (no {path}): run `gphotos-collector sync`.")
    state = State(path)
    try:
        pending = [
            {
                "id": item.id,
                "status": item.status,
                "failures": item.failures,
                "error": item.last_error,
            }
            for item in state.pending()
        ]
        return {
            "dest": str(dest),
            "account": state.get_meta("account_email"),
            **state.totals(),
            "kinds": state.done_by_kind(),
            **state.details_totals(),
            "albums": len(state.albums()),
            "albums_not_backed_up": state.foreign_album_items(),
            "last_run": state.last_run(),
            "last_success": state.last_run(successful=True),
            "pending": pending,
        }
    finally:
        state.close()
