"""Fault injection: clear errors for bad specs, rates as asked, no corrupt downloads."""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.parse

import pytest

from fakes.photos import FakePhotos, FaultSpecError, parse_fault_spec
from fakes.photos.testing import ALICE, AppCalls, fetch, items_by_k, sign_in


def test_a_spec_is_parsed_with_every_key() -> None:
    spec = parse_fault_spec("5xx=0.1, stall=0.05,reset=0.05,expire=0.001,seed=7")
    assert (spec.server_error, spec.stall, spec.reset, spec.expire, spec.seed) == (
        0.1,
        0.05,
        0.05,
        0.001,
        7,
    )
    assert not parse_fault_spec(None).active and not parse_fault_spec("").active


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5xx", "not KEY=VALUE"),
        ("timeout=0.1", "unknown fault 'timeout'"),
        ("5xx=lots", "must be a number"),
        ("stall=1.5", "from 0 to 1"),
        ("5xx=0.6,reset=0.6", "must not exceed 1"),
        ("seed=x", "seed must be an integer"),
        ("5xx=0.1,5xx=0.2", "given twice"),
    ],
)
def test_a_bad_spec_is_refused_with_a_clear_message(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=says):
        parse_fault_spec(text)


def _app(fake: FakePhotos, cookie: str) -> tuple[AppCalls, int]:
    """The app page itself may meet an injected 5xx: retry as a person would."""
    for failures in range(50):
        try:
            return AppCalls(fake.base_url, cookie), failures
        except AssertionError:
            continue
    raise AssertionError("the app page never loaded")


def _answer(calls: AppCalls, rpc_id: str, args: list) -> dict:
    for _ in range(50):
        reply = calls.call(rpc_id, args)
        if reply.status == 200:
            return json.loads(json.loads(reply.text.split("\n\n", 1)[1])[0][2])
    raise AssertionError(f"{rpc_id} kept failing")


def test_server_errors_come_at_the_asked_rate_on_pages_and_calls() -> None:
    with FakePhotos(items=30, seed=4, media_scale=0.02, faults="5xx=0.25,seed=3") as fake:
        cookie = sign_in(fake.base_url, ALICE)
        statuses = [fetch(fake.base_url + "/", cookie=cookie).status for _ in range(200)]
        page_errors = sum(1 for s in statuses if s >= 500)
        assert set(statuses) <= {200, 500, 502, 503}
        assert 30 <= page_errors <= 70, page_errors  # 25% of 200, with room for chance
        calls, shell_errors = _app(fake, cookie)
        newest = fake.manifest()["accounts"][ALICE]["items"][0]["id"]
        rpc = [calls.call("VrseUb", [newest, ""]).status for _ in range(80)]
        rpc_errors = sum(1 for s in rpc if s >= 500)
        assert 8 <= rpc_errors <= 34, rpc_errors
        assert fake.fault_counts["5xx"] == page_errors + shell_errors + rpc_errors


def _download(url: str, cookie: str, stall_after: float) -> tuple[str, bytes, int]:
    """('complete' | 'stalled' | 'reset' | 'error'), body so far, announced length.

    A stall is judged as a client would: headers came, then no progress for `stall_after`.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = b""
    length = -1
    try:
        connection.request(
            "GET", f"{parts.path}?{parts.query}", headers={"Cookie": f"SID={cookie}"}
        )
        response = connection.getresponse()
        if response.status != 200:
            return "error", b"", response.status
        length = int(response.headers["Content-Length"])
        assert connection.sock is not None
        connection.sock.settimeout(stall_after)
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            body += chunk
        return ("complete" if len(body) == length else "reset"), body, length
    except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
        return "stalled", body, length
    except (ConnectionResetError, http.client.IncompleteRead, http.client.RemoteDisconnected):
        return "reset", body, length
    finally:
        connection.close()


def test_downloads_stall_or_reset_at_the_asked_rates_and_never_corrupt() -> None:
    spec = "5xx=0.1,stall=0.15,reset=0.2,seed=5"
    with FakePhotos(items=40, seed=4, media_scale=0.05, faults=spec) as fake:
        cookie = sign_in(fake.base_url, ALICE)
        ok = [i for i in items_by_k(fake.manifest(), ALICE) if i["state"] == "ok"]
        items = [i for i in ok if i["kind"] != "live" and not i["edited"]][:25]  # one file each
        calls, _ = _app(fake, cookie)
        urls = [
            (item, fake.base_url + _answer(calls, "pLFTfd", [item["id"], "", 0])["url"])
            for item in items
        ]
        outcomes = {"complete": 0, "stalled": 0, "reset": 0, "error": 0}
        for _round in range(3):
            for item, url in urls:
                outcome, body, length = _download(url, cookie, stall_after=0.6)
                outcomes[outcome] += 1
                if outcome == "complete":
                    assert hashlib.sha256(body).hexdigest() == item["files"][0]["sha256"]
                    assert length == item["size"]
                elif outcome in ("stalled", "reset"):
                    assert len(body) < length  # a cut download is visibly short
        assert sum(outcomes.values()) == 75  # expected: 7.5 errors, 11 stalls, 15 resets
        assert 1 <= outcomes["error"] <= 18, outcomes
        assert 3 <= outcomes["stalled"] <= 22, outcomes
        assert 5 <= outcomes["reset"] <= 28, outcomes
        injected = fake.fault_counts
        assert injected["stall"] == outcomes["stalled"] and injected["reset"] == outcomes["reset"]


def test_session_expiry_signs_the_profile_out_mid_run() -> None:
    with FakePhotos(items=10, seed=4, media_scale=0.02, faults="expire=0.04,seed=11") as fake:
        cookie = sign_in(fake.base_url, ALICE)
        statuses = [fetch(fake.base_url + "/", cookie=cookie).status for _ in range(150)]
        first_out = statuses.index(302)
        assert set(statuses[:first_out]) == {200} and set(statuses[first_out:]) == {302}
        assert 5 < first_out < 150
        assert fake.fault_counts["expire"] == 1
        again = sign_in(fake.base_url, ALICE)
        assert fetch(fake.base_url + "/", cookie=again).status in (200, 302)
