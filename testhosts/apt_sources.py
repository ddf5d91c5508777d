"""Read this machine's apt configuration: the Debian mirror and the sources a test host should use.

The repository never names a mirror: whatever this machine uses is what the test hosts use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from testhosts.errors import TestHostError

APT_DIR = Path("/etc/apt")
OS_RELEASE = Path("/etc/os-release")


@dataclass
class AptSource:
    """One deb822 stanza (a one-line `deb` entry is read into the same shape)."""

    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    options: dict[str, str] = field(default_factory=dict)

    def to_deb822(self) -> str:
        lines = [
            f"Types: {' '.join(self.types)}",
            f"URIs: {' '.join(self.uris)}",
            f"Suites: {' '.join(self.suites)}",
            f"Components: {' '.join(self.components)}",
        ]
        lines += [f"{key}: {value}" for key, value in self.options.items()]
        return "\n".join(lines) + "\n"


def _parse_deb822(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and current:
                fields[current] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            current = key.strip()
            fields[current] = value.strip()
        if not fields or fields.get("Enabled", "yes").lower() == "no":
            continue
        known = {"Types", "URIs", "Suites", "Components"}
        sources.append(
            AptSource(
                types=fields.get("Types", "").split(),
                uris=fields.get("URIs", "").split(),
                suites=fields.get("Suites", "").split(),
                components=fields.get("Components", "").split(),
                options={k: v for k, v in fields.items() if k not in known and k != "Enabled"},
            )
        )
    return sources


def _parse_one_line(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith(("deb ", "deb-src ")):
            continue
        options: dict[str, str] = {}
        bracket = re.search(r"\[([^\]]*)\]", line)
        if bracket:
            for pair in bracket.group(1).split():
                key, _, value = pair.partition("=")
                if key == "signed-by":
                    options["Signed-By"] = value
            line = line[: bracket.start()] + line[bracket.end() :]
        words = line.split()
        if len(words) < 3:
            continue
        sources.append(
            AptSource(
                types=[words[0]],
                uris=[words[1]],
                suites=[words[2]],
                components=words[3:],
                options=options,
            )
        )
    return sources


def machine_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """Every enabled binary (`deb`) source of this machine, in apt's reading order."""
    sources: list[AptSource] = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        sources += _parse_one_line(main_list.read_text())
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".sources":
                sources += _parse_deb822(path.read_text())
            elif path.suffix == ".list":
                sources += _parse_one_line(path.read_text())
    return [s for s in sources if "deb" in s.types and s.uris and s.suites]


def machine_codename(os_release: Path = OS_RELEASE) -> str:
    for line in os_release.read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.partition("=")[2].strip().strip('"')
    return ""


def _is_debian_archive(source: AptSource, codename: str) -> bool:
    """A source of Debian itself: its suites are this release's (bookworm, bookworm-updates...)."""
    return bool(codename) and all(
        s == codename or s.startswith(f"{codename}-") or s.startswith(f"{codename}/")
        for s in source.suites
    )


def sources_for_suite(
    suite: str, apt_dir: Path = APT_DIR, os_release: Path = OS_RELEASE
) -> list[AptSource]:
    """This machine's Debian sources, rewritten for `suite` (third-party repositories left out)."""
    codename = machine_codename(os_release)
    debian = [s for s in machine_sources(apt_dir) if _is_debian_archive(s, codename)]
    if not debian:
        raise TestHostError(
            f"no Debian source for this machine's release ({codename or 'unknown'}) found in "
            f"{apt_dir}/sources.list or {apt_dir}/sources.list.d/*.sources: add the Debian mirror "
            "this machine should use to its apt configuration"
        )
    rewritten = []
    for source in debian:
        suites = [suite + s[len(codename) :] for s in source.suites]
        rewritten.append(
            AptSource(
                types=["deb"],
                uris=list(source.uris),
                suites=suites,
                components=list(source.components),
                options=dict(source.options),
            )
        )
    return rewritten


def debian_mirror(suite: str, apt_dir: Path = APT_DIR, os_release: Path = OS_RELEASE) -> str:
    """The URI of the main Debian archive this machine uses (the source carrying `suite`)."""
    for source in sources_for_suite(suite, apt_dir, os_release):
        if suite in source.suites:
            return source.uris[0]
    raise TestHostError(
        f"this machine's apt sources have no main Debian archive (a `Suites: {suite}`-like entry "
        "without -updates or -security): add one to /etc/apt/sources.list.d/debian.sources"
    )
