"""A fake Healthchecks (hosted hc-ping.com or self-hosted) for tests and the demo.

    from fakes.healthchecks import FakeHealthchecks

    with FakeHealthchecks(mode="hosted", body_limit=2000) as hc:
        check = hc.add_check("alice backup", slug="alice")
        ...  # ping hc.ping_url(check), or f"{hc.ping_base}/{hc.ping_key}/alice"
        hc.records()  # every request, one dict each

`python -m fakes.healthchecks serve ...` runs the same server as a process.
"""

from fakes.healthchecks.checks import Check, Ping
from fakes.healthchecks.server import (
    DEFAULT_API_KEY,
    DEFAULT_BODY_LIMITS,
    DEFAULT_PING_KEY,
    FakeHealthchecks,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_BODY_LIMITS",
    "DEFAULT_PING_KEY",
    "Check",
    "FakeHealthchecks",
    "Ping",
]
