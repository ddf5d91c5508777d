"""`python -m testhosts up|down|list|ssh|build-base`: see testhosts/README.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from testhosts.base_tree import DEFAULT_CACHE_DIR, BaseTreeSpec, base_tree_info, ensure_base_tree
from testhosts.errors import TestHostError
from testhosts.fleet import (
    DEFAULT_GROUP,
    INVENTORY_NAME,
    Timings,
    down,
    hosts_in,
    running_hosts_on_machine,
    up,
)
from testhosts.host import TestHost
from testhosts.services import start_service, stop_services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m testhosts", description=__doc__)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        help=f"where the base tree and shared downloads live (default {DEFAULT_CACHE_DIR})",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up_cmd = commands.add_parser("up", help="boot N hosts (replacing this state dir's old ones)")
    up_cmd.add_argument("--name", default="testhost", help="hosts are named NAME-1..NAME-N")
    up_cmd.add_argument("--count", type=int, default=1)
    up_cmd.add_argument("--state-dir", type=Path, required=True)
    up_cmd.add_argument("--inventory", type=Path, help="also write the inventory here")
    up_cmd.add_argument("--group", default=DEFAULT_GROUP, help="inventory group of the hosts")
    up_cmd.add_argument(
        "--reuse", action="store_true", help="keep the hosts if exactly these are already up"
    )
    up_cmd.add_argument(
        "--suite",
        action="append",
        default=[],
        help="Debian release of the hosts (default bookworm); repeat it to give each host its "
        "own, in order: --count 2 --suite bookworm --suite trixie",
    )
    up_cmd.add_argument("--json", action="store_true", help="print the hosts as JSON")

    down_cmd = commands.add_parser("down", help="stop and delete the hosts of a state dir")
    down_cmd.add_argument("--state-dir", type=Path, required=True)

    list_cmd = commands.add_parser("list", help="hosts of a state dir, or every running one")
    list_cmd.add_argument("--state-dir", type=Path)
    list_cmd.add_argument("--json", action="store_true")

    ssh_cmd = commands.add_parser("ssh", help="open a shell (or run a command) on a host")
    ssh_cmd.add_argument("--state-dir", type=Path, required=True)
    ssh_cmd.add_argument("host")
    ssh_cmd.add_argument("remote", nargs=argparse.REMAINDER)

    start_cmd = commands.add_parser(
        "service-start",
        help="run a loopback server for the hosts (e.g. a fake) in the background",
        description="Start COMMAND detached, stopped by `down` (or service-stop); wait until "
        "it writes its URL to --url-file and print that URL.",
    )
    start_cmd.add_argument("--state-dir", type=Path, required=True)
    start_cmd.add_argument("--name", required=True)
    start_cmd.add_argument("--url-file", type=Path, required=True)
    start_cmd.add_argument("service_command", nargs=argparse.REMAINDER, metavar="-- COMMAND")

    stop_cmd = commands.add_parser("service-stop", help="stop a state dir's servers")
    stop_cmd.add_argument("--state-dir", type=Path, required=True)
    stop_cmd.add_argument("--name", help="only this one")

    base_cmd = commands.add_parser(
        "build-base", help="build the cached Debian tree now and print its key"
    )
    base_cmd.add_argument("--suite", default=BaseTreeSpec().suite, help="Debian release")
    return parser


def _describe(host: TestHost) -> dict[str, object]:
    return {
        "name": host.name,
        "suite": host.suite,
        "running": host.is_running(),
        "port": host.port,
        "root": str(host.root),
        "state_dir": str(Path(host.host_dir).parent.parent),
        "ssh": host.ssh_command_line(),
    }


def _print_hosts(hosts: list[TestHost], as_json: bool) -> None:
    rows = [_describe(h) for h in hosts]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "running" if row["running"] else "stopped"
        print(f"{row['name']}\t{row['suite']}\t{state}\t127.0.0.1:{row['port']}\t{row['ssh']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            timings = Timings()
            hosts = up(
                args.state_dir,
                name=args.name,
                count=args.count,
                inventory=args.inventory,
                group=args.group,
                reuse=args.reuse,
                cache_dir=args.cache_dir,
                timings=timings,
                suites=args.suite,
            )
            _print_hosts(hosts, args.json)
            inventory = args.inventory or args.state_dir / INVENTORY_NAME
            print(
                f"testhosts: inventory {inventory}; base tree {timings.base_tree:.1f} s, "
                f"create {timings.create:.1f} s, boot to SSH {timings.boot_to_ssh:.1f} s",
                file=sys.stderr,
            )
        elif args.command == "down":
            removed = down(args.state_dir, cache_dir=args.cache_dir)
            print(f"testhosts: removed {', '.join(removed) or 'nothing'}", file=sys.stderr)
        elif args.command == "list":
            hosts = hosts_in(args.state_dir) if args.state_dir else running_hosts_on_machine()
            _print_hosts(hosts, args.json)
        elif args.command == "ssh":
            matches = [h for h in hosts_in(args.state_dir) if h.name == args.host]
            if not matches:
                raise TestHostError(f"no host {args.host!r} in {args.state_dir}: see `list`")
            command = matches[0].ssh_command(
                *args.remote, options=("-t",) if not args.remote else ()
            )
            os.execvp(command[0], command)  # noqa: S606 (the user's interactive ssh)
        elif args.command == "service-start":
            command = (
                args.service_command[1:]
                if args.service_command[:1] == ["--"]
                else args.service_command
            )
            if not command:
                raise TestHostError("service-start: give the command after --")
            service = start_service(args.state_dir, args.name, command, args.url_file)
            print(service.url)
        elif args.command == "service-stop":
            stopped = stop_services(args.state_dir, args.name)
            print(f"testhosts: stopped {', '.join(stopped) or 'nothing'}", file=sys.stderr)
        elif args.command == "build-base":
            started = time.monotonic()
            spec = BaseTreeSpec(suite=args.suite)
            ensure_base_tree(spec, args.cache_dir)
            info = base_tree_info(spec, args.cache_dir)
            info["seconds_now"] = round(time.monotonic() - started, 1)
            print(json.dumps(info, indent=2))
    except TestHostError as error:
        print(f"testhosts: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
