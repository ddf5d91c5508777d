"""A stand-in for Google's Chrome apt repository, served on this machine's loopback.

Google's repository cannot be reached from a test machine, so the tests stand in for it the
way the fakes stand in for Google Photos: a real apt repository, signed with a GPG key made
for the test, holding a `google-chrome-stable` package built here with dpkg-deb. The
package installs what Chrome's does where Chrome's does (`/opt/google/chrome/chrome`,
`/usr/bin/google-chrome-stable`), but its `chrome` is a thin launcher of the host's Debian
Chromium (which it Depends on), and its postinst rewrites its own apt source the way
Chrome's postinst does (see roles/gphotos_browser/tasks/chrome.yml).

    python -m testhosts.chrome_repo serve --dir DIR --url-file FILE [--port 0]

builds the repository under DIR for the URL it listens on, writes that URL to FILE and
serves until stopped (`python -m testhosts service-start ... --` runs it detached). Under
the URL: `linux_signing_key.pub` (the key, armored) and `deb/` (the repository, suite
`stable`, component `main`): the role's `gphotos_browser_chrome_key_url` and
`gphotos_browser_chrome_repo_url`.
"""

from __future__ import annotations

import argparse
import email.utils
import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from testhosts.errors import TestHostError

PACKAGE = "google-chrome-stable"
# A version no real Chrome has, so nobody mistakes the stand-in for the product. Each build
# appends its time: the test hosts share a cache of downloaded .debs by file name, and a
# package of an earlier build (with another repository URL in its postinst) must never be
# taken for this one.
VERSION = "1.0.0-1+teststandin"
KEY_NAME = "linux_signing_key.pub"
REPO_DIR = "deb"
SUITE = "stable"
COMPONENT = "main"
# Where Chrome's package keeps its apt source and key (the role's vars/main.yml).
CHROME_SOURCES = "/etc/apt/sources.list.d/google-chrome.sources"
CHROME_LEGACY_LIST = "/etc/apt/sources.list.d/google-chrome.list"
CHROME_KEYRING = "/usr/share/keyrings/google-chrome.gpg"
# The key the package carries, which its postinst keeps installed at CHROME_KEYRING.
PACKAGED_KEY = "/opt/google/chrome/google-chrome-signing-key.gpg"
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class ChromeRepo:
    """A built repository: where it lives and the URLs a host uses."""

    directory: Path
    base_url: str
    version: str

    @property
    def repo_url(self) -> str:
        return f"{self.base_url}/{REPO_DIR}/"

    @property
    def key_url(self) -> str:
        return f"{self.base_url}/{KEY_NAME}"

    @property
    def package(self) -> Path:
        name = f"{PACKAGE}_{self.version}_{architecture()}.deb"
        return self.directory / REPO_DIR / "pool" / COMPONENT / "g" / PACKAGE / name


def architecture() -> str:
    """This machine's Debian architecture (the test hosts share it)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _run(argv: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, check=True, capture_output=True, input=stdin)
    except FileNotFoundError:
        raise TestHostError(
            f"{argv[0]} is not installed: run `make apt-deps` (gnupg, dpkg)"
        ) from None
    except subprocess.CalledProcessError as error:
        raise TestHostError(
            f"{' '.join(argv[:3])}... failed (exit {error.returncode}): "
            f"{error.stderr.decode(errors='replace').strip()[-800:]}"
        ) from None


def sources_file(repo_url: str, arch: str) -> str:
    """The deb822 source Chrome's postinst writes: the same text the role writes."""
    return textwrap.dedent(
        f"""\
        ### THIS FILE IS AUTOMATICALLY CONFIGURED ###
        # Changes to this file will not be preserved.
        # This file will not be recreated if removed.
        X-Repolib-Name: Google Chrome
        Types: deb
        URIs: {repo_url}
        Suites: {SUITE}
        Components: {COMPONENT}
        Architectures: {arch}
        Signed-By: {CHROME_KEYRING}
        """
    )


def _postinst(repo_url: str, arch: str) -> str:
    return (
        textwrap.dedent(
            f"""\
            #!/bin/sh
            # Like Google Chrome's postinst: the package keeps its own apt source and key,
            # rewrites the source in deb822 form and deletes the one-line source older
            # packages wrote. Files are replaced only when their content differs.
            set -e
            [ "$1" = configure ] || exit 0
            if ! cmp -s {PACKAGED_KEY} {CHROME_KEYRING}; then
                install -m 0644 {PACKAGED_KEY} {CHROME_KEYRING}
            fi
            new=$(mktemp /etc/apt/.google-chrome.sources.XXXXXX)
            cat > "$new" <<'EOF'
            """
        )
        + sources_file(repo_url, arch)
        + textwrap.dedent(
            f"""\
            EOF
            chmod 0644 "$new"
            if cmp -s "$new" {CHROME_SOURCES}; then rm -f "$new"
            else mv "$new" {CHROME_SOURCES}; fi
            rm -f {CHROME_LEGACY_LIST}
            """
        )
    )


LAUNCHER = f"""#!/bin/sh
# Test stand-in for Google Chrome: runs this host's Debian Chromium.
exec {CHROMIUM} "$@"
"""
# Chrome's /usr/bin/google-chrome-stable points at this wrapper, which runs `chrome`.
WRAPPER = """#!/bin/sh
exec /opt/google/chrome/chrome "$@"
"""


def build_package(out: Path, repo_url: str, keyring: bytes, arch: str, version: str) -> Path:
    """Build the stand-in google-chrome-stable .deb into `out`."""
    with tempfile.TemporaryDirectory(prefix="chrome-deb-") as scratch:
        root = Path(scratch) / "root"
        chrome_dir = root / "opt/google/chrome"
        chrome_dir.mkdir(parents=True)
        for name, text in (("chrome", LAUNCHER), ("google-chrome", WRAPPER)):
            (chrome_dir / name).write_text(text)
            (chrome_dir / name).chmod(0o755)
        (root / PACKAGED_KEY.lstrip("/")).write_bytes(keyring)
        (root / PACKAGED_KEY.lstrip("/")).chmod(0o644)
        (root / "usr/bin").mkdir(parents=True)
        (root / "usr/bin/google-chrome-stable").symlink_to("/opt/google/chrome/google-chrome")
        debian = root / "DEBIAN"
        debian.mkdir()
        (debian / "control").write_text(
            textwrap.dedent(
                f"""\
                Package: {PACKAGE}
                Version: {version}
                Architecture: {arch}
                Maintainer: gphotos-collector tests <tests@invalid>
                Depends: chromium
                Section: web
                Priority: optional
                Description: Test stand-in for Google Chrome (runs Debian's Chromium)
                 Built by the gphotos-collector tests; never install it on a real machine.
                """
            )
        )
        (debian / "postinst").write_text(_postinst(repo_url, arch))
        (debian / "postinst").chmod(0o755)
        for folder in [root, *root.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        out.mkdir(parents=True, exist_ok=True)
        deb = out / f"{PACKAGE}_{version}_{arch}.deb"
        _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)])
    return deb


def _hashes(data: bytes) -> dict[str, str]:
    return {
        "MD5Sum": hashlib.md5(data).hexdigest(),  # noqa: S324 (apt's index format)
        "SHA256": hashlib.sha256(data).hexdigest(),
    }


def _packages_stanza(deb: Path, pool_path: str) -> str:
    control = _run(["dpkg-deb", "--field", str(deb)]).stdout.decode().rstrip("\n")
    data = deb.read_bytes()
    digests = _hashes(data)
    return (
        f"{control}\nFilename: {pool_path}\nSize: {len(data)}\n"
        f"MD5sum: {digests['MD5Sum']}\nSHA256: {digests['SHA256']}\n"
    )


def _release(indexes: dict[str, bytes], arch: str) -> str:
    lines = [
        "Origin: gphotos-collector tests",
        "Label: Google Chrome stand-in",
        f"Suite: {SUITE}",
        f"Codename: {SUITE}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        f"Architectures: {arch}",
        f"Components: {COMPONENT}",
        "Description: test stand-in for Google's Chrome repository",
    ]
    for field in ("MD5Sum", "SHA256"):
        lines.append(f"{field}:")
        for name, data in sorted(indexes.items()):
            lines.append(f" {_hashes(data)[field]} {len(data):>8} {name}")
    return "\n".join(lines) + "\n"


def _gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    argv = ["gpg", "--batch", "--no-tty", "--quiet", "--homedir", str(home), *args]
    return _run(argv, stdin).stdout


def build(directory: Path, base_url: str) -> ChromeRepo:
    """Make the signing key, the package, the signed index and the served key under `directory`."""
    if shutil.which("gpg") is None or shutil.which("dpkg-deb") is None:
        raise TestHostError("gpg and dpkg-deb are needed: run `make apt-deps` (gnupg, dpkg)")
    repo = ChromeRepo(
        directory.resolve(), base_url.rstrip("/"), f"{VERSION}.{time.time_ns() // 1000}"
    )
    arch = architecture()
    if repo.directory.exists():
        shutil.rmtree(repo.directory)
    home = repo.directory / "gnupg"
    home.mkdir(parents=True, mode=0o700)
    uid = "Google Chrome stand-in for gphotos-collector tests <tests@invalid>"
    _gpg(home, "--passphrase", "", "--quick-generate-key", uid, "ed25519", "sign", "1d")
    (repo.directory / KEY_NAME).write_bytes(_gpg(home, "--armor", "--export"))
    keyring = _gpg(home, "--export")

    dists = repo.directory / REPO_DIR / "dists" / SUITE
    deb = build_package(repo.package.parent, repo.repo_url, keyring, arch, repo.version)
    pool_path = str(deb.relative_to(repo.directory / REPO_DIR))
    packages = _packages_stanza(deb, pool_path).encode()
    index_name = f"{COMPONENT}/binary-{arch}/Packages"
    indexes = {index_name: packages, f"{index_name}.gz": gzip.compress(packages, mtime=0)}
    for name, data in indexes.items():
        (dists / name).parent.mkdir(parents=True, exist_ok=True)
        (dists / name).write_bytes(data)
    release = _release(indexes, arch).encode()
    (dists / "Release").write_bytes(release)
    signing = ("--digest-algo", "SHA512")
    (dists / "InRelease").write_bytes(_gpg(home, *signing, "--clearsign", stdin=release))
    (dists / "Release.gpg").write_bytes(
        _gpg(home, *signing, "--armor", "--detach-sign", stdin=release)
    )
    # the private key is not needed any more: gpg's agent and key leave with the home
    _run(["gpgconf", "--homedir", str(home), "--kill", "all"])
    shutil.rmtree(home)
    return repo


def serve(directory: Path, url_file: Path, port: int = 0) -> None:
    """Listen on the loopback, build the repository for that URL, announce it, serve forever."""
    # every request goes to stderr: the service's log in the state directory
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        build(directory, base_url)
        partial = url_file.with_name(f".{url_file.name}.partial")
        partial.write_text(base_url + "\n")
        partial.replace(url_file)
        print(f"serving {base_url}", flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testhosts.chrome_repo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="build the repository and serve it")
    serve_cmd.add_argument("--dir", type=Path, required=True, help="where to build it")
    serve_cmd.add_argument("--url-file", type=Path, required=True, help="its URL is written here")
    serve_cmd.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        serve(args.dir, args.url_file, args.port)
    except TestHostError as error:
        print(f"chrome_repo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
