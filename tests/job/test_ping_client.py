"""The ping client against the fake Healthchecks, hosted and self-hosted, faults included."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from gphotos_collector.errors import UsageError
from gphotos_collector.healthchecks import (
    DEFAULT_BODY_LIMIT,
    PingClient,
    PingEndpoint,
    endpoint_from_options,
    fit_body,
)

from fakes.healthchecks import FakeHealthchecks


class ListSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def client(endpoint: PingEndpoint, sink: ListSink | None = None, **kwargs: Any) -> PingClient:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("backoff", 0.05)
    return PingClient(endpoint, sink or ListSink(), **kwargs)


def uuid_endpoint(fake: FakeHealthchecks, name: str = "nightly") -> PingEndpoint:
    endpoint = endpoint_from_options(ping_url=fake.ping_url(fake.add_check(name)))
    assert endpoint is not None
    return endpoint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_ping_counts_only_on_ok_or_created(hc: FakeHealthchecks) -> None:
    recorded = client(uuid_endpoint(hc)).ping("start", rid=str(uuid.uuid4()))
    assert (recorded.recorded, recorded.status, recorded.answer) == (True, 200, "OK")
    missing = endpoint_from_options(ping_url=f"{hc.ping_base}/{uuid.uuid4()}")
    assert missing is not None
    lost = client(missing).ping("success")
    assert not lost.recorded
    assert lost.attempts == 1  # not found is not transient: no retry
    if hc.mode == "hosted":
        assert (lost.status, lost.answer) == (200, "OK (not found)")
    else:
        assert (lost.status, lost.answer) == (404, "not found")
    created = endpoint_from_options(
        ping_base=hc.ping_base, ping_key=hc.ping_key, slug="carol", create=True
    )
    assert created is not None
    result = client(created).ping("start")
    assert (result.recorded, result.status, result.answer) == (True, 201, "Created")
    assert [p.kind for p in hc.check("carol").pings] == ["start"]


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_transient_answers_are_retried_with_backoff(hc: FakeHealthchecks, status: str) -> None:
    endpoint = uuid_endpoint(hc)
    hc.set_faults(f"{status}=1,count=2")
    waits: list[float] = []
    result = client(endpoint, attempts=3, backoff=0.2, sleep=waits.append).ping("success")
    assert (result.recorded, result.attempts) == (True, 3)
    assert len(waits) == 2
    assert 0.15 <= waits[0] <= 0.25 and 0.3 <= waits[1] <= 0.5  # doubling, with jitter
    assert [r["status"] for r in hc.records()] == [int(status), int(status), 200]


def test_rate_limited_is_retried_but_never_counted(hc: FakeHealthchecks) -> None:
    endpoint = uuid_endpoint(hc)
    hc.set_faults("ratelimit=1")
    result = client(endpoint, attempts=3).ping("success")
    assert not result.recorded
    assert result.attempts == 3
    expected = (200, "OK (rate limited)") if hc.mode == "hosted" else (429, "rate limited")
    assert (result.status, result.answer) == expected
    assert hc.checks[0].pings == []


def test_a_slow_server_costs_at_most_the_bounded_retries(hc: FakeHealthchecks) -> None:
    endpoint = uuid_endpoint(hc)
    hc.set_faults("timeout=1,slow=30")
    pinger = client(endpoint, timeout=0.3, attempts=3, backoff=0.1)
    started = time.monotonic()
    result = pinger.ping("success", "body")
    elapsed = time.monotonic() - started
    assert not result.recorded
    assert result.attempts == 3
    assert result.answer == "timed out"
    assert elapsed <= pinger.budget_seconds + 0.5
    assert elapsed >= 0.9  # it did wait for each of the three attempts


def test_a_server_that_is_down_costs_at_most_the_bounded_retries() -> None:
    endpoint = endpoint_from_options(ping_url=f"http://127.0.0.1:{free_port()}/{uuid.uuid4()}")
    assert endpoint is not None
    pinger = client(endpoint, timeout=1.0, attempts=3, backoff=0.1)
    started = time.monotonic()
    result = pinger.ping("start")
    assert not result.recorded
    assert result.attempts == 3
    assert result.answer.startswith("connection failed")
    assert time.monotonic() - started <= pinger.budget_seconds


def test_a_reset_connection_is_retried(hc: FakeHealthchecks) -> None:
    endpoint = uuid_endpoint(hc)
    hc.set_faults("reset=1,count=1")
    result = client(endpoint).ping("success")
    assert (result.recorded, result.attempts) == (True, 2)


def test_the_body_limit_is_learned_from_the_server(tmp_path: Path, mode: str) -> None:
    with FakeHealthchecks(mode=mode, body_limit=777, record=tmp_path / "r.jsonl") as fake:
        pinger = client(uuid_endpoint(fake))
        assert pinger.body_limit == DEFAULT_BODY_LIMIT
        assert pinger.ping("start").recorded
        assert (pinger.body_limit, pinger.body_limit_announced) == (777, True)
        assert pinger.ping("fail", "x" * 5000).recorded
        assert fake.records()[-1]["body_bytes"] == 777  # never more than the server keeps


def test_events_show_the_host_not_the_secret(hc: FakeHealthchecks) -> None:
    check = hc.add_check("secret one")
    endpoint = endpoint_from_options(ping_url=hc.ping_url(check))
    assert endpoint is not None
    sink = ListSink()
    client(endpoint, sink).ping("start")
    text = json.dumps(sink.events)
    assert check.uuid not in text
    assert check.uuid[-4:] in text
    assert "127.0.0.1" in text
    slug_endpoint = endpoint_from_options(ping_base=hc.ping_base, ping_key=hc.ping_key, slug="s")
    assert slug_endpoint is not None
    client(slug_endpoint, sink).ping("log")
    assert hc.ping_key not in json.dumps(sink.events)
    shown = slug_endpoint.redacted
    assert hc.ping_key not in shown
    assert shown.startswith(f"{hc.ping_base.split('/ping')[0]}/…") and shown.endswith("/s")


KEY = "Xq3vB7pL2mN9kR4tW8yZ1a"  # the shape of a real ping key: 22 URL-safe characters


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({"ping_url": f"https://hc-ping.com/{KEY}/alice-photos"}, "https://hc-ping.com/…otos"),
        ({"ping_url": f"https://hc.example.org/ping/{KEY}/bob/"}, "https://hc.example.org/…/bob"),
        ({"ping_key": KEY, "slug": "alice-photos"}, "https://hc-ping.com/…otos"),
        (
            {"ping_base": "https://hc.example.org/ping", "ping_key": KEY, "slug": "bob"},
            "https://hc.example.org/…/bob",
        ),
        (
            {"ping_url": "https://hc-ping.com/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e"},
            "https://hc-ping.com/…4d5e",
        ),
    ],
)
def test_a_ping_url_shows_only_scheme_host_and_the_end_of_its_path(
    options: dict[str, Any], shown: str
) -> None:
    endpoint = endpoint_from_options(**options)
    assert endpoint is not None
    assert endpoint.redacted == shown
    secrets = endpoint.secrets()
    assert KEY in secrets or "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e" in secrets
    assert all(KEY not in replacement for replacement in secrets.values())


def test_endpoint_urls() -> None:
    by_url = endpoint_from_options(ping_url="https://hc.example.com/ping/0b1c2d3e-aaaa/")
    assert by_url is not None
    assert by_url.url("success") == "https://hc.example.com/ping/0b1c2d3e-aaaa"
    assert by_url.url("start", "r1") == "https://hc.example.com/ping/0b1c2d3e-aaaa/start?rid=r1"
    assert by_url.url("3") == "https://hc.example.com/ping/0b1c2d3e-aaaa/3"
    assert by_url.redacted == "https://hc.example.com/…aaaa"
    by_slug = endpoint_from_options(ping_key="KEY-0123456789", slug="alice-nas", create=True)
    assert by_slug is not None
    assert (
        by_slug.url("log", "r") == "https://hc-ping.com/KEY-0123456789/alice-nas/log?create=1&rid=r"
    )
    assert "KEY-0123456789" not in by_slug.redacted
    assert endpoint_from_options() is None  # no ping settings: unmonitored


@pytest.mark.parametrize(
    "options",
    [
        {"ping_url": "https://hc-ping.com/u", "slug": "x"},
        {"ping_url": "ftp://hc-ping.com/u"},
        {"ping_url": "https://hc-ping.com/u?x=1"},
        {"ping_key": "k"},
        {"slug": "s"},
        {"ping_key": "k", "slug": "Not A Slug"},
        {"ping_url": "https://hc-ping.com/u", "create": True},
        {"ping_base": "https://hc.example.com/ping"},
    ],
)
def test_bad_ping_settings_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        endpoint_from_options(**options)


def test_fit_body_keeps_the_first_line_and_the_end_of_the_output() -> None:
    output = "".join(f'{{"event": "item-done", "n": {n}, "name": "é{n}"}}\n' for n in range(2000))
    body = fit_body("alice on nas: signed out: run this", output, 1000)
    assert len(body) <= 1000
    text = body.decode("utf-8")  # never cut inside a character
    lines = text.splitlines()
    assert lines[0] == "alice on nas: signed out: run this"
    assert lines[1].startswith("[output cut to fit the server's 1000-byte limit:")
    assert lines[-1] == '{"event": "item-done", "n": 1999, "name": "é1999"}'
    assert lines[2].startswith('{"event"')  # starts on a whole line
    cut = int(lines[1].split(": ")[1].split()[0])
    kept = len("\n".join(lines[2:]).encode()) + 1
    assert cut + kept == len(output.encode())
    # When the output is already only the tail of a longer one, the note counts it all.
    body = fit_body("first", output, 1000, total_bytes=10**6).decode()
    cut = int(body.splitlines()[1].split(": ")[1].split()[0])
    assert cut == 10**6 - len("".join(line + "\n" for line in body.splitlines()[2:]).encode())
    short = fit_body("first", "a\nb\n", 1000)
    assert short == b"first\na\nb\n"
    assert len(fit_body("x" * 5000, output, 300)) <= 300
