"""Telling a changed page from one awkward item.

Every tool of this kind dies the same way: one morning a label or a menu moves
and every item times out, for hours, night after night. The workers report
each contract step an item passed or failed; when one step fails on several
different items in a row with none passing it in between, the page most
likely changed on Google's side, and the run stops at once with the step and
its selector named instead of retrying for hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gphotos_collector.errors import PageChangedError

# This many different items failing one step, with none passing it, is a changed page.
CHANGED_AFTER_ITEMS = 3

DOCTOR_HINT = (
    "This is most likely a change on Google's side, not on yours: run "
    "`gphotos-collector doctor --profile PROFILE_DIR` to see which steps still work, and "
    "report it with the debug bundle saved under DEST/.gphotos-collector/debug/."
)


@dataclass
class _StepRun:
    target: str
    items: set[str] = field(default_factory=set)
    last_error: str = ""


class PageWatch:
    """Counts, per contract step, the different items failing it since it last passed."""

    def __init__(self, changed_after: int = CHANGED_AFTER_ITEMS) -> None:
        self.changed_after = changed_after
        self._runs: dict[str, _StepRun] = {}

    def passed(self, *steps: str) -> None:
        for step in steps:
            self._runs.pop(step, None)

    def suspect(self, step: str) -> bool:
        """Has this step failed on more than one item since it last passed? (no more retries)"""
        run = self._runs.get(step)
        return run is not None and len(run.items) > 1

    def failed(self, step: str, target: str, item_id: str, error: str) -> None:
        """Raise PageChangedError once `changed_after` different items failed this step."""
        run = self._runs.setdefault(step, _StepRun(target))
        run.items.add(item_id)
        run.last_error = error
        if len(run.items) >= self.changed_after:
            raise PageChangedError(
                f"the step '{step}' ({target}) failed for {len(run.items)} different items "
                f"in a row, last with: {error}. {DOCTOR_HINT}",
                step=step,
                target=target,
            )
