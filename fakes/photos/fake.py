"""`FakePhotos`: the fake Google Photos server in a background thread, for pytest."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from fakes.photos.albums import DEFAULT_ALBUMS
from fakes.photos.faults import FaultSpec
from fakes.photos.library import foreign_id, full_name
from fakes.photos.profile import DEFAULT_BROWSER, make_profile
from fakes.photos.server import PhotosApp, PhotosServer

DEFAULT_ACCOUNT = "alice@example.com"


class FakePhotos:
    """A context manager running the real HTTP server on a free loopback port.

    >>> with FakePhotos(items=50, seed=3, media_scale=0.02) as fake:
    ...     fake.make_profile(tmp_path / "profile")
    ...     manifest = fake.manifest()
    """

    def __init__(
        self,
        items: int = 50,
        seed: int = 1,
        accounts: list[str] | None = None,
        latency_ms: int = 0,
        faults: FaultSpec | str | None = None,
        media_scale: float = 1.0,
        manifest_path: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        stale_copies: bool = True,
        albums: int = DEFAULT_ALBUMS,
    ) -> None:
        self.app = PhotosApp(
            items=items,
            seed=seed,
            accounts=list(accounts or [DEFAULT_ACCOUNT]),
            latency_ms=latency_ms,
            faults=faults,
            media_scale=media_scale,
            manifest_path=Path(manifest_path) if manifest_path is not None else None,
            stale_copies=stale_copies,
            albums=albums,
        )
        self._host = host
        self._port = port
        self._server: PhotosServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> FakePhotos:
        if self._server is not None:
            return self
        if self.app.manifest_path is not None:
            self.app.write_manifest()
        self._server = PhotosServer(self.app, self._host, self._port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-photos", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakePhotos:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not running: use it as a context manager")
        return self._server.base_url

    # --- the library -------------------------------------------------------------------

    @property
    def accounts(self) -> list[str]:
        return list(self.app.library.accounts)

    @staticmethod
    def full_name(email: str) -> str:
        return full_name(email)

    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict (also written to `manifest_path` when given)."""
        return self.app.manifests.build()

    def revoke(self, email: str) -> None:
        """Sign `email` out on every profile that holds it."""
        self.app.revoke(email)

    def grow(self, items: int) -> None:
        """Grow every account's library to `items` items (newer ones on top)."""
        self.app.grow(items)

    def delete(self, email: str, item_id: str) -> None:
        """Delete one item on "Google": it leaves every view; a page load of its URL is a
        404, an in-app step onto it shows the app's not-found page."""
        self.app.delete(email, item_id)

    def make_ready(self, email: str, item_id: str) -> None:
        """Finish processing a video: it becomes downloadable."""
        self.app.make_ready(email, item_id)

    def upload_old(self, email: str, taken: dt.datetime, count: int = 1) -> list[str]:
        """Add `count` photos uploaded now but taken at `taken` (aware; 1 s apart): they
        land at their capture date deep in the grid and on top of Recently added."""
        return self.app.upload_old(email, taken, count)

    def set_archived(self, email: str, item_id: str, archived: bool) -> None:
        """Move an item into the archive (out of the grid) or back; the id stays."""
        self.app.set_archived(email, item_id, archived)

    # --- captions, people, albums -----------------------------------------------------

    def set_caption(self, email: str, item_id: str, text: str) -> None:
        """The item's caption ("" for none), shown from the next page load."""
        self.app.set_caption(email, item_id, text)

    def set_people(self, email: str, item_id: str, names: list[str]) -> None:
        """The people named on the item (in this order; [] for none)."""
        self.app.set_people(email, item_id, names)

    def rename_album(self, email: str, album_id: str, title: str) -> None:
        self.app.rename_album(email, album_id, title)

    def delete_album(self, email: str, album_id: str) -> None:
        """The album is gone: from /albums, the info panels, the manifest; a page load of
        its URLs is a 404 with an empty body. Its items stay in the library."""
        self.app.delete_album(email, album_id)

    def remove_from_album(self, email: str, album_id: str, item_id: str) -> str:
        """Take an item out of an album (`item_id`: its album item id, or its library id);
        returns the album item id it had."""
        return self.app.remove_from_album(email, album_id, item_id)

    def add_to_album(self, email: str, album_id: str, item_id: str) -> str:
        """Put a library item (by library id) into an album; returns its album item id
        (the same one each time for the same album and item)."""
        return self.app.add_to_album(email, album_id, item_id)

    def interstitial(self, email: str, kind: str | None) -> None:
        """Every app page load of `email` redirects to a sign-in interstitial until
        cleared (`""`/None). Kinds: confirmidentifier, signinchooser, challenge/dp
        (or dp), shadowdisambiguate, passkeyenrollment, rejected; any tail of the
        interstitial's path is accepted too."""
        self.app.set_interstitial(email, kind)

    def dialog(self, email: str, kind: str | None = "storage-full") -> None:
        """App page loads of `email` show a modal dialog until it is cancelled once."""
        self.app.set_dialog(email, kind)

    def change_page(self, mode: str | None) -> None:
        """Serve the page as Google might change it, until cleared (None/""): one thing
        the contract names changes, everything else keeps working. Modes (see
        `fakes.photos.server.PAGE_CHANGES`): more-options, info-labels, grid-anchors,
        download, recently-added. Pages loaded afterwards show the change."""
        self.app.set_page_change(mode)

    @property
    def page_change(self) -> str | None:
        """The page change in force (None: the normal page)."""
        return self.app.change_now()

    def foreign_recent(self, on: bool = True) -> None:
        """Recently added lists the same items in the same order, but each under an id
        that is no library id (`foreign_id`); a page load of such an id is a 404."""
        self.app.set_foreign_recent(on)

    def foreign_id(self, item_id: str) -> str:
        """The id Recently added shows for the library id `item_id` while
        `foreign_recent(True)` is in force."""
        return foreign_id(self.app.seed, item_id)

    # --- what the server saw -----------------------------------------------------------

    @property
    def downloads(self) -> dict[str, int]:
        """Completed downloads per item id (every byte sent)."""
        return dict(self.app.stats.snapshot()["downloads_completed"])

    @property
    def original_downloads(self) -> dict[str, int]:
        """Completed "Download original" downloads per item id (also in `downloads`)."""
        return dict(self.app.stats.snapshot()["original_downloads"])

    @property
    def dialog_confirms(self) -> int:
        """Dialogs confirmed (a client failure: it should cancel)."""
        return int(self.app.stats.snapshot()["dialog_confirms"])

    @property
    def dialog_cancels(self) -> int:
        """Dialogs cancelled (the cancel button or Escape)."""
        return int(self.app.stats.snapshot()["dialog_cancels"])

    @property
    def download_attempts(self) -> dict[str, int]:
        """Downloads started per item id (completed, stalled, reset or abandoned)."""
        return dict(self.app.stats.snapshot()["downloads_started"])

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request: method, path (no query), kind, status, time."""
        return self.app.stats.request_log()

    @property
    def fault_counts(self) -> dict[str, int]:
        return dict(self.app.faults.injected)

    def stats(self) -> dict[str, Any]:
        snapshot = self.app.stats.snapshot()
        snapshot["faults"] = self.fault_counts
        return snapshot

    # --- profiles ----------------------------------------------------------------------

    def make_profile(
        self,
        profile_dir: Path | str,
        accounts: list[str] | None = None,
        browser: str = DEFAULT_BROWSER,
    ) -> list[tuple[int, str]]:
        """A Chrome profile signed in to `accounts` (default: all, in order)."""
        return make_profile(self.base_url, accounts or self.accounts, Path(profile_dir), browser)
