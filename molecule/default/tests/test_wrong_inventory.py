"""A wrong inventory stops site.yml before any host changes, naming the member."""

from __future__ import annotations

import shutil
import subprocess

import testinfra
import yaml
from scenario_checks import INVENTORY_DIR, PROJECT_DIR, scenario_hosts

# Runs on this control node; the hosts are only looked at.
testinfra_hosts: list[str] = []

SNAPSHOT = (
    "(getent passwd; getent group; "
    "find /etc/cron.d /etc/logrotate.d /var/lib/gphotos-collector /srv/photos "
    "/opt/gphotos-collector -maxdepth 3 -printf '%p %m %u %g %s %T@\\n' 2>/dev/null) | sort"
)


def test_a_member_whose_profile_src_is_missing_fails_before_any_change_naming_it(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY_DIR, inventory, symlinks=False)
    host_vars = inventory / "host_vars" / "host-1.yml"
    members = yaml.safe_load(host_vars.read_text())
    # (No profile_src at all is fine: the member signs in on the server with login.yml.)
    missing = str(tmp_path / "no-such-profile")
    members["gphotos_accounts"].append(
        {"name": "erin", "profile_src": missing, "dest": "/srv/photos/erin"}
    )
    host_vars.write_text(yaml.safe_dump(members))

    hosts = [
        testinfra.get_host(spec, ansible_inventory=str(INVENTORY_DIR)) for spec in scenario_hosts()
    ]
    before = [h.check_output(SNAPSHOT) for h in hosts]

    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PROJECT_DIR / "site.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    flat = " ".join(output.split())  # the result's YAML folds long messages
    assert "gphotos_accounts[erin].profile_src" in flat, output
    assert "does not exist on this control node" in flat, output
    recap = output[output.rindex("PLAY RECAP") :]
    assert "changed=0" in recap and "changed=1" not in recap, recap
    assert [h.check_output(SNAPSHOT) for h in hosts] == before
