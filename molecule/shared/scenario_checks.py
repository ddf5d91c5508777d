"""What the Molecule scenarios' testinfra tests share: the scenario's fakes and members,
and running a member's job exactly as cron would. (On PYTHONPATH through molecule.yml.)"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from PIL import ExifTags, Image

EPHEMERAL_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
SCENARIO_DIR = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", "/nonexistent"))
PROJECT_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).parent.parent))
INVENTORY_DIR = EPHEMERAL_DIR / "inventory"
FAKES_DIR = EPHEMERAL_DIR / "fakes"

# The deployment's layout on a server (the gphotos_accounts role's defaults).
COLLECTOR_COMMAND = "/usr/local/bin/gphotos-collector"
STATE_ROOT = "/var/lib/gphotos-collector"
LOG_ROOT = "/var/log/gphotos-collector"
USER_PREFIX = "gphotos-"
COLLECTOR_STATE_DIR = ".gphotos-collector"  # the collector's own folder inside DEST
# The environment cron gives a job (Debian's cron), before the cron file's own variables.
CRON_PATH = "/usr/bin:/bin"


def scenario_data() -> dict:
    return yaml.safe_load((SCENARIO_DIR / "vars" / "fakes.yml").read_text())


def expected_of(host) -> dict:
    """What the scenario expects this host to run (vars/fakes.yml scenario_expected)."""
    hostname = host.backend.get_hostname()
    return scenario_data().get("scenario_expected", {}).get(hostname, {})


def config_value(host, member: Member, key: str) -> str | None:
    """A top-level string setting of the member's config.toml, as the role wrote it."""
    for line in host.file(member.config).content_string.splitlines():
        name, _, value = line.partition(" = ")
        if name == key:
            return json.loads(value)
    return None


def scenario_hosts() -> list[str]:
    """The test hosts' inventory names (what testinfra's ansible backend connects to)."""
    names = []
    for line in (INVENTORY_DIR / "testhosts.ini").read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            names.append(line.split()[0])
    return [f"ansible://{name}" for name in names]


@dataclass
class Member:
    """A family member as the scenario's inventory declares it."""

    name: str
    dest: str
    account_index: int
    healthchecks: dict
    host: str

    @property
    def user(self) -> str:
        return USER_PREFIX + self.name

    @property
    def home(self) -> str:
        return f"{STATE_ROOT}/{self.name}"

    @property
    def profile_dir(self) -> str:
        return f"{self.home}/profile"

    @property
    def config(self) -> str:
        return f"{self.home}/config.toml"

    @property
    def log_file(self) -> str:
        return f"{LOG_ROOT}/{self.name}/run.log"

    @property
    def cron_file(self) -> str:
        return f"/etc/cron.d/gphotos-collector-{self.name}"

    @property
    def check_slug(self) -> str:
        """The Healthchecks slug of the member's check (the role's default with api_url)."""
        return self.healthchecks.get("slug") or f"gphotos-{self.host}-{self.name}"


def members_of(host) -> list[Member]:
    """The members the inventory gives this host (names, dests and indexes are literal)."""
    variables = host.ansible.get_variables()
    return [
        Member(
            name=m["name"],
            dest=m["dest"],
            account_index=int(m.get("account_index", 0)),
            healthchecks=m.get("healthchecks", {}),
            host=variables["inventory_hostname"],
        )
        for m in variables["gphotos_accounts"]
    ]


def member_account(member: Member) -> str:
    return scenario_data()["scenario_member_accounts"][member.name]


# -- cron ----------------------------------------------------------------------------------


@dataclass
class CronJob:
    schedule: str
    user: str
    command: str
    environment: dict[str, str]


def parse_cron_file(text: str) -> list[CronJob]:
    """The jobs of an /etc/cron.d file, as cron reads them (with its variable lines)."""
    environment: dict[str, str] = {}
    jobs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = line.split(None, 1)[0]
        if "=" in head and not head[0].isdigit() and head[0] not in "*@":
            key, _, value = line.partition("=")
            environment[key.strip()] = value.strip().strip("'\"")
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"not a cron.d job line: {line!r}"
        command = fields[6]
        # cron turns an unescaped % into a newline (the rest is the job's stdin)
        assert "%" not in command.replace("\\%", ""), f"unescaped % in {command!r}"
        jobs.append(
            CronJob(" ".join(fields[:5]), fields[5], command.replace("\\%", "%"), dict(environment))
        )
    return jobs


def run_as_cron_would(host, job: CronJob, timeout: int = 900):
    """Run a cron.d job's command line, unchanged, as its user, in cron's environment."""
    home = host.user(job.user).home
    environment = {
        "HOME": home,
        "LOGNAME": job.user,
        "USER": job.user,
        "SHELL": "/bin/sh",
        "PATH": CRON_PATH,
        **job.environment,
    }
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in environment.items())
    shell = environment["SHELL"]
    return host.run(
        f"cd {shlex.quote(home)} && timeout {timeout} runuser -u {shlex.quote(job.user)} -- "
        f"env -i {assignments} {shlex.quote(shell)} -c {shlex.quote(job.command)}"
    )


# -- the fakes -----------------------------------------------------------------------------


def manifest() -> dict:
    return json.loads((FAKES_DIR / "manifest.json").read_text())


def manifest_files(account: str) -> list[dict]:
    """Every file a complete backup of `account` holds, with the item it belongs to:
    what Download gives, and an edited photo's original ("Download original") too."""
    files = []
    for item in manifest()["accounts"][account]["items"]:
        extra = [item["original"]] if item.get("edited") and item.get("original") else []
        for file in [*item["files"], *extra]:
            files.append({**file, "item": item})
    return files


def healthchecks_records() -> list[dict]:
    path = FAKES_DIR / "healthchecks.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def photos_on_host(host, dest: str) -> dict[str, str]:
    """sha256 by relative path of every media file in DEST (not the collector's own
    folder, not the .xmp sidecars beside the files)."""
    listing = host.check_output(
        f"cd {shlex.quote(dest)} && find . -path ./{COLLECTOR_STATE_DIR} -prune -o -type f "
        "! -name '*.xmp' -print0 | xargs -0 -r sha256sum"
    )
    found = {}
    for line in listing.splitlines():
        digest, path = line.split(None, 1)
        found[path.removeprefix("./")] = digest
    return found


def sidecars_on_host(host, dest: str) -> dict[str, str]:
    """The text of every .xmp sidecar in DEST, by the relative path of its media file."""
    listing = host.check_output(
        f"cd {shlex.quote(dest)} && find . -path ./{COLLECTOR_STATE_DIR} -prune -o -type f "
        "-name '*.xmp' -print"
    )
    paths = [line.removeprefix("./") for line in listing.splitlines() if line]
    return {path.removesuffix(".xmp"): host.file(f"{dest}/{path}").content_string for path in paths}


def assert_same_files(on_disk: dict[str, str], expected: list[dict]) -> None:
    """The photos on disk are exactly the manifest's files, byte for byte (by sha256)."""
    expected_digests = Counter(f["sha256"] for f in expected)
    disk_digests = Counter(on_disk.values())
    missing = expected_digests - disk_digests
    extra = disk_digests - expected_digests
    names = {f["sha256"]: f["name"] for f in expected}
    assert not missing, f"missing on disk: {sorted(names[d] for d in missing)}"
    unexpected = [path for path, digest in on_disk.items() if digest in extra]
    assert not extra, f"on disk but not in the manifest: {unexpected}"
    assert not [p for p in on_disk if p.endswith((".part", ".tmp"))]


def exif_of(jpeg: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(jpeg)) as image:
        exif = image.getexif()
        details = exif.get_ifd(ExifTags.IFD.Exif)
        return {
            "Make": exif.get(ExifTags.Base.Make),
            "Model": exif.get(ExifTags.Base.Model),
            "DateTimeOriginal": details.get(ExifTags.Base.DateTimeOriginal),
            "OffsetTimeOriginal": details.get(ExifTags.Base.OffsetTimeOriginal),
            "GPS": bool(exif.get_ifd(ExifTags.IFD.GPSInfo)),
        }


def assert_exif_intact(host, dest: str, on_disk: dict[str, str], expected: list[dict]) -> int:
    """Every JPEG on disk carries the camera, capture time and place of its manifest item."""
    by_digest = {f["sha256"]: f for f in expected}
    checked = 0
    for path, digest in on_disk.items():
        if not path.lower().endswith((".jpg", ".jpeg")):
            continue
        content = host.file(f"{dest}/{path}").content
        assert hashlib.sha256(content).hexdigest() == digest
        taken = datetime.fromisoformat(by_digest[digest]["item"]["taken"])
        exif = exif_of(content)
        assert exif["DateTimeOriginal"] == f"{taken:%Y:%m:%d %H:%M:%S}", path
        assert exif["Make"] and exif["Model"] and exif["GPS"], (path, exif)
        checked += 1
    return checked


def member_pings(since: int, slug: str) -> list[dict]:
    """Pings recorded for `slug` after the first `since` records."""
    return [
        record
        for record in healthchecks_records()[since:]
        if record.get("slug") == slug
        and record.get("kind")
        and not str(record["path"]).startswith("/api/")
    ]
