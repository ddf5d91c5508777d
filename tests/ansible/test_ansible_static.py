"""The Ansible bundle without a server: lint, syntax, and inventory checks that stop a run.

The rejection tests run the real site.yml against this machine (connection
local) in check mode with only the `always` tags, so nothing but the
read-only preconditions can run; they also check that the play that would
change a host never starts and that the machine's paths are untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = [REPO / "site.yml", *sorted((REPO / "playbooks").glob("*.yml"))]
CHANGING_PLAY = "PLAY [Install the browser, the collector and one nightly backup per member]"
# What a real deploy would create on this machine: must stay as it was.
WATCHED_PATHS = [
    Path("/opt/gphotos-collector"),
    Path("/var/lib/gphotos-collector"),
    Path("/var/log/gphotos-collector"),
    Path("/usr/local/bin/gphotos-collector"),
    Path("/usr/local/libexec/gphotos-collector"),
    Path("/etc/apt/sources.list.d/google-chrome.sources"),
]
SECRET_PING_URL = "https://healthchecks.invalid/ping/secret-uuid-0000"


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=env.get("TMPDIR", "/tmp"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def snapshot() -> dict[str, bool]:
    return {str(path): path.exists() or path.is_symlink() for path in WATCHED_PATHS}


def make_profile(path: Path) -> Path:
    (path / "Default").mkdir(parents=True)
    (path / "Local State").write_text("{}", encoding="utf-8")
    (path / "Default" / "Cookies").write_bytes(b"not a real cookie jar")
    return path


def write_inventory(root: Path, group_vars: dict[str, Any]) -> Path:
    """An inventory of this machine only, reached without SSH or sudo."""
    inventory = root / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    hosts = {
        "gphotos_servers": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    # No sudo here: the checks need none.
                    "ansible_become": False,
                }
            }
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (inventory / "group_vars" / "gphotos_servers.yml").write_text(
        yaml.safe_dump(group_vars, allow_unicode=True), encoding="utf-8"
    )
    return inventory


def run_checks_only(inventory: Path, playbook: str = "site.yml", *extra: str) -> str:
    """Run a playbook in check mode so that only the read-only checks can run.

    site.yml runs with only its `always` tags (the checks); the other playbooks
    select no member here, so check mode alone keeps them read-only.
    """
    tags = ["--tags", "always"] if playbook == "site.yml" else []
    before = snapshot()
    result = run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, "--check", *tags, *extra]
    )
    assert snapshot() == before, "the checks changed this machine"
    return f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"


def good_member(root: Path, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "profile_src": str(make_profile(root / "profiles" / name)),
        "dest": f"/srv/photos/{name}",
    }


# --- lint and syntax ------------------------------------------------------------


# The bundle (what users run and what the roles ship) and the scenarios that test it.
BUNDLE = ["site.yml", "playbooks", "roles", "inventory.example", "molecule"]


def test_ansible_lint_production_profile_passes() -> None:
    result = run(
        [str(BIN / "ansible-lint"), "--profile", "production", "--offline", *BUNDLE], timeout=600
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Profile 'production' was required, and it passed" in report


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.name)
def test_playbook_syntax(playbook: Path) -> None:
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "--syntax-check",
            str(playbook.relative_to(REPO)),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- a good inventory passes the checks (so the rejections below mean something) --


def test_good_inventory_passes_the_checks(tmp_path: Path) -> None:
    relative = make_profile(tmp_path / "inventory" / "profiles" / "rel")
    assert relative.exists()
    inventory = write_inventory(
        tmp_path,
        {
            "gphotos_browser": "chromium",
            "gphotos_accounts": [
                {
                    **good_member(tmp_path, "alice"),
                    "account_index": 1,
                    "schedule": "30 2 * * *",
                    "workers": 4,
                    "healthchecks": {"ping_url": SECRET_PING_URL},
                },
                # A relative profile_src starts at the inventory's directory.
                {"name": "bob", "profile_src": "profiles/rel", "dest": "/srv/photos/bob"},
                {"name": "carol", "state": "absent"},
            ],
        },
    )
    output = run_checks_only(inventory)
    assert output.startswith("rc=0"), output
    assert SECRET_PING_URL not in output


# --- a wrong inventory stops before any host changes, naming account and field ------


@pytest.fixture(scope="module")
def rejected_members(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("rejected")
    members = [
        {**good_member(root, "upper"), "name": "Alice"},
        {**good_member(root, "reldest"), "dest": "photos"},
        {**good_member(root, "cron"), "schedule": "every night"},
        {"name": "nosrc", "dest": "/srv/photos/nosrc"},
        {**good_member(root, "gone"), "profile_src": str(root / "missing-profile")},
        {**good_member(root, "notprofile"), "profile_src": str(root)},
        {**good_member(root, "typo"), "profile_scr": "x"},
        {**good_member(root, "twice")},
        {**good_member(root, "twice2"), "name": "twice"},
        {**good_member(root, "samedest"), "dest": "/srv/photos/reldest2"},
        {**good_member(root, "samedest2"), "dest": "/srv/photos/reldest2/"},
        {**good_member(root, "zeroworkers"), "workers": 0},
        {**good_member(root, "index"), "account_index": 12},
        {**good_member(root, "badstate"), "state": "gone"},
        {
            **good_member(root, "hcboth"),
            "healthchecks": {"ping_url": SECRET_PING_URL, "api_url": "https://hc.invalid"},
        },
        {
            **good_member(root, "hcscheme"),
            "healthchecks": {"ping_url": SECRET_PING_URL.replace("https", "ftp")},
        },
        {**good_member(root, "hcnokey"), "healthchecks": {"api_url": "https://hc.invalid"}},
        {
            **good_member(root, "hcslug"),
            "healthchecks": {
                "ping_base": "https://hc.invalid/ping",
                "ping_key": "k3y",
                "slug": "Bad Slug",
            },
        },
    ]
    inventory = write_inventory(root, {"gphotos_browser": "chromium", "gphotos_accounts": members})
    return run_checks_only(inventory)


@pytest.mark.parametrize(
    "message",
    [
        'gphotos_accounts[Alice].name must be 1 to 24 lowercase letters, digits, "-" or "_"',
        'gphotos_accounts[reldest].dest must be an absolute path (and not "/"), got "photos"',
        "gphotos_accounts[cron].schedule must be a cron time of five fields",
        'got "every night"',
        "gphotos_accounts[nosrc].profile_src is missing",
        "gphotos_accounts[gone].profile_src",
        "does not exist on this control node",
        'is not a Chrome profile (no "Local State" file in it)',
        "gphotos_accounts[typo] has unknown field(s) profile_scr",
        "gphotos_accounts[twice].name is used by more than one member",
        "is also another member's dest",
        'gphotos_accounts[zeroworkers].workers must be a whole number from 1 to 16, got "0"',
        "gphotos_accounts[index].account_index must be a whole number from 0 to 9",
        'gphotos_accounts[badstate].state must be "present" or "absent", got "gone"',
        "gphotos_accounts[hcboth].healthchecks needs exactly one of ping_url",
        "gphotos_accounts[hcscheme].healthchecks.ping_url must start with https:// or http://",
        "gphotos_accounts[hcnokey].healthchecks.api_url needs api_key",
        'gphotos_accounts[hcslug].healthchecks.slug may hold only a-z, 0-9, "-" and "_"',
        'got "Bad Slug"',
    ],
)
def test_wrong_member_is_named_with_its_field(rejected_members: str, message: str) -> None:
    assert rejected_members.startswith("rc=2"), rejected_members
    assert message in rejected_members


def test_wrong_inventory_stops_before_any_host_changes(rejected_members: str) -> None:
    assert "PLAY [Check the inventory of every server before changing anything]" in rejected_members
    assert CHANGING_PLAY not in rejected_members


def test_rejections_never_print_secrets(rejected_members: str) -> None:
    assert "secret-uuid" not in rejected_members
    assert "k3y" not in rejected_members


def test_unknown_browser_is_rejected(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"gphotos_browser": "firefox", "gphotos_accounts": [good_member(tmp_path, "alice")]},
    )
    output = run_checks_only(inventory)
    assert output.startswith("rc=2"), output
    assert 'gphotos_browser must be "chrome" or "chromium", got "firefox"' in output
    assert CHANGING_PLAY not in output


def test_wrong_type_is_rejected_by_the_argument_spec(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {
            "gphotos_browser": "chromium",
            "gphotos_accounts_max_jobs": "many",
            "gphotos_accounts": [good_member(tmp_path, "alice")],
        },
    )
    output = run_checks_only(inventory)
    assert output.startswith("rc=2"), output
    assert "gphotos_accounts_max_jobs" in output
    assert CHANGING_PLAY not in output


def test_refresh_of_an_unknown_member_is_rejected(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"gphotos_browser": "chromium", "gphotos_accounts": [good_member(tmp_path, "alice")]},
    )
    output = run_checks_only(inventory, "playbooks/refresh-profile.yml", "-e", "account=zoe")
    assert output.startswith("rc=2"), output
    assert 'No host in this play lists a member named "zoe"' in output
