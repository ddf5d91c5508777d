"""The stand-in for Google's Chrome repository: real apt reads it, checking its real signature."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testhosts import chrome_repo

REPO = Path(__file__).resolve().parent.parent.parent
CHROME_TASKS = REPO / "roles/gphotos_browser/tasks/chrome.yml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[chrome_repo.ChromeRepo]:
    """The repository, built and served by `python -m testhosts.chrome_repo serve`."""
    folder = tmp_path_factory.mktemp("chrome-repo")
    url_file = folder / "url"
    process = subprocess.Popen(
        [sys.executable, "-m", "testhosts.chrome_repo", "serve", "--dir", str(folder / "repo"),
         "--url-file", str(url_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().decode()
        assert first_line.startswith("serving http://127.0.0.1:"), first_line
        # keep reading the request log so the server never blocks on a full pipe
        threading.Thread(target=process.stdout.read, daemon=True).start()
        (deb,) = (folder / "repo").rglob("*.deb")
        version = deb.name.split("_")[1]
        assert version.startswith(chrome_repo.VERSION + ".")
        yield chrome_repo.ChromeRepo(folder / "repo", url_file.read_text().strip(), version)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _apt_argv(root: Path, tool: str = "apt-get") -> list[str]:
    """apt-get with its own sources, lists and cache under `root` (this machine is untouched)."""
    options = [
        f"Dir::Etc::SourceList={root}/sources.list",
        "Dir::Etc::SourceParts=/nonexistent",
        f"Dir::State::Lists={root}/lists",
        f"Dir::Cache={root}/cache",
        f"Dir::State::Status={root}/status",
        "Debug::NoLocking=true",
        "APT::Sandbox::User=root",  # pytest's tmp folders are private to root
    ]
    return [tool, "-q"] + [part for option in options for part in ("-o", option)]


def _apt(root: Path, *args: str, tool: str = "apt-get") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_apt_argv(root, tool), *args], cwd=root, capture_output=True, text=True, check=False
    )


def test_apt_verifies_the_repository_with_the_served_key_and_fetches_the_package(
    served: chrome_repo.ChromeRepo, tmp_path: Path
) -> None:
    armored = urllib.request.urlopen(served.key_url, timeout=10).read()
    assert armored.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    keyring = tmp_path / "google-chrome.gpg"
    subprocess.run(
        ["gpg", "--batch", "--no-options", "--homedir", "/nonexistent", "--dearmor",
         "--output", str(keyring)],
        input=armored, check=True, capture_output=True,
    )  # fmt: skip
    for folder in ("lists/partial", "cache/archives/partial"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "status").write_text("")
    sources = tmp_path / "sources.list"

    sources.write_text(f"deb [signed-by={tmp_path}/other.gpg] {served.repo_url} stable main\n")
    (tmp_path / "other.gpg").write_bytes(b"")
    refused = _apt(tmp_path, "update")  # a repository signed by another key is refused
    assert "NO_PUBKEY" in refused.stdout + refused.stderr, refused

    sources.write_text(f"deb [signed-by={keyring}] {served.repo_url} stable main\n")
    updated = _apt(tmp_path, "update")
    assert updated.returncode == 0 and "W:" not in updated.stdout + updated.stderr, updated
    shown = _apt(tmp_path, "show", "google-chrome-stable", tool="apt-cache")
    assert "Depends: chromium" in shown.stdout, shown
    downloaded = _apt(tmp_path, "download", "google-chrome-stable")
    assert downloaded.returncode == 0, downloaded.stderr
    (deb,) = tmp_path.glob("google-chrome-stable_*.deb")
    assert deb.read_bytes() == served.package.read_bytes()


def test_the_package_installs_chrome_where_chrome_lives_and_launches_chromium(
    served: chrome_repo.ChromeRepo, tmp_path: Path
) -> None:
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(served.package)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^-rwxr-xr-x root/root .* \./opt/google/chrome/chrome$", listing, re.M)
    assert "./usr/bin/google-chrome-stable -> /opt/google/chrome/google-chrome" in listing
    subprocess.run(["dpkg-deb", "--extract", str(served.package), str(tmp_path)], check=True)
    launcher = (tmp_path / "opt/google/chrome/chrome").read_text()
    assert 'exec /usr/bin/chromium "$@"' in launcher


def test_its_postinst_writes_the_same_apt_source_as_the_role(
    served: chrome_repo.ChromeRepo, tmp_path: Path
) -> None:
    """The role writes Chrome's source only when it is missing; the package then owns it.
    Both must write the same text, or every deploy would fight the package."""
    subprocess.run(["dpkg-deb", "--control", str(served.package), str(tmp_path)], check=True)
    postinst = (tmp_path / "postinst").read_text()
    arch = chrome_repo.architecture()
    expected = chrome_repo.sources_file(served.repo_url, arch)
    assert expected in postinst

    role_text = CHROME_TASKS.read_text()
    block = role_text.split("content: |\n", 1)[1].split("  register:", 1)[0]
    rendered = "\n".join(line.removeprefix("      ") for line in block.splitlines()) + "\n"
    rendered = (
        rendered.replace("{{ gphotos_browser_chrome_repo_url }}", served.repo_url)
        .replace("{{ __gphotos_browser_deb_architecture }}", arch)
        .replace("{{ __gphotos_browser_chrome_keyring }}", chrome_repo.CHROME_KEYRING)
    )
    assert rendered == expected
    assert "rm -f /etc/apt/sources.list.d/google-chrome.list" in postinst
