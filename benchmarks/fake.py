"""The fake Google Photos as a separate process, and how busy it was."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.procs import cpu_seconds
from fakes.photos.profile import make_profile

ACCOUNT = "alice@example.com"
START_TIMEOUT = 600.0  # a 50,000-item library takes a while to generate on a busy machine


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    state: str  # ok, processing or deleted
    archived: bool
    edited: bool
    video_bytes: int  # at media scale 1
    taken: str
    filename: str  # as the info panel shows it (a live photo's: its still's)


@dataclass(frozen=True)
class AlbumItem:
    id: str  # its id inside the album (never a library id)
    item: str | None  # the library item it is; None: someone else's, in a shared album
    filename: str  # as its info panel shows it


@dataclass(frozen=True)
class Album:
    """An album of the first account as /albums lists it (only with `albums=`)."""

    id: str  # the album id, or a shared album's share id (what the collector keys it by)
    title: str
    shared: bool
    path: str  # its page under the base URL (a shared album's key included)
    items: tuple[AlbumItem, ...]  # its count on /albums is how many


class CpuShare:
    """The fake's CPU time over a stretch of wall time: is the fake the bottleneck?"""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._cpu = cpu_seconds(pid)
        self._wall = time.monotonic()

    def share(self) -> float:
        """CPU seconds per wall second since this meter started (1.0 = one core busy)."""
        wall = time.monotonic() - self._wall
        return (cpu_seconds(self._pid) - self._cpu) / wall if wall > 0 else 0.0


class FakeServer:
    """`python -m benchmarks.serve_fake` in its own process, stopped on exit."""

    def __init__(
        self,
        work: Path,
        items: int,
        *,
        seed: int,
        media_scale: float,
        warm: bool = False,
        accounts: tuple[str, ...] = (ACCOUNT,),
        albums: int | None = None,  # albums per account; None: the fake's default (8)
    ) -> None:
        suffix = "" if albums is None else f"-{albums}-albums"
        self.folder = work / f"fake-{items}-{seed}{suffix}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.items_count = items
        self.seed = seed
        self.media_scale = media_scale
        self.warm = warm
        self.accounts = accounts
        self.albums = albums
        self.base_url = ""
        self.items: list[Item] = []
        self.album_list: list[Album] = []
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FakeServer:
        url_file = self.folder / "url"
        catalog_file = self.folder / "catalog.json"
        url_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "benchmarks.serve_fake",
            "--items",
            str(self.items_count),
            "--seed",
            str(self.seed),
            "--accounts",
            ",".join(self.accounts),
            "--media-scale",
            str(self.media_scale),
            "--url-file",
            str(url_file),
            "--catalog",
            str(catalog_file),
        ]
        album_file = self.folder / "albums.json"
        if self.albums is not None:
            command += ["--albums", str(self.albums), "--album-catalog", str(album_file)]
        if self.warm:
            command.append("--warm")
        # The server's own noise (a browser resetting a connection as it closes) goes to a log.
        with (self.folder / "fake.log").open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not url_file.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"the fake exited {self._process.returncode} before serving")
            if time.monotonic() > deadline:
                raise RuntimeError("the fake did not start in time")
            time.sleep(0.1)
        self.base_url = url_file.read_text().strip()
        raw: dict[str, list[dict[str, Any]]] = json.loads(catalog_file.read_text())
        self.items = [Item(**entry) for entry in raw[self.accounts[0]]]
        if self.albums is not None:
            listed: dict[str, list[dict[str, Any]]] = json.loads(album_file.read_text())
            self.album_list = [
                Album(
                    id=album["id"],
                    title=album["title"],
                    shared=album["shared"],
                    path=album["path"],
                    items=tuple(AlbumItem(*entry) for entry in album["items"]),
                )
                for album in listed[self.accounts[0]]
            ]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cpu(self) -> CpuShare:
        return CpuShare(self.pid)

    def make_profile(self, profile: Path, browser: str, account: str = ACCOUNT) -> None:
        make_profile(self.base_url, [account], profile, browser)

    def ready(self) -> list[Item]:
        """Items a backup can download now (neither deleted nor processing)."""
        return [item for item in self.items if item.state == "ok"]

    def alive(self) -> list[Item]:
        """Items Google shows (processing ones included)."""
        return [item for item in self.items if item.state != "deleted"]
