"""Servers run for the test hosts: started detached, ready on their URL, stopped by down."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

import pytest

import testhosts

# A real HTTP server on a free loopback port that announces its URL the way the fakes do.
SERVER = (
    "import http.server, sys\n"
    "server = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
    "open(sys.argv[1], 'w').write(f'http://127.0.0.1:{server.server_address[1]}')\n"
    "server.serve_forever()\n"
)


def _alive(pid: int) -> bool:
    """Running (a killed child of this test process stays a zombie until reaped: not alive)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_a_service_runs_detached_until_down_stops_it(tmp_path):
    state = tmp_path / "state"
    url_file = tmp_path / "url"
    argv = [sys.executable, "-c", SERVER, str(url_file)]
    first = testhosts.start_service(state, "web", argv, url_file)
    with urllib.request.urlopen(first.url, timeout=5) as answer:
        assert answer.status == 200
    assert os.getpgid(first.pid) == first.pid, "its own process group, outside ours"

    # starting it again (a rerun after a crash) replaces the old one
    second = testhosts.start_service(state, "web", argv, url_file)
    assert not _alive(first.pid)
    assert [s.pid for s in testhosts.services_in(state)] == [second.pid]

    assert testhosts.down(state) == ["web"]
    assert not _alive(second.pid)
    assert testhosts.services_in(state) == []


def test_a_service_that_dies_before_it_is_ready_is_reported_with_its_log(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('cannot bind'); sys.exit(3)"]
    with pytest.raises(testhosts.TestHostError, match=r"exited with 3 .*broken\.log"):
        testhosts.start_service(tmp_path / "state", "broken", argv, tmp_path / "url")
    assert "cannot bind" in (tmp_path / "state" / "services" / "broken.log").read_text()
