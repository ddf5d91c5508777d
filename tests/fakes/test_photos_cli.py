"""`python -m fakes.photos` as scripts, Molecule and the demo run it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.photos import FakePhotos
from fakes.photos.testing import ALICE, BOB, archived_ids, fetch, recent_ids, sign_in, visible_ids

COMMAND = [sys.executable, "-m", "fakes.photos"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    manifest = tmp_path / "manifest.json"
    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [
            *COMMAND,
            "serve",
            "--port",
            "0",
            "--items",
            "30",
            "--seed",
            "5",
            "--accounts",
            f"{ALICE},{BOB}",
            "--media-scale",
            "0.02",
            "--manifest",
            str(manifest),
            "--url-file",
            str(url_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), (
            process.stderr and process.stderr.read()
        )
        url = line.split()[1]
        assert url_file.read_text().strip() == url
        yield url, manifest, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_writes_the_manifest_and_obeys_revoke_grow_and_sigterm(served) -> None:
    url, manifest_path, process = served
    manifest = json.loads(manifest_path.read_text())
    assert manifest["items_per_account"] == 30 and set(manifest["accounts"]) == {ALICE, BOB}
    assert manifest["accounts"][BOB]["name"] == "Bob Example"
    cookie = sign_in(url, ALICE)
    assert fetch(url + "/", cookie=cookie).status == 200

    revoked = run("revoke", "--base-url", url, "--account", ALICE)
    assert revoked.returncode == 0, revoked.stderr
    assert fetch(url + "/", cookie=cookie).location == "/photos/about/"

    grown = run("grow", "--base-url", url, "--items", "45")
    assert grown.returncode == 0, grown.stderr
    after = json.loads(manifest_path.read_text())
    assert after["items_per_account"] == 45
    before_ids = visible_ids(manifest, ALICE)
    assert [i for i in visible_ids(after, ALICE) if i in before_ids] == before_ids

    shrink = run("grow", "--base-url", url, "--items", "10")
    assert shrink.returncode == 1 and "cannot shrink" in shrink.stderr
    unknown = run("revoke", "--base-url", url, "--account", "nobody@example.com")
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_serve_stops_cleanly_on_sigint(served) -> None:
    _, _, process = served
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--faults", "5xx=0.1,timeout=2"], "unknown fault 'timeout'"),
        (["--faults", "stall=2"], "from 0 to 1"),
        (["--accounts", "not-an-address"], "email addresses"),
        (["--media-scale", "0"], "greater than 0"),
        (["--items", "-3"], "cannot be negative"),
    ],
)
def test_serve_refuses_bad_options_with_a_clear_message(args: list[str], says: str) -> None:
    result = run("serve", "--port", "0", *args)
    assert result.returncode == 2
    assert says in result.stderr


def test_serve_says_when_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), "--items", "1", "--media-scale", "0.02")
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_help_documents_the_fault_spec() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    for key in ("5xx=R", "stall=R", "reset=R", "expire=R", "seed=S"):
        assert key in result.stdout


def test_admin_commands_say_when_the_fake_is_not_there() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run("grow", "--base-url", f"http://127.0.0.1:{port}", "--items", "3")
    assert result.returncode == 1 and "cannot reach the fake" in result.stderr


def test_make_profile_command_signs_in_every_account(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with FakePhotos(items=3, seed=5, accounts=[ALICE, BOB], media_scale=0.02) as fake:
        result = run(
            "make-profile",
            "--base-url",
            fake.base_url,
            "--account",
            ALICE,
            "--account",
            BOB,
            "--profile",
            str(profile),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"signed in {ALICE} as /u/0/ in {profile}",
            f"signed in {BOB} as /u/1/ in {profile}",
        ]
        assert (profile / "Default" / "Cookies").is_file()


def test_hard_case_commands_upload_archive_interstitial_and_dialog(served) -> None:
    url, manifest_path, _ = served
    cookie = sign_in(url, ALICE)
    uploaded = run(
        "upload-old", "--base-url", url, "--account", ALICE, "--taken", "2003-02-01T10:00:00+01:00"
    )
    assert uploaded.returncode == 0, uploaded.stderr
    (new_id,) = json.loads(uploaded.stdout)["ids"]
    manifest = json.loads(manifest_path.read_text())
    assert recent_ids(manifest, ALICE)[0] == new_id
    naive = run("upload-old", "--base-url", url, "--account", ALICE, "--taken", "2003-02-01")
    assert naive.returncode == 2 and "UTC offset" in naive.stderr

    archived = run("archive", "--base-url", url, "--account", ALICE, "--id", new_id)
    assert archived.returncode == 0, archived.stderr
    assert new_id in archived_ids(json.loads(manifest_path.read_text()), ALICE)
    back = run("archive", "--base-url", url, "--account", ALICE, "--id", new_id, "--unarchive")
    assert back.returncode == 0 and new_id in visible_ids(
        json.loads(manifest_path.read_text()), ALICE
    )

    shown = run("interstitial", "--base-url", url, "--account", ALICE, "--kind", "rejected")
    assert shown.returncode == 0, shown.stderr
    assert fetch(url + "/", cookie=cookie).location.startswith("/v3/signin/rejected?")
    assert run("interstitial", "--base-url", url, "--account", ALICE).returncode == 0
    assert fetch(url + "/", cookie=cookie).status == 200
    bad = run("interstitial", "--base-url", url, "--account", ALICE, "--kind", "nonsense")
    assert bad.returncode == 1 and "nonsense" in bad.stderr

    dialog = run("dialog", "--base-url", url, "--account", ALICE)
    assert dialog.returncode == 0, dialog.stderr
    assert '"kind":"storage-full"' in fetch(url + "/", cookie=cookie).text


def test_serve_without_stale_copies(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            *COMMAND,
            "serve",
            "--port",
            "0",
            "--items",
            "5",
            "--media-scale",
            "0.02",
            "--no-stale-copies",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[1]
        page = fetch(url + "/", cookie=sign_in(url, ALICE)).text
        assert '"stale"' not in page
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
