"""Downloads kept between test hosts, so repeated runs do not fetch chromium's packages again.

A host gets hard links to the cached files before it boots (its apt and pip then find them
as their own cache) and what it downloaded is taken back when it is removed. Hosts never
share a live cache directory, so their apt locks never meet.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

APT_ARCHIVES = Path("var/cache/apt/archives")
PIP_CACHE = Path("root/.cache/pip")


def _apt_store(cache_dir: Path) -> Path:
    return cache_dir / "apt-archives"


def _pip_store(cache_dir: Path) -> Path:
    return cache_dir / "pip"


def _make_dirs(root: Path, relative: Path, like: Path | None) -> None:
    """Create root/relative; each new directory takes the mode and owner it has in `like`.

    (In an overlay's upper layer a directory's own mode wins: /root must stay 0700.)
    """
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_dir():
            continue
        current.mkdir()
        model = like / current.relative_to(root) if like else None
        if model is not None and model.is_dir():
            info = model.stat()
            os.chown(current, info.st_uid, info.st_gid)
            current.chmod(info.st_mode & 0o7777)


def _link_or_copy(source: Path, target: Path) -> None:
    """Place `source` at `target` atomically; an existing target is left alone."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copy2(source, partial)
    partial.replace(target)


def _files_under(top: Path) -> list[Path]:
    if not top.is_dir():
        return []
    return [
        p
        for p in top.rglob("*")
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    ]


def seed_host(root: Path, cache_dir: Path, like: Path | None = None) -> int:
    """Give a host's apt and pip caches the files earlier hosts downloaded. Returns the count.

    `like` is the tree whose directory modes and owners new directories copy.
    """
    count = 0
    debs = [p for p in _files_under(_apt_store(cache_dir)) if p.suffix == ".deb"]
    if debs:
        _make_dirs(root, APT_ARCHIVES, like)
    for deb in debs:
        _link_or_copy(deb, root / APT_ARCHIVES / deb.name)
        count += 1
    pip_store = _pip_store(cache_dir)
    wheels = _files_under(pip_store)
    if wheels:
        _make_dirs(root, PIP_CACHE, like)
    for path in wheels:
        _link_or_copy(path, root / PIP_CACHE / path.relative_to(pip_store))
        count += 1
    return count


def harvest_apt_archives(root: Path, cache_dir: Path) -> int:
    count = 0
    for deb in (root / APT_ARCHIVES).glob("*.deb"):
        if deb.is_file() and not (_apt_store(cache_dir) / deb.name).exists():
            _link_or_copy(deb, _apt_store(cache_dir) / deb.name)
            count += 1
    return count


def harvest_host(root: Path, cache_dir: Path) -> int:
    """Keep what a host downloaded (apt packages, pip's cache) for the next hosts."""
    count = harvest_apt_archives(root, cache_dir)
    host_pip = root / PIP_CACHE
    for path in _files_under(host_pip):
        target = _pip_store(cache_dir) / path.relative_to(host_pip)
        if not target.exists():
            _link_or_copy(path, target)
            count += 1
    return count
