"""Trials `secrets` and `isolation` (`make trials` prints them): a deployed member's run
leaks no secret, and two members on one host cannot read each other's files."""

from __future__ import annotations

import hashlib
import shlex
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import tomllib
from scenario_checks import (
    INVENTORY_DIR,
    LOG_ROOT,
    PROJECT_DIR,
    members_of,
    parse_cron_file,
    run_as_cron_would,
    scenario_hosts,
)

testinfra_hosts = scenario_hosts()[:1]

SECRET_KEYS = ("ping_url", "ping_key", "api_key")
PS_LOG = "/root/trial-ps.log"


def _secrets(host, member) -> list[str]:
    """The member's ping URL (and its UUID), ping key and API key, from its 0600 config."""
    config = tomllib.loads(host.file(member.config).content_string)
    found = []
    for key in SECRET_KEYS:
        value = str(config.get(key) or "")
        if value:
            found.append(value)
            if key == "ping_url":
                found.append(value.rstrip("/").rsplit("/", 1)[-1])
    return found


def _cookie_values(host, member) -> list[str]:
    """The profile's cookie values, decrypted as Chrome's basic password store keeps them."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.pbkdf2_hmac("sha1", b"peanuts", b"saltysalt", 1, 16)
    blob = host.file(f"{member.profile_dir}/Default/Cookies").content
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as copy:
        Path(copy.name).write_bytes(blob)
        db = sqlite3.connect(copy.name)
        rows = db.execute("SELECT value, encrypted_value FROM cookies").fetchall()
        db.close()
    values = []
    for plain, encrypted in rows:
        if plain:
            values.append(plain)
        elif encrypted[:3] in (b"v10", b"v11"):
            decryptor = Cipher(algorithms.AES(key), modes.CBC(b" " * 16)).decryptor()
            padded = decryptor.update(encrypted[3:]) + decryptor.finalize()
            data = padded[: -padded[-1]]
            text = (data[32:] if len(data) > 32 else data).decode("utf-8", "replace")
            values.append(text)
    return [v for v in values if len(v) >= 12]  # short values (flags) are no secrets


def test_trial_secrets_no_ping_url_key_or_cookie_in_ps_cron_logs_journal_or_ansible(host):
    member = members_of(host)[0]
    secrets = _secrets(host, member) + _cookie_values(host, member)
    assert secrets, "the member has a ping URL or key to look for"
    (job,) = parse_cron_file(host.file(member.cron_file).content_string)
    sampler = host.run(
        f"nohup sh -c 'while :; do ps -eww -o user,args; sleep 0.2; done' > {PS_LOG} 2>&1 & echo $!"
    ).stdout.strip()
    try:
        result = run_as_cron_would(host, job)
    finally:
        host.run(f"kill {sampler}")
    assert result.rc == 0, result.stderr
    places = {
        "ps": host.check_output(f"cat {PS_LOG}"),
        "cron files": host.check_output("cat /etc/cron.d/*"),
        "logs": host.run(f"find {LOG_ROOT} -type f -exec cat {{}} +").stdout,
        "journal": host.run("journalctl --no-pager -o cat").stdout,
        "the run's output": result.stdout + result.stderr,
    }
    playbook = subprocess.run(
        [
            "ansible-playbook",
            "-v",
            "-i",
            str(INVENTORY_DIR),
            str(PROJECT_DIR / "playbooks" / "run-now.yml"),
            "-e",
            f"account={member.name}",
            "--limit",
            host.backend.get_hostname(),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=PROJECT_DIR,
    )
    assert playbook.returncode == 0, playbook.stdout[-3000:] + playbook.stderr[-3000:]
    places["ansible-playbook -v run-now.yml"] = playbook.stdout + playbook.stderr
    assert len(places["ps"].splitlines()) > 10, "ps was sampled during the run"
    leaks = [
        f"{where}: ...{secret[:4]}..."
        for where, text in places.items()
        for secret in secrets
        if secret in text
    ]
    assert not leaks, f"secrets found: {leaks}"


def test_trial_isolation_members_cannot_read_each_others_photos_profile_config_or_logs(host):
    members = members_of(host)
    assert len(members) >= 2, "two members on one host"
    denied = 0
    for member in members:
        find_photo = (
            f"find {shlex.quote(member.dest)} -path '*/.gphotos-collector' -prune -o -type f "
            "-print -quit"
        )
        photo = host.check_output(find_photo)
        if not photo:  # its job has not run on this host yet (a fresh converge): run it
            (job,) = parse_cron_file(host.file(member.cron_file).content_string)
            result = run_as_cron_would(host, job)
            assert result.rc == 0, f"{member.name}: {result.stderr}"
            photo = host.check_output(find_photo)
        assert photo, f"{member.name} has photos to protect"
        targets = {
            "a photo": f"cat {shlex.quote(photo)}",
            "the photos folder": f"ls {shlex.quote(member.dest)}",
            "the state": f"cat {shlex.quote(member.dest)}/.gphotos-collector/state.sqlite3",
            "the profile": f"ls {member.profile_dir}",
            "the cookies": f"cat {member.profile_dir}/Default/Cookies",
            "the config": f"cat {member.config}",
            "the log": f"cat {member.log_file}",
        }
        for other in members:
            if other is member:
                continue
            for what, command in targets.items():
                attempt = host.run(f"runuser -u {other.user} -- {command}")
                assert attempt.rc != 0, f"{other.user} can read {member.name}'s {what}"
                denied += 1
    assert denied >= 14
