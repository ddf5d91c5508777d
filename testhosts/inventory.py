"""The Ansible inventory for a set of test hosts (INI, so any Ansible version reads it)."""

from __future__ import annotations

import shlex
from pathlib import Path

from testhosts.host import TestHost


def host_vars(host: TestHost) -> dict[str, str]:
    """The connection variables Ansible (and testinfra's ansible backend) need for `host`."""
    common_args = (
        f"-o UserKnownHostsFile={host.known_hosts} -o StrictHostKeyChecking=yes "
        "-o IdentitiesOnly=yes"
    )
    return {
        "ansible_host": "127.0.0.1",
        "ansible_port": str(host.port),
        "ansible_user": "root",
        "ansible_ssh_private_key_file": host.key_file,
        "ansible_ssh_common_args": common_args,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def render_inventory(hosts: list[TestHost], group: str) -> str:
    lines = ["# written by `python -m testhosts up`; removed by `down`", f"[{group}]"]
    for host in hosts:
        pairs = " ".join(f"{key}={shlex.quote(value)}" for key, value in host_vars(host).items())
        lines.append(f"{host.name} {pairs}")
    return "\n".join(lines) + "\n"


def write_inventory(path: Path, hosts: list[TestHost], group: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_inventory(hosts, group))
    partial.replace(path)
