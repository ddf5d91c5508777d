"""`--config FILE` on every command, through real `gphotos-collector` processes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from gphotos_collector.cli import cli
from gphotos_collector.config import known_keys
from jobtools import collector, write_config

from fakes.healthchecks import FakeHealthchecks


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_config_other_users_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    hc_records = tmp_path / "hc.jsonl"
    calls = tmp_path / "calls"
    with FakeHealthchecks(record=hc_records) as fake:
        check = fake.add_check("alice")
        config = write_config(
            tmp_path / "alice.toml",
            mode=mode,
            profile=str(tmp_path),
            dest=str(tmp_path / "photos"),
            ping_url=fake.ping_url(check),
        )
        result = collector("run", "--config", config, script=[{"calls": str(calls)}])
        assert result.returncode == 2
        assert f"Run `chmod 600 {config}` and try again." in result.stderr
        assert f"mode {mode:04o}" in result.stderr
        assert check.uuid not in result.stderr + result.stdout
        assert not calls.exists()  # nothing ran
        assert fake.records() == []  # not even a ping
        assert not (tmp_path / "photos").exists()


@pytest.mark.parametrize(
    "command", [["run"], ["sync"], ["check"], ["status"], ["healthchecks", "ensure"]]
)
def test_every_command_takes_config_and_refuses_a_shared_one(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path / "c.toml", mode=0o644, dest=str(tmp_path))
    result = collector(*command, "--config", config)
    assert result.returncode == 2, result.stderr
    assert "chmod 600" in result.stderr


@pytest.mark.parametrize("command", [["run"], ["check"], ["status"], ["healthchecks", "ensure"]])
def test_an_unknown_key_is_an_error_naming_it(tmp_path: Path, command: list[str]) -> None:
    config = write_config(tmp_path / "c.toml", dest=str(tmp_path), workerz=4)
    result = collector(*command, "--config", config)
    assert result.returncode == 2
    assert "unknown key `workerz`" in result.stderr
    assert "--workerz" in result.stderr


def test_keys_use_underscores(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    write_config(config)
    config.write_text('ping-url = "https://hc-ping.com/x"\n')
    result = collector("run", "--config", config)
    assert result.returncode == 2
    assert "write `ping_url`, not `ping-url`" in result.stderr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("dest = \n", "is not valid TOML"),
        ("[run]\ndest = '/x'\n", "[run] is a table"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, error: str) -> None:
    config = write_config(tmp_path / "c.toml")
    config.write_text(text)
    result = collector("run", "--config", config)
    assert result.returncode == 2
    assert error in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = collector("run", "--config", tmp_path / "nope.toml")
    assert result.returncode == 2
    assert f"config file {tmp_path / 'nope.toml'} does not exist" in result.stderr


def test_a_key_of_another_command_is_ignored(tmp_path: Path) -> None:
    """One file serves run, check and status: sync ignores run's ping settings."""
    config = write_config(
        tmp_path / "c.toml",
        profile=str(tmp_path / "no-such-profile"),
        dest=str(tmp_path / "photos"),
        ping_url="https://hc-ping.com/0b1c2d3e-1111-2222-3333-444455556666",
        retries=2,
    )
    result = collector("sync", "--config", config)
    assert "unknown key" not in result.stderr
    assert "no-such-profile" in result.stderr  # it got as far as checking the profile
    assert result.returncode == 2


def test_values_are_converted_like_command_line_values(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", profile=str(tmp_path), dest=str(tmp_path), workers=99
    )
    result = collector("run", "--config", config)
    assert result.returncode == 2
    assert "--workers" in result.stderr and "99" in result.stderr


def test_known_keys_cover_every_command() -> None:
    keys = known_keys(cli)
    assert {"profile", "dest", "workers", "account_index", "ping_url", "ping_key", "slug"} <= keys
    assert {"api_url", "api_key", "api_key_file", "schedule", "grace", "json"} <= keys
    assert "config" not in keys and "help" not in keys
    commands = {
        name for name, command in cli.commands.items() if isinstance(command, click.Command)
    }
    assert {"run", "healthchecks", "sync", "check", "status", "login"} <= commands
