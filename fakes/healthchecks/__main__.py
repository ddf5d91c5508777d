"""`python -m fakes.healthchecks serve`: the fake Healthchecks as a process."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from fakes.healthchecks.server import (
    DEFAULT_API_KEY,
    DEFAULT_PING_KEY,
    DEFAULT_RATE_LIMIT,
    MODES,
    FakeHealthchecks,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fakes.healthchecks")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve pings and the v3 API until stopped")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--record", type=Path, required=True, help="JSON lines, one per request")
    serve.add_argument("--mode", choices=MODES, default="selfhosted")
    serve.add_argument(
        "--body-limit",
        type=int,
        help="Ping-Body-Limit in bytes (default 10000 self-hosted, 100000 hosted)",
    )
    serve.add_argument("--faults", help="e.g. 500=0.2,timeout=0.1,ratelimit=0.1,seed=7")
    serve.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT,
        help="pings a minute per check (0: no limit)",
    )
    serve.add_argument("--api-key", default=DEFAULT_API_KEY, help="the project's read-write key")
    serve.add_argument("--ping-key", default=DEFAULT_PING_KEY, help="the project's ping key")
    serve.add_argument("--url-file", type=Path, help="also write the server's URL here")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        fake = FakeHealthchecks(
            mode=args.mode,
            body_limit=args.body_limit,
            faults=args.faults,
            record=args.record,
            rate_limit=args.rate_limit,
            api_key=args.api_key,
            ping_key=args.ping_key,
            host=args.host,
            port=args.port,
        )
    except ValueError as error:
        print(f"fake healthchecks: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with fake:
        if args.url_file:
            _write_atomically(args.url_file, fake.base_url + "\n")
        print(f"serving {fake.base_url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
