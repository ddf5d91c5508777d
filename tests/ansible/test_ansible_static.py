"""The Ansible bundle without a server: lint, syntax, and inventory checks that stop a run.

The rejection tests run the real site.yml against this machine (connection
local) in check mode with only the `always` tags, so nothing but the
read-only preconditions can run; they also check that the play that would
change a host never starts and that the machine's paths are untouched.

The last tests run single task files of the gphotos_accounts role (purging a
member's photos, preparing a photo folder on a share, the config) for a
made-up member whose files all live under the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency of the collector there)
    import tomli as tomllib

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
                # No profile_src: signs in on the server with playbooks/login.yml.
                {"name": "gina", "dest": "/srv/photos/gina"},
                # dest on a share (or the share itself); full scans every 1.5 days, or never.
                {
                    **good_member(tmp_path, "dave"),
                    "dest": "/mnt/nas/photos/dave/",
                    "mount": "/mnt/nas/",
                    "full_scan_every": 1.5,
                },
                {**good_member(tmp_path, "erin"), "dest": "/mnt/erin", "mount": "/mnt/erin"},
                {**good_member(tmp_path, "frank"), "full_scan_every": 0},
                # Album folders off; others' items of shared albums kept.
                {**good_member(tmp_path, "hank"), "albums": False, "shared_albums": True},
            ],
            "gphotos_accounts_full_scan_every": 14,
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
        {**good_member(root, "emptysrc"), "profile_src": ""},
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
        {**good_member(root, "relmount"), "mount": "nas"},
        {**good_member(root, "rootmount"), "mount": "/"},
        {**good_member(root, "outside"), "dest": "/srv/photos/outside", "mount": "/mnt/nas"},
        {**good_member(root, "prefix"), "dest": "/mnt/nas2/prefix", "mount": "/mnt/nas"},
        {**good_member(root, "dotdot"), "dest": "/mnt/nas/../etc", "mount": "/mnt/nas"},
        {**good_member(root, "negscan"), "full_scan_every": -1},
        {**good_member(root, "wordscan"), "full_scan_every": "weekly"},
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
        "gphotos_accounts[emptysrc].profile_src must be the path",
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
        "gphotos_accounts[relmount].mount must be the absolute path of the mounted share that dest"
        ' lives on (not "/", without . or .. parts), got "nas"',
        "gphotos_accounts[rootmount].mount must be the absolute path",
        'gphotos_accounts[outside].dest "/srv/photos/outside" must be inside mount "/mnt/nas"',
        'gphotos_accounts[prefix].dest "/mnt/nas2/prefix" must be inside mount "/mnt/nas"',
        'gphotos_accounts[dotdot].dest "/mnt/nas/../etc" must be inside mount "/mnt/nas"',
        "gphotos_accounts[negscan].full_scan_every must be a number of days from 0 to 3650"
        ' (0: never), got "-1"',
        "gphotos_accounts[wordscan].full_scan_every must be a number of days from 0 to 3650"
        ' (0: never), got "weekly"',
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


def test_wrong_full_scan_days_are_rejected(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {
            "gphotos_browser": "chromium",
            "gphotos_accounts_full_scan_every": -7,
            "gphotos_accounts": [good_member(tmp_path, "alice")],
        },
    )
    output = run_checks_only(inventory)
    assert output.startswith("rc=2"), output
    assert (
        "gphotos_accounts_full_scan_every (host localhost) must be a number of days from 0 to 3650"
        in output
    )
    assert CHANGING_PLAY not in output


def test_refresh_of_an_unknown_member_is_rejected(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"gphotos_browser": "chromium", "gphotos_accounts": [good_member(tmp_path, "alice")]},
    )
    output = run_checks_only(inventory, "playbooks/refresh-profile.yml", "-e", "account=zoe")
    assert output.startswith("rc=2"), output
    assert 'No host in this play lists a member named "zoe"' in output


def test_login_of_an_unknown_member_is_rejected(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"gphotos_browser": "chromium", "gphotos_accounts": [good_member(tmp_path, "alice")]},
    )
    output = run_checks_only(inventory, "playbooks/login.yml", "-e", "account=zoe")
    assert output.startswith("rc=2"), output
    assert 'No host in this play lists a member named "zoe"' in output


# --- role tasks run on this machine, on temporary folders only ------------------------
#
# A playbook that includes one task file of the role for a made-up member whose user,
# cron file and log rotation do not exist here, and whose home, logs and photos are
# under tmp_path: the role's own tasks, with nothing outside tmp_path to change.


def run_role_tasks(
    root: Path, tasks_from: str, variables: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    play = [
        {
            "name": f"Run the role's {tasks_from} tasks",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable, **variables},
            "tasks": [
                {
                    "name": "Start with no member failures",
                    "ansible.builtin.set_fact": {"__gphotos_accounts_failures": []},
                },
                {
                    "name": "Run the tasks",
                    "ansible.builtin.include_role": {
                        "name": "gphotos_accounts",
                        "tasks_from": tasks_from,
                    },
                },
                {
                    "name": "Report the member's failure as the role does",
                    "ansible.builtin.fail": {
                        "msg": "{{ __gphotos_accounts_failures | join(' -- ') }}"
                    },
                    "when": "__gphotos_accounts_failures | length > 0",
                },
            ],
        }
    ]
    playbook = root / f"{tasks_from}-{len(list(root.glob('*.yml')))}.yml"
    playbook.write_text(yaml.safe_dump(play), encoding="utf-8")
    env = {**ansible_env(), "ANSIBLE_ROLES_PATH": str(REPO / "roles")}
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def made_up_member(root: Path, **fields: Any) -> dict[str, Any]:
    """Role settings for a member that does not exist on this machine."""
    name = "pytest" + root.name.replace("_", "").replace("-", "")[-12:].lower()
    return {
        "gphotos_accounts_state_root": str(root / "state"),
        "gphotos_accounts_log_root": str(root / "log"),
        "gphotos_accounts_user_prefix": "gphotos-nosuchuser-",
        "gphotos_accounts_member": {"name": name, **fields},
    }


def backup_folder(path: Path, *, with_state: bool) -> Path:
    (path / "2024" / "05").mkdir(parents=True)
    (path / "2024" / "05" / "IMG_0001.JPG").write_bytes(b"photo")
    if with_state:
        (path / ".gphotos-collector").mkdir()
        (path / ".gphotos-collector" / "state.sqlite3").write_bytes(b"SQLite format 3\0")
    return path


def test_purge_photos_refuses_a_folder_without_the_collectors_state(tmp_path: Path) -> None:
    dest = backup_folder(tmp_path / "home", with_state=False)
    variables = made_up_member(tmp_path, state="absent", dest=str(dest), purge_photos=True)
    name = variables["gphotos_accounts_member"]["name"]
    (tmp_path / "state" / name).mkdir(parents=True)
    result = run_role_tasks(tmp_path, "member", variables)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"gphotos_accounts[{name}] on localhost: purge_photos would delete dest {dest}" in output
    assert "it is not a gphotos-collector backup folder. Nothing was deleted" in output
    assert (dest / "2024" / "05" / "IMG_0001.JPG").read_bytes() == b"photo"
    assert (tmp_path / "state" / name).is_dir(), "the member was removed anyway"


def test_purge_photos_deletes_a_backup_folder_except_in_check_mode(tmp_path: Path) -> None:
    dest = backup_folder(tmp_path / "photos" / "member", with_state=True)
    variables = made_up_member(tmp_path, state="absent", dest=str(dest), purge_photos=True)

    checked = run_role_tasks(tmp_path, "member", variables, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "changed: [localhost]" in checked.stdout
    assert (dest / "2024" / "05" / "IMG_0001.JPG").is_file(), "check mode deleted the photos"

    purged = run_role_tasks(tmp_path, "member", variables)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not dest.exists()
    assert (tmp_path / "photos").is_dir()

    again = run_role_tasks(tmp_path, "member", variables)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout


def test_a_share_that_is_not_mounted_gets_nothing_created(tmp_path: Path) -> None:
    share = tmp_path / "nas"
    share.mkdir()
    dest = share / "photos" / "member"
    variables = {
        **made_up_member(tmp_path, dest=str(dest), mount=str(share)),
        "__gphotos_accounts_pretend_user": True,
    }
    name = variables["gphotos_accounts_member"]["name"]
    for mode in ([], ["--check"]):
        result = run_role_tasks(tmp_path, "destination", variables, *mode)
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert (
            f"gphotos_accounts[{name}].mount {share} is not mounted on localhost, and dest {dest}"
            " lives on it: nothing was created" in output
        )
        assert list(share.iterdir()) == []


def test_on_a_mounted_share_only_dest_itself_may_be_created(tmp_path: Path) -> None:
    mount = Path("/dev/shm")
    if not (os.path.ismount(mount) and os.access(mount, os.W_OK)):
        pytest.skip("no writable mount point to try with")
    share = mount / f"gphotos-pytest-{os.getpid()}-{tmp_path.name}"
    share.mkdir()
    try:
        dest = share / "photos" / "member"
        variables = {
            **made_up_member(tmp_path, dest=str(dest), mount=str(mount)),
            "__gphotos_accounts_pretend_user": True,
        }
        name = variables["gphotos_accounts_member"]["name"]
        result = run_role_tasks(tmp_path, "destination", variables)
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert (
            f"gphotos_accounts[{name}].dest {dest}: its parent {dest.parent} does not exist on"
            f" the share {mount}" in output
        )
        assert list(share.iterdir()) == []
    finally:
        share.rmdir()


def test_the_config_holds_the_mount_and_full_scan_days_the_collector_knows(
    tmp_path: Path,
) -> None:
    from gphotos_collector.cli import cli as collector_cli
    from gphotos_collector.config import known_keys

    profile = make_profile(tmp_path / "profile")
    members = {
        "nas": ({"dest": "/mnt/nas/photos/nas/", "mount": "/mnt/nas/", "full_scan_every": 1.5}, {}),
        "default": ({"dest": "/srv/photos/default"}, {}),
        "never": ({"dest": "/srv/photos/never"}, {"gphotos_accounts_full_scan_every": 0}),
        "shares": ({"dest": "/srv/photos/shares", "albums": False, "shared_albums": True}, {}),
    }
    configs = {}
    for name, (fields, role_vars) in members.items():
        config = tmp_path / f"{name}.toml"
        play = [
            {
                "name": "Render a member's config",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "vars_files": [
                    str(REPO / "roles/gphotos_accounts/defaults/main.yml"),
                    str(REPO / "roles/gphotos_accounts/vars/main.yml"),
                ],
                "vars": {
                    "ansible_python_interpreter": sys.executable,
                    "gphotos_accounts_member": {
                        "name": name,
                        "profile_src": str(profile),
                        **fields,
                    },
                    "__gphotos_accounts_ping": {},
                },
                "tasks": [
                    {
                        "name": "Render it",
                        "ansible.builtin.template": {
                            "src": str(REPO / "roles/gphotos_accounts/templates/config.toml.j2"),
                            "dest": str(config),
                            "mode": "0600",
                        },
                    }
                ],
            }
        ]
        playbook = tmp_path / f"render-{name}.yml"
        playbook.write_text(yaml.safe_dump(play), encoding="utf-8")
        # As inventory or -e variables, which win over the role's defaults.
        overrides = ["-e", json.dumps(role_vars)] if role_vars else []
        result = run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), *overrides])
        assert result.returncode == 0, result.stdout + result.stderr
        configs[name] = tomllib.loads(config.read_text(encoding="utf-8"))

    assert configs["nas"]["require_mount"] == "/mnt/nas"
    assert configs["nas"]["dest"] == "/mnt/nas/photos/nas"
    assert configs["nas"]["full_scan_every"] == 1.5
    assert configs["default"]["full_scan_every"] == 7
    assert "require_mount" not in configs["default"]
    assert configs["never"]["full_scan_every"] == 0
    assert (configs["default"]["albums"], configs["default"]["shared_albums"]) == (True, False)
    assert (configs["shares"]["albums"], configs["shares"]["shared_albums"]) == (False, True)
    unknown = {key for config in configs.values() for key in config} - known_keys(collector_cli)
    assert not unknown, f"keys no gphotos-collector command knows: {unknown}"


# --- why an uploaded profile cannot be read on the server -----------------------------


def diagnose_profile(root: Path, last_version: str, local_state: str) -> str:
    """Run check_diagnosis.yml on a made-up member's profile; its explanation (-v output)."""
    browser = root / "chromium"
    browser.write_text("#!/bin/sh\necho 'Chromium 120.0.6099.224 built on Debian 12'\n")
    browser.chmod(0o755)
    variables = {
        **made_up_member(root, profile_src=str(root), dest=str(root / "photos")),
        "gphotos_accounts_browser_path": str(browser),
    }
    name = variables["gphotos_accounts_member"]["name"]
    profile = root / "state" / name / "profile"
    profile.mkdir(parents=True)
    (profile / "Last Version").write_text(last_version)
    (profile / "Local State").write_text(local_state)
    result = run_role_tasks(root, "check_diagnosis", variables, "-v")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return " ".join(output.split())


def test_a_profile_from_a_newer_browser_is_named(tmp_path: Path) -> None:
    output = diagnose_profile(tmp_path, "131.0.6778.85", '{"os_crypt": {}}')
    assert "last used by browser version 131.0.6778.85, newer than" in output
    assert "120.0.6099.224" in output
    assert "playbooks/login.yml -e account=" in output


def test_a_profile_made_on_windows_is_named(tmp_path: Path) -> None:
    local_state = '{"os_crypt": {"app_bound_encrypted_key": "QVBQQgE="}}'
    output = diagnose_profile(tmp_path, "119.0.6045.105", local_state)
    assert "was made on Windows" in output
    assert "playbooks/login.yml -e account=" in output


def test_another_unreadable_profile_gets_the_likely_causes(tmp_path: Path) -> None:
    output = diagnose_profile(tmp_path, "120.0.6099.224", '{"os_crypt": {}}')
    assert "made on macOS, Windows, or a Linux desktop with a keyring" in output
    assert "playbooks/login.yml -e account=" in output
