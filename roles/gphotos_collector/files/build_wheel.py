"""Build the gphotos-collector wheel on the control node, byte for byte reproducibly.

Run by the gphotos_collector role with the controller's Python:

    build_wheel.py SOURCE_DIR OUT_DIR

prints one JSON object: {"wheel": PATH, "name": FILE_NAME, "sha256": HEX}.
The same source gives the same bytes, so copying the wheel to a server is
idempotent and a second deploy reports no change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Zip entries carry this date instead of the build time (1980-01-01, the
# earliest a zip can hold): the wheel's bytes depend on its content only.
REPRODUCIBLE_EPOCH = "315532800"

# Build leftovers and caches of a working checkout never go into the wheel.
IGNORED_IN_SOURCE = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*"
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_wheel(source: Path, out_dir: Path) -> Path:
    """Build from a clean copy of SOURCE so stale files in build/ cannot leak in."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="gphotos-collector-build-") as scratch:
        tree = Path(scratch) / "source"
        shutil.copytree(source, tree, ignore=IGNORED_IN_SOURCE)
        environment = dict(os.environ, SOURCE_DATE_EPOCH=REPRODUCIBLE_EPOCH, PYTHONHASHSEED="0")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-input",
                "--disable-pip-version-check",
                "--quiet",
                "--wheel-dir",
                str(out_dir),
                str(tree),
            ],
            check=True,
            env=environment,
            # pip's chatter goes to stderr so stdout stays one JSON object.
            stdout=sys.stderr,
        )
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {out_dir}, found {len(wheels)}")
    return wheels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the collector's source (collector/)")
    parser.add_argument("out_dir", type=Path, help="where to put the wheel")
    arguments = parser.parse_args()
    if not (arguments.source / "pyproject.toml").is_file():
        raise SystemExit(f"{arguments.source} has no pyproject.toml: not the collector's source")
    wheel = build_wheel(arguments.source.resolve(), arguments.out_dir.resolve())
    print(json.dumps({"wheel": str(wheel), "name": wheel.name, "sha256": sha256_of(wheel)}))


if __name__ == "__main__":
    main()
