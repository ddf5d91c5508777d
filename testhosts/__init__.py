"""Debian test hosts on this machine: debootstrap once, copy, boot with nspawn, reach over SSH.

Python API (Molecule's create/destroy playbooks use the CLI, pytest uses this):

    from testhosts import up, down
    hosts = up(Path("/tmp/state"), name="web", count=2, inventory=Path("inventory.ini"))
    hosts[0].run("systemctl is-system-running")
    down(Path("/tmp/state"))
"""

from __future__ import annotations

from testhosts.base_tree import DEFAULT_CACHE_DIR, BaseTreeSpec, ensure_base_tree
from testhosts.errors import TestHostError
from testhosts.fleet import Timings, down, hosts_in, running_hosts_on_machine, up
from testhosts.host import TestHost
from testhosts.inventory import host_vars, render_inventory
from testhosts.services import Service, services_in, start_service, stop_services

__all__ = [
    "DEFAULT_CACHE_DIR",
    "BaseTreeSpec",
    "Service",
    "TestHost",
    "TestHostError",
    "Timings",
    "down",
    "ensure_base_tree",
    "host_vars",
    "hosts_in",
    "render_inventory",
    "running_hosts_on_machine",
    "services_in",
    "start_service",
    "stop_services",
    "up",
]
