"""Command line of the fake Google Photos: serve, make-profile, revoke, grow, delete, ready,
upload-old, archive, interstitial, dialog, change, foreign-recent, caption, people,
album-rename, album-delete, album-remove, album-add."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from fakes.photos import faults as faults_module
from fakes.photos.albums import DEFAULT_ALBUMS
from fakes.photos.faults import FaultSpecError, parse_fault_spec
from fakes.photos.profile import DEFAULT_BROWSER, ProfileError, make_profile
from fakes.photos.server import PhotosApp, PhotosServer

DEFAULT_ACCOUNT = "alice@example.com"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative ({text})")
    return value


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {text}")
    return value


def _accounts(text: str) -> list[str]:
    accounts = [a.strip().lower() for a in text.split(",") if a.strip()]
    bad = [a for a in accounts if "@" not in a or a.startswith("@") or a.endswith("@")]
    if not accounts or bad:
        raise argparse.ArgumentTypeError(
            f"give email addresses separated by commas, e.g. alice@example.com,bob@example.com "
            f"(not {text!r})"
        )
    if len(set(accounts)) != len(accounts):
        raise argparse.ArgumentTypeError(f"an account is listed twice in {text!r}")
    return accounts


def _aware(text: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {text}+02:00")
    return moment.isoformat()


def _spec(text: str) -> str:
    try:
        parse_fault_spec(text)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--faults: ")) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fakes.photos",
        description="A fake photos.google.com for tests, the demo and benchmarks.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the fake until SIGTERM/SIGINT",
        description=(
            "Serve a generated library. Prints 'serving URL' once listening. Item k of an "
            "account is the same for the same seed whatever --items is; newer items are on top."
        ),
        epilog="--faults SPEC:\n" + (faults_module.__doc__ or "").split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--port", type=_port, default=0, help="TCP port (0: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--items", type=_count, default=100, help="items per account (default 100)")
    serve.add_argument("--seed", type=int, default=1, help="library seed (default 1)")
    serve.add_argument(
        "--accounts",
        type=_accounts,
        default=[DEFAULT_ACCOUNT],
        help=f"comma-separated emails, each with its own library (default {DEFAULT_ACCOUNT})",
    )
    serve.add_argument("--latency-ms", type=_count, default=0, help="added to every answer")
    serve.add_argument(
        "--faults",
        type=_spec,
        default=None,
        metavar="SPEC",
        help="e.g. 5xx=0.1,stall=0.05,reset=0.05,expire=0.001,seed=7 (see below)",
    )
    serve.add_argument(
        "--media-scale",
        type=_positive_float,
        default=1.0,
        help="multiplies media sizes (default 1.0: photos 0.5-5 MB, videos 10-80 MB)",
    )
    serve.add_argument(
        "--manifest",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON manifest of the library, rewritten whenever it changes",
    )
    serve.add_argument(
        "--stale-copies",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep hidden stale copies of the grid and info panel in the page, as Google's "
        "app does (--no-stale-copies: a page an old client can read)",
    )
    serve.add_argument(
        "--albums",
        type=_count,
        default=DEFAULT_ALBUMS,
        metavar="N",
        help=f"albums per account (default {DEFAULT_ALBUMS}; more for a benchmark)",
    )
    serve.add_argument(
        "--url-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the base URL to FILE once listening",
    )
    serve.set_defaults(func=_serve)

    profile = commands.add_parser(
        "make-profile",
        help="sign a Chromium profile in through the fake's sign-in page",
        description=(
            "Drive Chromium (Playwright) through sign-in with the portable-profile flags. "
            "Several --account: the 2nd is served under /u/1/, and so on."
        ),
    )
    profile.add_argument("--base-url", required=True, help="the fake's URL")
    profile.add_argument("--account", action="append", required=True, metavar="EMAIL")
    profile.add_argument("--profile", type=Path, required=True, metavar="DIR")
    profile.add_argument("--browser", default=DEFAULT_BROWSER, help=f"default {DEFAULT_BROWSER}")
    profile.set_defaults(func=_make_profile)

    revoke = commands.add_parser("revoke", help="sign an account out on every profile")
    revoke.add_argument("--base-url", required=True)
    revoke.add_argument("--account", required=True, metavar="EMAIL")
    revoke.set_defaults(func=_admin, action="revoke")

    grow = commands.add_parser("grow", help="grow every library to N items (newer on top)")
    grow.add_argument("--base-url", required=True)
    grow.add_argument("--items", type=_count, required=True, metavar="N")
    grow.set_defaults(func=_admin, action="grow")

    delete = commands.add_parser("delete", help="delete one item on the fake Google")
    delete.add_argument("--base-url", required=True)
    delete.add_argument("--account", required=True, metavar="EMAIL")
    delete.add_argument("--id", required=True, metavar="ITEM_ID")
    delete.set_defaults(func=_admin, action="delete")

    ready = commands.add_parser("ready", help="finish processing a video")
    ready.add_argument("--base-url", required=True)
    ready.add_argument("--account", required=True, metavar="EMAIL")
    ready.add_argument("--id", required=True, metavar="ITEM_ID")
    ready.set_defaults(func=_admin, action="ready")

    upload = commands.add_parser(
        "upload-old", help="add photos uploaded now but taken at --taken (deep in the grid)"
    )
    upload.add_argument("--base-url", required=True)
    upload.add_argument("--account", required=True, metavar="EMAIL")
    upload.add_argument(
        "--taken", type=_aware, required=True, metavar="ISO", help="e.g. 2009-07-15T14:10:48+02:00"
    )
    upload.add_argument("--count", type=_count, default=1, metavar="N")
    upload.set_defaults(func=_admin, action="upload")

    archive = commands.add_parser("archive", help="move an item into the archive (or out)")
    archive.add_argument("--base-url", required=True)
    archive.add_argument("--account", required=True, metavar="EMAIL")
    archive.add_argument("--id", required=True, metavar="ITEM_ID")
    archive.add_argument("--unarchive", action="store_true", help="move it back to the grid")
    archive.set_defaults(func=_admin, action="archive")

    interstitial = commands.add_parser(
        "interstitial", help="redirect the account's page loads to a sign-in interstitial"
    )
    interstitial.add_argument("--base-url", required=True)
    interstitial.add_argument("--account", required=True, metavar="EMAIL")
    interstitial.add_argument(
        "--kind",
        default="",
        help="confirmidentifier, signinchooser, challenge/dp, shadowdisambiguate, "
        "passkeyenrollment, rejected; empty clears",
    )
    interstitial.set_defaults(func=_admin, action="interstitial")

    dialog = commands.add_parser(
        "dialog", help="show a modal dialog on the account's page loads until cancelled"
    )
    dialog.add_argument("--base-url", required=True)
    dialog.add_argument("--account", required=True, metavar="EMAIL")
    dialog.add_argument("--kind", default="storage-full", help="storage-full; empty clears")
    dialog.set_defaults(func=_admin, action="dialog")

    change = commands.add_parser(
        "change", help="serve the page as Google might change it (one thing changes)"
    )
    change.add_argument("--base-url", required=True)
    change.add_argument(
        "--mode",
        default="",
        help="more-options, info-labels, grid-anchors, download, recently-added; "
        "empty: the normal page",
    )
    change.set_defaults(func=_admin, action="change")

    foreign = commands.add_parser(
        "foreign-recent", help="Recently added lists its items under ids not the library's"
    )
    foreign.add_argument("--base-url", required=True)
    foreign.add_argument("--off", action="store_true", help="back to the library's ids")
    foreign.set_defaults(func=_admin, action="foreign-recent")

    caption = commands.add_parser("caption", help="set an item's caption (empty: none)")
    caption.add_argument("--base-url", required=True)
    caption.add_argument("--account", required=True, metavar="EMAIL")
    caption.add_argument("--id", required=True, metavar="ITEM_ID")
    caption.add_argument("--text", default="", help="the caption; newlines allowed")
    caption.set_defaults(func=_admin, action="caption")

    people = commands.add_parser("people", help="set the people named on an item")
    people.add_argument("--base-url", required=True)
    people.add_argument("--account", required=True, metavar="EMAIL")
    people.add_argument("--id", required=True, metavar="ITEM_ID")
    people.add_argument(
        "--name", action="append", default=[], metavar="NAME", help="once per person; none: nobody"
    )
    people.set_defaults(func=_admin, action="people")

    rename = commands.add_parser("album-rename", help="rename an album")
    rename.add_argument("--base-url", required=True)
    rename.add_argument("--account", required=True, metavar="EMAIL")
    rename.add_argument("--album", required=True, metavar="ALBUM_ID")
    rename.add_argument("--title", required=True)
    rename.set_defaults(func=_admin, action="album-rename")

    drop = commands.add_parser("album-delete", help="delete an album (its items stay)")
    drop.add_argument("--base-url", required=True)
    drop.add_argument("--account", required=True, metavar="EMAIL")
    drop.add_argument("--album", required=True, metavar="ALBUM_ID")
    drop.set_defaults(func=_admin, action="album-delete")

    for name, what in (
        ("album-remove", "take an item out of an album (album item id or library id)"),
        ("album-add", "put a library item into an album (library id)"),
    ):
        change_album = commands.add_parser(name, help=what)
        change_album.add_argument("--base-url", required=True)
        change_album.add_argument("--account", required=True, metavar="EMAIL")
        change_album.add_argument("--album", required=True, metavar="ALBUM_ID")
        change_album.add_argument("--id", required=True, metavar="ITEM_ID")
        change_album.set_defaults(func=_admin, action=name)
    return parser


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".url-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    Path(temporary).replace(path)


def _serve(args: argparse.Namespace) -> int:
    try:
        app = PhotosApp(
            items=args.items,
            seed=args.seed,
            accounts=args.accounts,
            latency_ms=args.latency_ms,
            faults=args.faults,
            media_scale=args.media_scale,
            manifest_path=args.manifest,
            stale_copies=args.stale_copies,
            albums=args.albums,
        )
    except (ValueError, FaultSpecError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        server = PhotosServer(app, args.host, args.port)
    except OSError as error:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    try:
        app.write_manifest()
    except OSError as error:
        print(f"error: cannot write the manifest {args.manifest}: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=server.serve_forever, name="fake-photos", daemon=True)
    worker.start()
    if args.url_file is not None:
        _write_atomically(args.url_file, server.base_url + "\n")
    print(f"serving {server.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    worker.join(timeout=10)
    return 0


def _make_profile(args: argparse.Namespace) -> int:
    try:
        signed = make_profile(args.base_url, args.account, args.profile, args.browser)
    except ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for index, email in signed:
        print(f"signed in {email} as /u/{index}/ in {args.profile}")
    return 0


def _admin(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.action not in ("grow", "change", "foreign-recent"):
        body["account"] = args.account
    if args.action in ("delete", "ready", "archive", "caption", "people"):
        body["id"] = args.id
    if args.action.startswith("album-"):
        body["album"] = args.album
    if args.action in ("album-remove", "album-add"):
        body["id"] = args.id
    if args.action == "album-rename":
        body["title"] = args.title
    if args.action == "caption":
        body["text"] = args.text
    if args.action == "people":
        body["names"] = args.name
    if args.action == "grow":
        body["items"] = args.items
    if args.action == "upload":
        body["taken"] = args.taken
        body["count"] = args.count
    if args.action == "archive":
        body["archived"] = not args.unarchive
    if args.action in ("interstitial", "dialog"):
        body["kind"] = args.kind
    if args.action == "change":
        body["mode"] = args.mode
    if args.action == "foreign-recent":
        body["on"] = not args.off
    url = f"{args.base_url.rstrip('/')}/_fake/{args.action}"
    request = urllib.request.Request(  # noqa: S310 - the fake's own http URL
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - our own URL
            print(response.read().decode())
        return 0
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        print(f"error: the fake refused {args.action}: {detail}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"error: cannot reach the fake at {args.base_url}: {error.reason}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
