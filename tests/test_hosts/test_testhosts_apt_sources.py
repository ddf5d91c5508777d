"""The test hosts take their Debian mirror and sources from this machine's apt configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from testhosts.apt_sources import debian_mirror, sources_for_suite
from testhosts.errors import TestHostError

MIRROR = "http://mirror.example.invalid/debian"
TRIXIE_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n'


def _apt_dir(tmp_path: Path, sources: dict[str, str], one_line: str = "") -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for name, text in sources.items():
        (apt / "sources.list.d" / name).write_text(text)
    if one_line:
        (apt / "sources.list").write_text(one_line)
    return apt


def _os_release(tmp_path: Path, text: str = TRIXIE_OS_RELEASE) -> Path:
    path = tmp_path / "os-release"
    path.write_text(text)
    return path


def test_deb822_sources_are_rewritten_for_the_test_hosts_suite(tmp_path):
    apt = _apt_dir(
        tmp_path,
        {
            "debian.sources": (
                "Types: deb deb-src\n"
                "# a comment inside the stanza\n"
                "URIs: http://mirror.example.invalid/debian\n"
                "Suites: trixie trixie-updates\n"
                "Components: main contrib\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                "\n"
                "Types: deb\n"
                "URIs: http://mirror.example.invalid/debian-security\n"
                "Suites: trixie-security\n"
                "Components: main\n"
                "\n"
                "Types: deb\n"
                "URIs: http://mirror.example.invalid/disabled\n"
                "Suites: trixie\n"
                "Components: main\n"
                "Enabled: no\n"
            ),
            "vendor.sources": (
                "Types: deb\nURIs: https://vendor.example.invalid/apt\nSuites: stable\n"
                "Components: main\n"
            ),
            "old.list.disabled": "deb http://ignored.example.invalid/debian trixie main\n",
        },
    )
    sources = sources_for_suite("bookworm", apt, _os_release(tmp_path))
    assert [(s.uris[0], s.suites, s.components) for s in sources] == [
        (MIRROR, ["bookworm", "bookworm-updates"], ["main", "contrib"]),
        (f"{MIRROR}-security", ["bookworm-security"], ["main"]),
    ]
    assert [len(s.uris) for s in sources] == [1, 1]
    assert sources[0].types == ["deb"]
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in sources[0].to_deb822()
    assert (
        debian_mirror("bookworm", apt, _os_release(tmp_path))
        == "http://mirror.example.invalid/debian"
    )


def test_one_line_sources_list_is_read_too(tmp_path):
    apt = _apt_dir(
        tmp_path,
        {},
        one_line=(
            "# comment\n"
            "deb [signed-by=/etc/apt/keyrings/x.gpg arch=amd64] http://m.example.invalid/debian "
            "trixie main\n"
            "deb-src http://m.example.invalid/debian trixie main\n"
        ),
    )
    (source,) = sources_for_suite("bookworm", apt, _os_release(tmp_path))
    assert source.uris == ["http://m.example.invalid/debian"]
    assert source.suites == ["bookworm"]
    assert source.options == {"Signed-By": "/etc/apt/keyrings/x.gpg"}


def test_a_machine_without_a_debian_source_gets_an_error_saying_what_to_add(tmp_path):
    apt = _apt_dir(
        tmp_path,
        {"vendor.sources": "Types: deb\nURIs: https://v.example.invalid\nSuites: stable\n"},
    )
    with pytest.raises(TestHostError, match="add the Debian mirror"):
        sources_for_suite("bookworm", apt, _os_release(tmp_path))
