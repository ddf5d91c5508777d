"""A fake photos.google.com: a real HTTP server that follows the contract in
`google-photos-web.md` (session cookies, about/sign-in redirects, `/u/<n>/`,
a virtualised single-page grid, an item viewer with keys and menus,
Content-Disposition downloads), with a generated library of JPEGs with EXIF,
MP4/MOV videos and live-photo zips, and injectable faults.

In pytest::

    from fakes.photos import FakePhotos

    with FakePhotos(items=200, seed=7, accounts=["alice@example.com"], media_scale=0.02) as fake:
        fake.make_profile(tmp_path / "profile")     # a signed-in Chromium profile
        ...                                         # point a client at fake.base_url
        fake.manifest()                             # what a complete backup holds
        fake.revoke("alice@example.com")            # the profile is signed out
        fake.grow(250)                              # 50 newer items on top
        fake.downloads                              # completed downloads per item id
        fake.original_downloads                     # of them, "Download original"
        fake.upload_old("alice@example.com", taken)  # uploaded now, taken long ago
        fake.set_archived("alice@example.com", item_id, True)  # out of the grid
        fake.interstitial("alice@example.com", "confirmidentifier")
        fake.dialog("alice@example.com", "storage-full")
        fake.change_page("download")                # as Google might change it; None clears
        fake.foreign_recent(True)                   # Recently added under non-library ids
        fake.set_caption("alice@example.com", item_id, "Café ☕\nline two")
        fake.set_people("alice@example.com", item_id, ["Ana García"])
        album = fake.manifest()["accounts"]["alice@example.com"]["albums"][0]["id"]
        fake.rename_album("alice@example.com", album, "New title")
        fake.remove_from_album("alice@example.com", album, item_id)  # or its album item id
        fake.add_to_album("alice@example.com", album, item_id)
        fake.delete_album("alice@example.com", album)

Views: the grid `/` (date taken), Recently added `/search/_tra_` (upload
time, archived items too), the archive `/archive`, the albums `/albums` and each
album `/album/<albumId>` (shared: `/share/<shareId>?key=<KEY>`), whose items have
album item ids, never their library ids; the page keeps hidden stale copies of
grid, album and info panel unless `stale_copies=False`. The info panel also shows
the caption, file size, albums and people (each with a hidden duplicate). Albums:
see `fakes.photos.albums` (`FakePhotos(albums=N)`: N per account, default 8).

From a shell: ``python -m fakes.photos --help`` (serve, make-profile, revoke,
grow, delete, ready, upload-old, archive, interstitial, dialog, change,
foreign-recent, caption, people, album-rename, album-delete, album-remove,
album-add). Fault SPEC syntax: see `fakes.photos.faults`. Library rules (special, processing,
deleted, archived and backdated items): see `fakes.photos.library`. Manifest
format: see `fakes.photos.manifest`. URL paths, interstitials, dialogs and
page changes (`PAGE_CHANGES`): see `fakes.photos.server`.
"""

from fakes.photos.fake import FakePhotos
from fakes.photos.faults import FaultSpec, FaultSpecError, parse_fault_spec
from fakes.photos.profile import ProfileError, make_profile

__all__ = [
    "FakePhotos",
    "FaultSpec",
    "FaultSpecError",
    "ProfileError",
    "make_profile",
    "parse_fault_spec",
]
