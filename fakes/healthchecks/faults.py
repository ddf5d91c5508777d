"""Faults the fake injects, drawn from a seed so a failing test replays exactly.

A spec is comma-separated `name=value` pairs, for example
`500=0.2,timeout=0.1,seed=7` or `5xx=1,count=2` (the first two requests fail):

- `500`, `502`, `503`, `504`: answer with that status (rate 0..1);
- `5xx`: answer with one of 500, 502, 503, 504 (rate);
- `timeout`: hold the answer back `slow` seconds, then close the connection
  unanswered, as an overloaded server behind a proxy does (rate);
- `reset`: close the connection at once without an answer (rate);
- `ratelimit`: answer as a rate-limited ping (rate);
- `seed` (int, default 0), `slow` (seconds, default 30), `count` (at most
  this many faults in all, then healthy), `only` (`ping` or `api`: which
  requests may fail; default both).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

STATUS_FAULTS = ("500", "502", "503", "504")
FAULT_KINDS = (*STATUS_FAULTS, "5xx", "timeout", "reset", "ratelimit")
SCOPES = ("ping", "api")


@dataclass(frozen=True)
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 30.0
    count: int | None = None
    only: str | None = None

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        """Read a spec like `500=0.2,timeout=0.1,seed=7`; ValueError says what is wrong."""
        if not spec:
            return cls()
        rates: dict[str, float] = {}
        options: dict[str, str] = {}
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"fault {part!r} needs a value, like {name}=0.1")
            if name in FAULT_KINDS:
                try:
                    rate = float(value)
                except ValueError:
                    raise ValueError(f"fault {name}: {value!r} is not a number") from None
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"fault {name}: rate {rate} is not between 0 and 1")
                rates[name] = rate
            elif name in ("seed", "slow", "count", "only"):
                options[name] = value.strip()
            else:
                known = ", ".join((*FAULT_KINDS, "seed", "slow", "count", "only"))
                raise ValueError(f"unknown fault {name!r} (known: {known})")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to more than 1: {spec!r}")
        only = options.get("only")
        if only is not None and only not in SCOPES:
            raise ValueError(f"fault only={only!r}: expected one of {', '.join(SCOPES)}")
        try:
            return cls(
                rates=rates,
                seed=int(options.get("seed", "0")),
                slow_seconds=float(options.get("slow", "30")),
                count=int(options["count"]) if "count" in options else None,
                only=only,
            )
        except ValueError as error:
            raise ValueError(f"fault options in {spec!r}: {error}") from None


class FaultInjector:
    """Draws, request by request, which fault (if any) to inject."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)  # noqa: S311 - replayable test faults, not secrets
        self._injected = 0
        self._lock = threading.Lock()

    def draw(self, scope: str) -> str | None:
        """The fault for the next request of `scope` (`ping` or `api`): a kind or None."""
        plan = self.plan
        if not plan.rates or (plan.only is not None and plan.only != scope):
            return None
        with self._lock:
            if plan.count is not None and self._injected >= plan.count:
                return None
            roll = self._rng.random()
            threshold = 0.0
            for kind in FAULT_KINDS:
                threshold += plan.rates.get(kind, 0.0)
                if roll < threshold:
                    self._injected += 1
                    if kind == "5xx":
                        return self._rng.choice(STATUS_FAULTS)
                    return kind
            return None

    @property
    def injected(self) -> int:
        with self._lock:
            return self._injected
