"""The one error a person running the test hosts can act on."""

from __future__ import annotations


class TestHostError(Exception):
    """Something about this machine or a host stops the test hosts; the message says what to do."""

    __test__ = False  # not a pytest test class, despite the name
