"""The queue between the list stage and the download workers.

The listing hands over batches of neighbours in one view's order, so a worker
can open the first item's viewer and step to the next with ArrowRight. Listed
ids are recorded in the state before they are fetched: a run killed now leaves
them pending for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gphotos_collector import google_site
from gphotos_collector.events import EventSink
from gphotos_collector.lister import ListedItem
from gphotos_collector.state import State

BATCH_SIZE = 10  # neighbours in a view given to one worker, which steps between them


@dataclass(frozen=True)
class Job:
    id: str
    kind: str | None
    label_time: datetime | None = None
    view: str = google_site.VIEW_GRID  # whose viewer opens it (and steps to its neighbour)
    # Backed up already: look again at its details (and, for release 0.1, for an original).
    revisit: bool = False


def archived_in(view: str) -> bool | None:
    """What listing an item in this view says about its archive flag."""
    if view == google_site.VIEW_ARCHIVE:
        return True
    if view == google_site.VIEW_GRID:
        return False
    return None  # Recently added holds both


class JobQueue:
    """Batches of jobs for the workers; `close` tells each worker there is no more."""

    def __init__(self, state: State, events: EventSink, workers: int) -> None:
        self.state = state
        self.events = events
        self.workers = workers
        self.queue: asyncio.Queue[list[Job] | None] = asyncio.Queue()
        self.queued_ids: set[str] = set()
        self.queued = 0
        self._batch: list[Job] = []

    async def add_listed(self, item: ListedItem, follows_previous: bool, view: str) -> None:
        """A new item from a listing; it joins the batch of its neighbour if it follows it."""
        if not follows_previous or len(self._batch) >= BATCH_SIZE:
            await self.flush()
        self._count(item.id)
        self._batch.append(Job(item.id, item.kind, item.label_time, view))

    async def flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            batch = [job for job in batch if not self._adopted(job)]
            if not batch:
                return
            # Remembered before they are fetched: a run killed now leaves them pending.
            self.state.mark_listed(
                ((job.id, job.kind, job.label_time) for job in batch), archived_in(batch[0].view)
            )
            await self.queue.put(batch)

    async def put(self, job: Job) -> None:
        """A job on its own (a retry, a repair): no neighbour to step from."""
        self._count(job.id)
        await self.queue.put([job])

    async def put_batches(self, jobs: Iterable[Job]) -> None:
        """Jobs likely to be neighbours (same view, its order): a worker tries stepping."""
        batch: list[Job] = []
        for job in jobs:
            if batch and (len(batch) >= BATCH_SIZE or batch[-1].view != job.view):
                await self.queue.put(batch)
                batch = []
            self._count(job.id)
            batch.append(job)
        if batch:
            await self.queue.put(batch)

    def close(self) -> None:
        for _ in range(self.workers):
            self.queue.put_nowait(None)

    def _adopted(self, job: Job) -> bool:
        """A lost state's file already in DEST is claimed by hashing, not downloaded."""
        files = self.state.adopt(job.id, job.kind, job.label_time)
        if files:
            self.events.emit("item-adopted", id=job.id, files=[f.path for f in files])
        return bool(files)

    def _count(self, item_id: str) -> None:
        self.queued_ids.add(item_id)
        self.queued += 1
        self.events.emit("queued", id=item_id, total=self.queued)
