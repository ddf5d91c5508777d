"""The fake Google Photos in a process of its own, as the benchmarks need it.

    python -m benchmarks.serve_fake --items N --seed S --media-scale F \\
        --url-file FILE --catalog FILE [--albums N --album-catalog FILE] [--warm]

The same server as `python -m fakes.photos serve` (its `PhotosApp` and
`PhotosServer`), less the manifest that command builds before it listens: the
manifest hashes every file, which takes minutes for 50,000 items. Instead it
writes a catalog of the items (id, kind, state, archive and edit flags, video
size, capture time, and the file name the info panel shows: a live photo's is
its still's) and, with `--warm`, builds every file's bytes once before
it listens, so that no benchmark pays for the fake's first JPEG encodes.
`--album-catalog` also writes each account's albums as /albums lists them, each
with its items (album item id, library id or null, file name).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType

from fakes.photos.albums import DEFAULT_ALBUMS
from fakes.photos.server import PhotosApp, PhotosServer


def catalog(app: PhotosApp) -> dict[str, list[dict[str, object]]]:
    """Per account, the items oldest first (index k is item k)."""
    library = app.library
    return {
        account: [
            {
                "id": spec.item_id,
                "kind": spec.kind,
                "state": library.state(spec),
                "archived": library.archived(spec),
                "edited": spec.edited,
                "video_bytes": spec.video_bytes,
                "taken": spec.taken_iso,
                "filename": spec.filename,  # what the info panel shows as its file name
            }
            for spec in library.all_specs(account)
        ]
        for account in library.accounts
    }


def album_catalog(app: PhotosApp) -> dict[str, list[dict[str, object]]]:
    """Per account, its albums in /albums order, each with its items in display order."""
    catalogued: dict[str, list[dict[str, object]]] = {}
    for account in app.library.accounts:
        catalogued[account] = []
        for album in app.albums.albums(account):
            spec = album.spec
            shared = spec.share_id is not None
            catalogued[account].append(
                {
                    "id": spec.share_id if shared else spec.album_id,
                    "title": album.title,
                    "shared": shared,
                    "path": f"/share/{spec.share_id}?key={spec.key}"
                    if shared
                    else f"/album/{spec.album_id}",
                    "items": [
                        [
                            entry.album_item_id,
                            None if entry.foreign else entry.source.item_id,
                            entry.source.filename,
                        ]
                        for entry in album.entries
                    ],
                }
            )
    return catalogued


def warm(app: PhotosApp) -> None:
    """Build each downloadable file once: the shared JPEG bodies are encoded on first use."""
    for account in app.library.accounts:
        for spec in app.library.all_specs(account):
            if app.library.state(spec) == "ok":
                app.media.download(spec)
                if spec.edited:
                    app.media.download(spec, original=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve_fake", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--accounts", default="alice@example.com")
    parser.add_argument("--media-scale", type=float, default=1.0)
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--albums", type=int, default=DEFAULT_ALBUMS, help="albums per account")
    parser.add_argument("--album-catalog", type=Path, help="also write the albums here")
    parser.add_argument("--warm", action="store_true", help="build every file before listening")
    args = parser.parse_args()
    app = PhotosApp(
        items=args.items,
        seed=args.seed,
        accounts=args.accounts.split(","),
        media_scale=args.media_scale,
        albums=args.albums,
    )
    if args.warm:
        warm(app)
    args.catalog.write_text(json.dumps(catalog(app)))
    if args.album_catalog is not None:
        args.album_catalog.write_text(json.dumps(album_catalog(app)))
    server = PhotosServer(app, "127.0.0.1", 0)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=server.serve_forever, name="fake-photos", daemon=True)
    worker.start()
    partial = args.url_file.with_suffix(".partial")
    partial.write_text(server.base_url + "\n")
    partial.replace(args.url_file)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    worker.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
