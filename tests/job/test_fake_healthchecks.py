"""The fake Healthchecks behaves like the real services (../shared/healthchecks-ping.md)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from fakes.healthchecks import DEFAULT_BODY_LIMITS, FakeHealthchecks
from fakes.healthchecks.faults import FaultInjector, FaultPlan


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def api(fake: FakeHealthchecks, method: str, path: str, doc: Any = None, key: str | None = None):
    body = json.dumps(doc).encode() if doc is not None else None
    headers = {"X-Api-Key": key if key is not None else fake.api_key}
    status, text, _ = call(f"{fake.api_url}/api/v3/{path}", method, body, headers)
    return status, json.loads(text) if text else None


def test_ping_by_uuid_at_root_and_under_ping(hc: FakeHealthchecks) -> None:
    check = hc.add_check("nightly", slug="nightly")
    rid = str(uuid.uuid4())
    assert call(f"{hc.base_url}/{check.uuid}/start?rid={rid}")[:2] == (200, "OK")
    status, text, headers = call(f"{hc.base_url}/ping/{check.uuid}?rid={rid}", "POST", b"done")
    assert (status, text) == (200, "OK")
    assert headers["Ping-Body-Limit"] == str(DEFAULT_BODY_LIMITS[hc.mode])
    assert [(p.kind, p.rid, p.body) for p in check.pings] == [
        ("start", rid, ""),
        ("success", rid, "done"),
    ]
    assert check.status == "up"
    assert not check.started


def test_every_method_and_action(hc: FakeHealthchecks) -> None:
    check = hc.add_check("nightly")
    base = f"{hc.ping_base}/{check.uuid}"
    assert call(base, "HEAD")[0] == 200
    assert call(f"{base}/fail")[:2] == (200, "OK")
    assert check.status == "down"
    assert call(f"{base}/log", "POST", b"a note")[:2] == (200, "OK")
    assert check.status == "down"  # a log changes nothing
    assert call(f"{base}/0")[:2] == (200, "OK")
    assert check.status == "up"
    assert call(f"{base}/3", "POST", b"signed out")[:2] == (200, "OK")
    assert [(p.kind, p.exit_status, p.method) for p in check.pings] == [
        ("success", None, "HEAD"),
        ("fail", None, "GET"),
        ("log", None, "POST"),
        ("success", 0, "GET"),
        ("fail", 3, "POST"),
    ]
    assert call(f"{base}/256")[:2] == (400, "invalid url format")
    assert call(f"{base}?rid=not-a-uuid")[:2] == (400, "invalid uuid format")
    assert call(base, "PUT")[0] == 405
    assert len(check.pings) == 5


def test_unknown_check_answers_by_mode(hc: FakeHealthchecks) -> None:
    status, text, _ = call(f"{hc.ping_base}/{uuid.uuid4()}")
    slug_status, slug_text, _ = call(f"{hc.ping_base}/{hc.ping_key}/nobody")
    if hc.mode == "hosted":
        assert (status, text) == (slug_status, slug_text) == (200, "OK (not found)")
    else:
        assert (status, text) == (slug_status, slug_text) == (404, "not found")


def test_slug_pings_and_create(hc: FakeHealthchecks) -> None:
    base = f"{hc.ping_base}/{hc.ping_key}/alice"
    status, text, headers = call(f"{base}/start?create=1")
    assert (status, text) == (201, "Created")
    assert "Ping-Body-Limit" in headers
    check = hc.check("alice")
    assert call(f"{base}?create=1")[:2] == (200, "OK")  # exists now: a plain OK
    assert [p.kind for p in check.pings] == ["start", "success"]
    # create=1 with a wrong ping key creates nothing
    wrong = call(f"{hc.ping_base}/wrong-key/bob?create=1")
    assert wrong[0] == (200 if hc.mode == "hosted" else 404)
    assert [c.slug for c in hc.checks] == ["alice"]
    hc.add_check("second alice", slug="alice")
    assert call(base)[:2] == (409, "ambiguous slug")


def test_body_is_stored_up_to_the_limit(tmp_path: Path) -> None:
    with FakeHealthchecks(body_limit=100, record=tmp_path / "r.jsonl") as fake:
        check = fake.add_check("x")
        status, _, headers = call(fake.ping_url(check), "POST", "é".encode() * 80)
        assert status == 200
        assert headers["Ping-Body-Limit"] == "100"
        assert check.pings[0].body_bytes == 160
        assert len(check.pings[0].body.encode()) <= 100 + 2  # cut bytes, undecodable tail
        record = fake.records()[-1]
        assert record["body_bytes"] == 160
        assert record["stored_bytes"] == 100


def test_rate_limit_drops_pings_past_five_a_minute(hc: FakeHealthchecks) -> None:
    by_uuid = hc.add_check("fast")
    answers = [call(hc.ping_url(by_uuid))[:2] for _ in range(7)]
    assert answers[:5] == [(200, "OK")] * 5
    limited = (200, "OK (rate limited)") if hc.mode == "hosted" else (429, "rate limited")
    assert answers[5:] == [limited] * 2
    assert len(by_uuid.pings) == 5
    hc.add_check("by slug", slug="fast-slug")
    slug_answers = [call(f"{hc.ping_base}/{hc.ping_key}/fast-slug")[0] for _ in range(6)]
    assert slug_answers == [200] * 5 + [429]  # slug pings get 429 in both modes


def test_api_create_update_and_unique(hc: FakeHealthchecks) -> None:
    spec = {
        "name": "alice backup",
        "slug": "alice",
        "schedule": "17 3 * * *",
        "tz": "Europe/Riga",
        "grace": 3600,
        "unique": ["slug"],
    }
    status, created = api(hc, "POST", "checks/", spec)
    assert status == 201
    assert created["ping_url"] == f"{hc.ping_base}/{created['uuid']}"
    assert created["schedule"] == "17 3 * * *"
    status, updated = api(hc, "POST", "checks/", {**spec, "grace": 7200})
    assert status == 200
    assert updated["uuid"] == created["uuid"]
    assert updated["grace"] == 7200
    assert len(hc.checks) == 1
    # a unique field that is absent matches nothing: the real server makes a duplicate
    status, _ = api(hc, "POST", "checks/", {"name": "alice backup", "unique": ["slug"]})
    assert status == 201
    assert len(hc.checks) == 2
    status, listed = api(hc, "GET", "checks/?slug=alice")
    assert status == 200
    assert [c["uuid"] for c in listed["checks"]] == [created["uuid"]]
    status, one = api(hc, "GET", f"checks/{created['uuid']}")
    assert (status, one["name"]) == (200, "alice backup")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("grace", 30, "grace is too small"),
        ("grace", "3600", "grace is not a number"),
        ("schedule", "every night", "schedule is not a valid cron"),
        ("tz", "Mars/Olympus", "tz is not a valid timezone"),
        ("slug", "Alice!", "slug does not match pattern"),
        ("unique", ["owner"], "unexpected value"),
    ],
)
def test_api_refuses_bad_specs(tmp_path: Path, field: str, value: Any, error: str) -> None:
    with FakeHealthchecks(record=tmp_path / "r.jsonl") as fake:
        status, body = api(fake, "POST", "checks/", {"name": "x", field: value})
        assert status == 400
        assert error in body["error"]
        assert fake.checks == []


def test_api_keys(tmp_path: Path) -> None:
    with FakeHealthchecks(record=tmp_path / "r.jsonl") as fake:
        assert api(fake, "GET", "checks/", key="") == (401, {"error": "missing api key"})
        assert api(fake, "GET", "checks/", key="nope") == (401, {"error": "wrong api key"})
        body = json.dumps({"api_key": fake.api_key, "name": "in body"}).encode()
        status, _, _ = call(f"{fake.api_url}/api/v3/checks/", "POST", body)
        assert status == 201
        assert fake.api_key not in (tmp_path / "r.jsonl").read_text()  # never recorded


def test_fault_plan_is_replayable_and_bounded() -> None:
    plan = FaultPlan.parse("500=0.3,timeout=0.2,ratelimit=0.1,seed=7")
    first = [FaultInjector(plan).draw("ping") for _ in range(1)]
    draws = FaultInjector(plan)
    again = FaultInjector(plan)
    sequence = [draws.draw("ping") for _ in range(200)]
    assert sequence == [again.draw("ping") for _ in range(200)]
    assert first[0] == sequence[0]
    assert 30 < sequence.count("500") < 90
    assert 15 < sequence.count("timeout") < 70
    counted = FaultInjector(FaultPlan.parse("5xx=1,count=2"))
    drawn = [counted.draw("ping") for _ in range(4)]
    assert drawn[2:] == [None, None]
    assert all(code in ("500", "502", "503", "504") for code in drawn[:2])
    assert FaultInjector(FaultPlan.parse("500=1,only=api")).draw("ping") is None
    for bad in ("500=2", "teapot=0.1", "500", "500=0.6,503=0.6", "only=all,500=1"):
        with pytest.raises(ValueError):
            FaultPlan.parse(bad)


def test_faults_on_the_wire(tmp_path: Path) -> None:
    with FakeHealthchecks(faults="503=1,count=1", record=tmp_path / "r.jsonl") as fake:
        check = fake.add_check("x")
        assert call(fake.ping_url(check))[0] == 503
        assert call(fake.ping_url(check))[:2] == (200, "OK")
        assert len(check.pings) == 1
        fake.set_faults("timeout=1,slow=5")
        started = time.monotonic()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(fake.ping_url(check), timeout=0.5)
        assert time.monotonic() - started < 2
        fake.set_faults("reset=1")
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(fake.ping_url(check), timeout=2)
        fake.set_faults("ratelimit=1")
        assert call(fake.ping_url(check))[0] == 429
        assert len(check.pings) == 1
        assert [r["fault"] for r in fake.records()] == [
            "503",
            None,
            "timeout",
            "reset",
            "ratelimit",
        ]


def test_serve_as_a_process(tmp_path: Path) -> None:
    record, url_file = tmp_path / "record.jsonl", tmp_path / "url"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakes.healthchecks",
            "serve",
            "--port",
            "0",
            "--record",
            str(record),
            "--url-file",
            str(url_file),
            "--mode",
            "hosted",
            "--body-limit",
            "1234",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("serving http://127.0.0.1:")
        base = line.removeprefix("serving ")
        assert url_file.read_text().strip() == base
        from fakes.healthchecks import DEFAULT_PING_KEY

        status, text, headers = call(f"{base}/{DEFAULT_PING_KEY}/night?create=1", "POST", b"hi")
        assert (status, text, headers["Ping-Body-Limit"]) == (201, "Created", "1234")
        assert call(f"{base}/{uuid.uuid4()}")[:2] == (200, "OK (not found)")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["method"], r["status"], r["kind"], r["slug"], r["body"]) for r in lines] == [
        ("POST", 201, "success", "night", "hi"),
        ("GET", 200, "success", None, ""),
    ]
    assert lines[1]["check"] is None
    assert {"time", "path", "query"} <= set(lines[0])
    assert oct(record.stat().st_mode & 0o777) == "0o600"
