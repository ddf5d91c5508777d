"""Fault injection: `--faults SPEC`.

SPEC is a comma-separated list of KEY=VALUE:

  5xx=R     answer 500/502/503 instead of a page, an internal JSON (batchexecute)
            call or a download, with probability R
  stall=R   a download sends its headers and part of the body, then sends
            nothing more until the client gives up (probability R)
  reset=R   a download sends part of the body, then the connection is reset
            (probability R)
  expire=R  the session of the requesting account is revoked, with probability
            R per signed-in request (pages, JSON calls, downloads): the
            profile is signed out until it signs in again
  seed=S    the seed of the fault decisions (an integer; default 0)

Rates are numbers from 0 to 1; 5xx + stall + reset must not exceed 1, since a
download suffers at most one of them. Example: `5xx=0.1,stall=0.05,reset=0.05,
expire=0.001,seed=7`. Decisions are a pure function of (seed, what is asked,
how many times it was asked before), so a given request sequence meets the same
faults each run. A download that completes always carries the original bytes:
a stalled or reset download stops before its announced Content-Length.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass

RATE_KEYS = ("5xx", "stall", "reset", "expire")


class FaultSpecError(ValueError):
    """A --faults value that cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class FaultSpec:
    server_error: float = 0.0
    stall: float = 0.0
    reset: float = 0.0
    expire: float = 0.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return any((self.server_error, self.stall, self.reset, self.expire))


_EXAMPLE = "e.g. 5xx=0.1,stall=0.05,reset=0.05,expire=0.001,seed=7"


def parse_fault_spec(text: str | None) -> FaultSpec:
    if text is None or not text.strip():
        return FaultSpec()
    values: dict[str, float] = {}
    seen: set[str] = set()
    seed = 0
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise FaultSpecError(
                f"--faults: '{item}' is not KEY=VALUE; use keys 5xx, stall, reset, expire, seed "
                f"({_EXAMPLE})"
            )
        if key in seen:
            raise FaultSpecError(f"--faults: '{key}' is given twice")
        seen.add(key)
        if key == "seed":
            try:
                seed = int(value)
            except ValueError:
                raise FaultSpecError(
                    f"--faults: seed must be an integer, not '{value}' ({_EXAMPLE})"
                ) from None
            continue
        if key not in RATE_KEYS:
            raise FaultSpecError(
                f"--faults: unknown fault '{key}'; known: 5xx, stall, reset, expire, seed "
                f"({_EXAMPLE})"
            )
        try:
            rate = float(value)
        except ValueError:
            raise FaultSpecError(
                f"--faults: the rate of {key} must be a number from 0 to 1, not '{value}'"
            ) from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"--faults: the rate of {key} must be from 0 to 1, not {value}")
        values[key] = rate
    spec = FaultSpec(
        server_error=values.get("5xx", 0.0),
        stall=values.get("stall", 0.0),
        reset=values.get("reset", 0.0),
        expire=values.get("expire", 0.0),
        seed=seed,
    )
    if spec.server_error + spec.stall + spec.reset > 1.0:
        raise FaultSpecError(
            "--faults: 5xx + stall + reset must not exceed 1 (a download meets at most one)"
        )
    return spec


class FaultInjector:
    """Decides, per request, which fault (if any) it meets; counts what it injected."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._asked: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _draw(self, what: str, key: str) -> float:
        with self._lock:
            self._asked[(what, key)] += 1
            attempt = self._asked[(what, key)]
        digest = hashlib.sha256(f"{self.spec.seed}\x1f{what}\x1f{key}\x1f{attempt}".encode())
        return int.from_bytes(digest.digest()[:8], "big") / 2**64

    def _count(self, fault: str) -> None:
        with self._lock:
            self.injected[fault] += 1

    def server_error(self, what: str, key: str) -> bool:
        """For a page or a JSON call: answer 5xx?"""
        if self.spec.server_error <= 0:
            return False
        hit = self._draw(what, key) < self.spec.server_error
        if hit:
            self._count("5xx")
        return hit

    def download_fault(self, item_key: str) -> str | None:
        """For a download: None, '5xx', 'stall' or 'reset'."""
        spec = self.spec
        if spec.server_error + spec.stall + spec.reset <= 0:
            return None
        u = self._draw("download", item_key)
        for fault, rate in (
            ("5xx", spec.server_error),
            ("stall", spec.stall),
            ("reset", spec.reset),
        ):
            if u < rate:
                self._count(fault)
                return fault
            u -= rate
        return None

    def expire(self, email: str) -> bool:
        if self.spec.expire <= 0:
            return False
        hit = self._draw("expire", email) < self.spec.expire
        if hit:
            self._count("expire")
        return hit

    def error_status(self, what: str, key: str) -> int:
        """Which 5xx to answer: deterministic, varied like a real front end's."""
        digest = hashlib.sha256(f"{self.spec.seed}\x1fstatus\x1f{what}\x1f{key}".encode())
        return (500, 502, 503)[digest.digest()[0] % 3]
