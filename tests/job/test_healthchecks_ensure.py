"""`gphotos-collector healthchecks ensure` against the fake's v3 API, as real processes."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from jobtools import collector, write_config

from fakes.healthchecks import FakeHealthchecks


def ensure_args(fake: FakeHealthchecks, **overrides: str) -> list[str]:
    values = {
        "--api-url": fake.api_url,
        "--slug": "alice-nas1",
        "--name": "alice on nas1",
        "--schedule": "17 3 * * *",
        "--tz": "Europe/Riga",
        "--grace": "7200",
        **overrides,
    }
    return ["healthchecks", "ensure", *[part for pair in values.items() for part in pair]]


def api_env(fake: FakeHealthchecks) -> dict[str, str]:
    return {"HEALTHCHECKS_API_KEY": fake.api_key}


def test_ensure_twice_creates_one_check(hc: FakeHealthchecks) -> None:
    first = collector(*ensure_args(hc), env=api_env(hc))
    assert first.returncode == 0, first.stderr
    second = collector(*ensure_args(hc), env=api_env(hc))
    assert second.returncode == 0, second.stderr
    assert len(hc.checks) == 1
    check = hc.checks[0]
    assert (check.slug, check.name, check.schedule, check.tz, check.grace) == (
        "alice-nas1",
        "alice on nas1",
        "17 3 * * *",
        "Europe/Riga",
        7200,
    )
    url = first.stdout.strip()
    assert url == second.stdout.strip() == hc.ping_url(check)
    assert "created" in first.stderr and "unchanged" in second.stderr
    assert hc.api_key not in first.stdout + first.stderr
    # the printed URL is the check's: a ping to it is recorded
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"OK"
    assert len(check.pings) == 1
    kinds = [r["kind"] for r in hc.records()]
    assert kinds == ["api-list", "api-create", "api-list", "success"]  # no POST the 2nd time


def test_ensure_updates_a_changed_check_in_place(hc: FakeHealthchecks) -> None:
    assert collector(*ensure_args(hc), env=api_env(hc)).returncode == 0
    changed = collector(*ensure_args(hc, **{"--schedule": "5 4 * * *"}), "--json", env=api_env(hc))
    assert changed.returncode == 0, changed.stderr
    doc = json.loads(changed.stdout)
    assert (doc["action"], doc["changed"]) == ("updated", True)
    assert [c.schedule for c in hc.checks] == ["5 4 * * *"]
    dry = collector(*ensure_args(hc, **{"--grace": "600"}), "--dry-run", "--json", env=api_env(hc))
    assert json.loads(dry.stdout)["action"] == "would-update"
    assert hc.checks[0].grace == 7200  # a dry run changes nothing


def test_the_api_key_from_a_private_file_or_the_config(tmp_path: Path) -> None:
    with FakeHealthchecks(record=tmp_path / "r.jsonl") as fake:
        key_file = tmp_path / "api.key"
        key_file.write_text(fake.api_key + "\n")
        key_file.chmod(0o600)
        by_file = collector(*ensure_args(fake), "--api-key-file", key_file)
        assert by_file.returncode == 0, by_file.stderr
        key_file.chmod(0o644)
        shared = collector(*ensure_args(fake), "--api-key-file", key_file)
        assert shared.returncode == 2
        assert f"chmod 600 {key_file}" in shared.stderr
        config = write_config(tmp_path / "hc.toml", api_key=fake.api_key, api_url=fake.api_url)
        # api_url and api_key from the file; the rest from the command line
        by_config = collector("healthchecks", "ensure", "--config", config, *ensure_args(fake)[4:])
        assert by_config.returncode == 0, by_config.stderr
        assert len(fake.checks) == 1


def test_the_api_key_is_never_taken_from_the_command_line(tmp_path: Path) -> None:
    with FakeHealthchecks(record=tmp_path / "r.jsonl") as fake:
        result = collector(*ensure_args(fake), "--api-key", fake.api_key)
        assert result.returncode == 2
        assert "process list" in result.stderr
        assert fake.api_key not in result.stderr
        assert fake.records() == []
        env = {k: v for k, v in os.environ.items() if k != "HEALTHCHECKS_API_KEY"}
        missing = collector(*ensure_args(fake), env=env)
        assert missing.returncode == 2
        assert "HEALTHCHECKS_API_KEY" in missing.stderr


def test_a_wrong_key_or_spec_is_a_clear_usage_error(tmp_path: Path) -> None:
    with FakeHealthchecks(record=tmp_path / "r.jsonl") as fake:
        wrong = collector(*ensure_args(fake), env={"HEALTHCHECKS_API_KEY": "not-the-key-1234"})
        assert wrong.returncode == 2
        assert "refused the API key (HTTP 401)" in wrong.stderr
        assert "not-the-key-1234" not in wrong.stderr
        bad_tz = collector(*ensure_args(fake, **{"--tz": "Mars/Base"}), env=api_env(fake))
        assert bad_tz.returncode == 2
        assert "tz is not a valid timezone" in bad_tz.stderr
        assert fake.checks == []


def test_an_api_that_stays_down_is_a_temporary_failure(tmp_path: Path) -> None:
    with FakeHealthchecks(faults="503=1", record=tmp_path / "r.jsonl") as fake:
        result = collector(*ensure_args(fake), env=api_env(fake))
        assert result.returncode == 6
        assert "did not answer (HTTP 503) after 3 attempts" in result.stderr
    with FakeHealthchecks(faults="503=1,count=1", record=tmp_path / "r2.jsonl") as fake:
        result = collector(*ensure_args(fake), env=api_env(fake))
        assert result.returncode == 0, result.stderr
        assert len(fake.checks) == 1
