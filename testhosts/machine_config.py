"""Give a test host this machine's way of reaching the package registries.

A test host shares this machine's network, so it must use the same mirror, the same apt
network settings (proxies), the same trusted certificate authorities and the same pip
settings as this machine, as a real server on this network would be configured.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from testhosts.apt_sources import APT_DIR, sources_for_suite

MACHINE_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MACHINE_PIP_CONF = Path("/etc/pip.conf")
SOURCES_FILE_NAME = "debian.sources"
EXTRA_CA_PREFIX = "testhosts-machine-"
# apt settings about reaching a mirror; other apt.conf.d files (hooks, index targets) stay here
NETWORK_SETTING = re.compile(
    r"Acquire::(https?|ftp|socks)::|Acquire::(Check-Valid-Until|Check-Date|Retries|ForceIPv4)"
)


def _pem_blocks(bundle: Path) -> list[str]:
    if not bundle.is_file():
        return []
    blocks, current = [], []
    for line in bundle.read_text(errors="replace").splitlines():
        if line.startswith("-----BEGIN CERTIFICATE-----"):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith("-----END CERTIFICATE-----"):
                blocks.append("\n".join(current) + "\n")
                current = []
    return blocks


def write_apt_sources(root: Path, suite: str) -> None:
    """Replace debootstrap's one-line source with this machine's Debian sources for `suite`."""
    apt = root / "etc/apt"
    (apt / "sources.list").unlink(missing_ok=True)
    parts = apt / "sources.list.d"
    parts.mkdir(parents=True, exist_ok=True)
    for old in parts.iterdir():
        old.unlink()
    sources = sources_for_suite(suite)
    for source in sources:
        keyring = source.options.get("Signed-By", "")
        # a keyring path (not an inline key) the fresh tree lacks is taken from this machine
        if keyring.startswith("/") and "\n" not in keyring and not (root / keyring[1:]).exists():
            (root / keyring[1:]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(keyring, root / keyring[1:])
    (parts / SOURCES_FILE_NAME).write_text("\n".join(s.to_deb822() for s in sources))


def copy_apt_network_settings(root: Path, apt_dir: Path = APT_DIR) -> list[str]:
    """Copy this machine's apt.conf.d files that say how apt reaches mirrors (proxies, validity)."""
    copied: list[str] = []
    conf_dir = apt_dir / "apt.conf.d"
    if not conf_dir.is_dir():
        return copied
    for path in sorted(conf_dir.iterdir()):
        if path.is_file() and NETWORK_SETTING.search(path.read_text(errors="replace")):
            shutil.copy2(path, root / "etc/apt/apt.conf.d" / path.name)
            copied.append(path.name)
    return copied


def trust_machine_certificates(root: Path) -> int:
    """Trust the certificate authorities this machine trusts beyond Debian's own list.

    Returns how many were added (0 on a machine with only Debian's list).
    """
    known = set(_pem_blocks(root / MACHINE_CA_BUNDLE.relative_to("/")))
    extra = [block for block in _pem_blocks(MACHINE_CA_BUNDLE) if block not in known]
    if not extra:
        return 0
    local = root / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    for index, block in enumerate(extra):
        (local / f"{EXTRA_CA_PREFIX}{index}.crt").write_text(block)
    subprocess.run(
        ["chroot", str(root), "update-ca-certificates"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return len(extra)


def copy_pip_settings(root: Path) -> bool:
    """Copy this machine's system-wide pip.conf (e.g. which CA bundle pip trusts)."""
    if not MACHINE_PIP_CONF.is_file():
        return False
    shutil.copy2(MACHINE_PIP_CONF, root / "etc/pip.conf")
    return True


def apply_machine_config(root: Path, suite: str) -> None:
    write_apt_sources(root, suite)
    copy_apt_network_settings(root)
    trust_machine_certificates(root)
    copy_pip_settings(root)
