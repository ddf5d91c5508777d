"""Servers on this machine's loopback that the test hosts talk to (the fakes), run detached.

They belong to a state directory like its hosts: `down` stops them too. A server is
ready when it has written its URL to the file it was told to (the fakes' `--url-file`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from testhosts.errors import TestHostError

SERVICES_DIR = "services"


@dataclass
class Service:
    name: str
    pid: int
    argv: list[str]
    url_file: str
    log: str

    @property
    def url(self) -> str:
        return Path(self.url_file).read_text().strip()

    def is_running(self) -> bool:
        """Is `pid` still this service (and not a process that reused the pid)?"""
        try:
            argv = Path(f"/proc/{self.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            return False
        return [a.decode(errors="replace") for a in argv] == self.argv

    def stop(self, grace: float = 10.0) -> None:
        if not self.is_running():
            return
        # the service leads its own process group: its children stop with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.is_running():
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def _record(state_dir: Path, name: str) -> Path:
    return state_dir / SERVICES_DIR / f"{name}.json"


def services_in(state_dir: Path) -> list[Service]:
    folder = state_dir / SERVICES_DIR
    if not folder.is_dir():
        return []
    return [Service(**json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


def start_service(
    state_dir: Path, name: str, argv: list[str], url_file: Path, timeout: float = 60.0
) -> Service:
    """Start `argv` in its own session (it outlives us) and wait for its URL in `url_file`.

    A service of the same name left by an earlier run is stopped first.
    """
    state_dir = state_dir.resolve()
    folder = state_dir / SERVICES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    record = _record(state_dir, name)
    if record.is_file():
        Service(**json.loads(record.read_text())).stop()
        record.unlink()
    url_file = url_file.resolve()
    url_file.unlink(missing_ok=True)
    log = folder / f"{name}.log"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(name, process.pid, list(argv), str(url_file), str(log))
    record.write_text(json.dumps(asdict(service), indent=2) + "\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if url_file.is_file() and url_file.read_text().strip():
            return service
        if process.poll() is not None:
            raise TestHostError(
                f"service {name} exited with {process.returncode} before it was ready; see {log}"
            )
        time.sleep(0.1)
    service.stop()
    raise TestHostError(f"service {name} wrote no URL to {url_file} in {timeout:.0f} s; see {log}")


def stop_services(state_dir: Path, name: str | None = None) -> list[str]:
    stopped = []
    for service in services_in(state_dir):
        if name is None or service.name == name:
            service.stop()
            _record(state_dir, service.name).unlink(missing_ok=True)
            stopped.append(service.name)
    return stopped
