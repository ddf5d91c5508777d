"""Sign-in sessions as stateless signed cookies, keyed from the seed.

A session cookie lists the accounts signed in in one browser, in the order
they signed in (the n-th is served under `/u/<n>/`), each with the time it
signed in. Because the cookie is signed with a key derived from the seed, a
profile stays signed in across restarts of the fake with the same seed.
Revoking an account records a time: every session of that account issued
before it is signed out, on every profile; signing in again works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time

COOKIE_NAME = "SID"
COOKIE_MAX_AGE = 400 * 24 * 3600  # Chrome's upper bound on cookie lifetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC signatures for cookies, sign-in steps, download URLs and XSRF tokens."""

    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"fakes.photos/keys/{seed}".encode()).digest()

    def sign(self, purpose: str, payload: object) -> str:
        body = _b64(json.dumps([purpose, payload], separators=(",", ":")).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        return f"{body}.{_b64(mac)}"

    def verify(self, purpose: str, token: str | None) -> object | None:
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        try:
            if not hmac.compare_digest(_unb64(mac), expected):
                return None
            found_purpose, payload = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        return payload if found_purpose == purpose else None


class Sessions:
    """Which accounts a cookie holds, and which of them are still signed in."""

    def __init__(self, seed: int, accounts: list[str]) -> None:
        self.signer = Signer(seed)
        self._accounts = set(accounts)
        self._revoked_before: dict[str, int] = {}
        self._lock = threading.Lock()

    def entries(self, cookie_value: str | None) -> list[tuple[str, int]]:
        """All (email, issued) pairs in the cookie, signed in or not."""
        payload = self.signer.verify("session", cookie_value)
        if not isinstance(payload, list):
            return []
        found: list[tuple[str, int]] = []
        for entry in payload:
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
                and isinstance(entry[1], int)
            ):
                found.append((entry[0], entry[1]))
        return found

    def is_valid(self, email: str, issued: int) -> bool:
        with self._lock:
            return email in self._accounts and issued > self._revoked_before.get(email, 0)

    def account_at(self, cookie_value: str | None, index: int) -> str | None:
        """The signed-in email served under `/u/<index>/`, or None when signed out."""
        entries = self.entries(cookie_value)
        if not 0 <= index < len(entries):
            return None
        email, issued = entries[index]
        return email if self.is_valid(email, issued) else None

    def signed_in(self, cookie_value: str | None) -> list[tuple[int, str]]:
        return [
            (index, email)
            for index, (email, issued) in enumerate(self.entries(cookie_value))
            if self.is_valid(email, issued)
        ]

    def add(self, cookie_value: str | None, email: str) -> tuple[str, int]:
        """The cookie after `email` signs in, and the account's index in it."""
        entries = self.entries(cookie_value)
        now = time.time_ns()
        for index, (known, _) in enumerate(entries):
            if known == email:
                entries[index] = (email, now)
                break
        else:
            entries.append((email, now))
            index = len(entries) - 1
        value = self.signer.sign("session", [list(e) for e in entries])
        return value, index

    def knows(self, email: str) -> bool:
        return email in self._accounts

    def revoke(self, email: str) -> None:
        with self._lock:
            # A sign-in in the same nanosecond as the revocation stays signed out.
            self._revoked_before[email] = time.time_ns()
