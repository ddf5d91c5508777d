"""The demo's inventory: what a family would write, pointed at the fakes on this machine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GROUP = "gphotos_servers"  # the group site.yml deploys


@dataclass(frozen=True)
class DemoMember:
    name: str
    profile: str  # which of the demo's login profiles the member's account is in
    account_index: int  # the account's place in that profile (/u/N/)
    account: str  # the Google account (on the fake)

    @property
    def dest(self) -> str:
        return f"/srv/photos/{self.name}"


# alice has a profile of her own; bob is the second account (/u/1/) of the family profile.
PROFILES = {
    "alice": ["alice@example.com"],
    "family": ["carol@example.com", "bob@example.com"],
}
MEMBERS = [
    DemoMember("alice", "alice", 0, "alice@example.com"),
    DemoMember("bob", "family", 1, "bob@example.com"),
]


def _yaml(document: object) -> str:
    # JSON is YAML: no YAML library needed, and every value is quoted safely.
    return "---\n" + json.dumps(document, indent=2) + "\n"


def write_inventory(
    inventory_dir: Path,
    host_name: str,
    photos_url: str,
    healthchecks_url: str,
    ping_key: str,
    profiles_dir: Path,
) -> None:
    """group_vars and host_vars beside the hosts file that testhosts wrote."""
    (inventory_dir / "group_vars").mkdir(parents=True, exist_ok=True)
    (inventory_dir / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory_dir / "group_vars" / f"{GROUP}.yml").write_text(
        _yaml({"gphotos_browser": "chromium", "gphotos_accounts_base_url": photos_url})
    )
    members = [
        {
            "name": member.name,
            "profile_src": str(profiles_dir / member.profile),
            "account_index": member.account_index,
            "dest": member.dest,
            "healthchecks": {
                "ping_base": f"{healthchecks_url}/ping",
                "ping_key": ping_key,
                "slug": f"{host_name}-{member.name}",
                "create": True,
            },
        }
        for member in MEMBERS
    ]
    host_vars = inventory_dir / "host_vars" / f"{host_name}.yml"
    host_vars.write_text(_yaml({"gphotos_accounts": members}))
    host_vars.chmod(0o600)  # it holds the (fake) ping key
