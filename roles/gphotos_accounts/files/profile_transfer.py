"""Move a member's Chrome login profile from the control node into place on a server.

One file, used on both ends by the gphotos_accounts role:

  on the control node (the controller's Python):
    profile_transfer.py digest [--exclude PATTERN ...] PROFILE_DIR
    profile_transfer.py pack   [--exclude PATTERN ...] PROFILE_DIR ARCHIVE
  on the server, as the member's own user (installed as install-profile):
    profile_transfer.py install --archive FILE --profile DIR --lock FILE
        --digest TEXT --timeout SECONDS [--exclude PATTERN ...]

`digest` and `pack` print one JSON object ({"sha256", "files", "bytes"}).
`install` unpacks the archive next to DIR (caches left out), waits for the
member's run lock (the lock `gphotos-collector run --lock` takes, so no
backup is using the profile), renames the new profile into place, records
where it came from in DIR/.gphotos-profile-source, and removes the old
profile and the archive.

A pattern without "/" leaves out every file or directory of that name at any
depth ("Cache"); a pattern with "/" leaves out that run of path components
("Service Worker/CacheStorage"); shell wildcards work in each component.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

# The file Chrome writes at the top of every user-data directory.
PROFILE_MARKER = "Local State"
# Written into the installed profile: which upload it is (compared on the next deploy).
SOURCE_RECORD = ".gphotos-profile-source"

EXIT_BAD_ARCHIVE = 65  # EX_DATAERR: the archive is not a usable profile
EXIT_LOCK_BUSY = 75  # EX_TEMPFAIL: a backup kept the run lock past the timeout
EXIT_CANNOT_WRITE = 73  # EX_CANTCREAT: the new profile could not be written


def is_excluded(parts: Sequence[str], patterns: Sequence[str]) -> bool:
    """True when a run of path components matches one of the patterns."""
    for pattern in patterns:
        wanted = [piece for piece in pattern.split("/") if piece]
        width = len(wanted)
        if width == 0:
            continue
        for start in range(len(parts) - width + 1):
            window = parts[start : start + width]
            if all(
                fnmatch.fnmatchcase(part, piece) for part, piece in zip(window, wanted, strict=True)
            ):
                return True
    return False


def profile_files(root: Path, patterns: Sequence[str]) -> Iterator[tuple[str, Path, bool]]:
    """(relative path, path, is_dir) of what a profile keeps, sorted; links are left out."""
    for current, dirnames, filenames in os.walk(root):
        relative_dir = Path(current).relative_to(root)
        kept_dirs = []
        for name in sorted(dirnames):
            relative = relative_dir / name
            path = root / relative
            if path.is_symlink() or is_excluded(relative.parts, patterns):
                continue
            kept_dirs.append(name)
            yield relative.as_posix(), path, True
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            relative = relative_dir / name
            path = root / relative
            if path.is_symlink() or not path.is_file() or is_excluded(relative.parts, patterns):
                continue
            yield relative.as_posix(), path, False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(root: Path, patterns: Sequence[str]) -> dict[str, object]:
    """A digest of every kept file's path and content, and of the exclusion list."""
    digest = hashlib.sha256()
    for pattern in patterns:
        digest.update(b"exclude\0" + pattern.encode("utf-8", "surrogateescape") + b"\n")
    files = 0
    size = 0
    for relative, path, is_dir in profile_files(root, patterns):
        name = relative.encode("utf-8", "surrogateescape")
        if is_dir:
            digest.update(b"dir\0" + name + b"\n")
            continue
        digest.update(b"file\0" + name + b"\0" + sha256_of(path).encode() + b"\n")
        files += 1
        size += path.stat().st_size
    return {"sha256": digest.hexdigest(), "files": files, "bytes": size}


def require_profile_dir(root: Path) -> None:
    if not (root / PROFILE_MARKER).is_file():
        raise SystemExit(
            f"{root} is not a Chrome profile (no '{PROFILE_MARKER}' file in it): point "
            "profile_src at the directory given to `gphotos-collector login --profile`"
        )


def pack(root: Path, archive: Path, patterns: Sequence[str]) -> dict[str, object]:
    """Write a tar.gz of the kept files, private modes, no owner names."""

    def private(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o700 if info.isdir() else 0o600
        return info

    old_umask = os.umask(0o077)
    try:
        with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
            for relative, path, _is_dir in profile_files(root, patterns):
                tar.add(path, arcname=relative, recursive=False, filter=private)
    finally:
        os.umask(old_umask)
    return fingerprint(root, patterns)


def safe_member_parts(name: str) -> tuple[str, ...] | None:
    """The member's path components, or None for the archive's own top entry."""
    path = PurePosixPath(name)
    if path.is_absolute():
        raise ValueError(f"absolute path in the archive: {name!r}")
    parts = tuple(part for part in path.parts if part not in ("", "."))
    if ".." in parts:
        raise ValueError(f"'..' in a path in the archive: {name!r}")
    return parts or None


def unpack(archive: Path, target: Path, patterns: Sequence[str]) -> None:
    """Extract directories and regular files only, owned by us, private modes."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            parts = safe_member_parts(member.name)
            if parts is None or is_excluded(parts, patterns):
                continue
            destination = target.joinpath(*parts)
            if member.isdir():
                destination.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif member.isfile():
                destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with source, os.fdopen(descriptor, "wb") as stream:
                    shutil.copyfileobj(source, stream, 1 << 20)
                os.utime(destination, (member.mtime, member.mtime))
            # Links, devices and fifos have no place in a profile copy.


def profile_root_in(unpacked: Path) -> Path:
    """The profile's top: the archive's root, or its one top directory."""
    if (unpacked / PROFILE_MARKER).is_file():
        return unpacked
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / PROFILE_MARKER).is_file():
        return entries[0]
    raise ValueError(
        f"no '{PROFILE_MARKER}' file at the top of the archive: make it with "
        "`tar -czf NAME.tar.gz -C PROFILE_DIR .`"
    )


def wait_for_lock(lock_path: Path, timeout: float) -> int:
    """Take the run lock (flock, like `gphotos-collector run --lock`); the fd holds it."""
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            os.close(descriptor)
            raise TimeoutError(f"a backup still holds {lock_path} after {timeout:.0f} s")
        if not told:
            print(f"waiting for the running backup to release {lock_path}", file=sys.stderr)
            told = True
        time.sleep(1)


def install(arguments: argparse.Namespace) -> int:
    profile: Path = arguments.profile
    home = profile.parent
    for leftover in home.glob(profile.name + ".new.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=profile.name + ".new.", dir=home))
    try:
        try:
            unpack(arguments.archive, staging, arguments.exclude)
            new_profile = profile_root_in(staging)
        except (ValueError, tarfile.TarError, EOFError, OSError) as error:
            print(f"the uploaded profile cannot be used: {error}", file=sys.stderr)
            return EXIT_BAD_ARCHIVE
        (new_profile / SOURCE_RECORD).write_text(arguments.digest + "\n", encoding="utf-8")
        try:
            lock = wait_for_lock(arguments.lock, arguments.timeout)
        except TimeoutError as error:
            print(str(error), file=sys.stderr)
            return EXIT_LOCK_BUSY
        try:
            retired = None
            if profile.exists():
                retired = Path(tempfile.mkdtemp(prefix=profile.name + ".old.", dir=home))
                profile.rename(retired / "profile")
            try:
                new_profile.rename(profile)
            except OSError:
                if retired is not None:
                    (retired / "profile").rename(profile)
                raise
            profile.chmod(0o700)
        finally:
            os.close(lock)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
        arguments.archive.unlink(missing_ok=True)
        return 0
    except OSError as error:
        print(f"cannot put the new profile in place: {error}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    digest_command = commands.add_parser("digest", help="fingerprint a profile directory")
    digest_command.add_argument("--exclude", action="append", default=[])
    digest_command.add_argument("source", type=Path)

    pack_command = commands.add_parser("pack", help="pack a profile directory into a tar.gz")
    pack_command.add_argument("--exclude", action="append", default=[])
    pack_command.add_argument("source", type=Path)
    pack_command.add_argument("archive", type=Path)

    install_command = commands.add_parser("install", help="swap an uploaded profile into place")
    install_command.add_argument("--exclude", action="append", default=[])
    install_command.add_argument("--archive", type=Path, required=True)
    install_command.add_argument("--profile", type=Path, required=True)
    install_command.add_argument("--lock", type=Path, required=True)
    install_command.add_argument("--digest", required=True)
    install_command.add_argument("--timeout", type=float, required=True)

    arguments = parser.parse_args(argv)
    if arguments.command == "install":
        os.umask(0o077)
        return install(arguments)
    require_profile_dir(arguments.source)
    if arguments.command == "digest":
        result = fingerprint(arguments.source, arguments.exclude)
    else:
        result = pack(arguments.source, arguments.archive, arguments.exclude)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
