"""The limit a backup runs against: the same files fetched straight from the fake over HTTP.

No browser: sign in with the fake's sign-in form, ask the app's own RPC for each
item's signed download URL (as the web app's script does), and stream the bytes
into nothing over N concurrent connections. What this reaches is what the
network and the server can give; the collector can only be slower.
"""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks.fake import ACCOUNT, Item
from fakes.photos.testing import AppCalls, sign_in

CONNECTIONS = 4
CHUNK = 1 << 20


@dataclass(frozen=True)
class LimitRun:
    items: int
    bytes: int
    seconds: float

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0


def _get(url: str, cookie: str) -> int:
    """Stream one download into nothing; returns its size."""
    request = urllib.request.Request(url, headers={"Cookie": f"SID={cookie}"})
    size = 0
    with urllib.request.urlopen(request, timeout=120) as response:
        while chunk := response.read(CHUNK):
            size += len(chunk)
    return size


def fetch_all(base_url: str, items: list[Item], connections: int = CONNECTIONS) -> LimitRun:
    """Every item's download (and an edited photo's original, as the collector fetches)."""
    cookie = sign_in(base_url, ACCOUNT)
    app = AppCalls(base_url, cookie)

    def one(item: Item) -> int:
        size = _get(app.download_url(item.id), cookie)
        if item.edited:
            size += _get(app.download_url(item.id, original=True), cookie)
        return size

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        sizes = list(pool.map(one, items))
    return LimitRun(len(items), sum(sizes), time.monotonic() - started)
