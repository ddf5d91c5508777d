"""`--config FILE`: any option of any command from a private TOML file.

A key is an option's long name with underscores (`account_index = 1`,
`ping_url = "..."`). Options given on the command line win over the file. A
key that no command knows is an error naming it, so a typo never passes
silently; a key that only another command knows is ignored, so one file
serves `run`, `check` and `status` alike. Relative paths in the file are
taken from the file's own folder. The file may hold secrets (ping URL, ping
key, API key), so a file that other users can read or write is refused.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from gphotos_collector.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

F = TypeVar("F", bound=Callable[..., Any])

# Group and world read/write: any of these lets another user see or change secrets.
SHARED_PERMISSIONS = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH
# Options that make no sense in a file (they are about the invocation itself).
NOT_IN_FILE = frozenset({"config", "help", "version"})


def read_private_file(path: Path, what: str) -> bytes:
    """Read a file that may hold secrets; refuse it if other users can read or write it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise UsageError(f"{what} {path} cannot be read by this user (permission denied)") from None
    except OSError as error:
        raise UsageError(f"{what} {path} cannot be opened: {error.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())  # the file we read, not whatever the path names later
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & SHARED_PERMISSIONS:
            raise UsageError(
                f"{what} {path} is readable or writable by other users (mode {mode:04o}); "
                f"it may hold secrets (ping URL, ping key, API key), so it is not used. "
                f"Run `chmod 600 {path}` and try again."
            )
        return file.read()


def load_config(path: Path) -> dict[str, Any]:
    """The key/value pairs of a config file (checked to be private, valid TOML, flat)."""
    data = read_private_file(path, "config file")
    try:
        values: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path} is not valid TOML: {error}") from None
    for key, value in values.items():
        if isinstance(value, dict):
            raise UsageError(
                f"config file {path}: [{key}] is a table; write each option as a top-level "
                f"line like `{key}_option = value` (options are not grouped in tables)"
            )
    return values


def option_keys(command: click.Command) -> dict[str, click.Parameter]:
    """Config key -> option of one command: the option's long name with underscores."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in NOT_IN_FILE:
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                keys[opt[2:].replace("-", "_")] = param
    return keys


def _all_commands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _all_commands(sub)


def known_keys(root: click.Command) -> set[str]:
    """Every key any command of the tool understands."""
    return {key for command in _all_commands(root) for key in option_keys(command)}


def _resolve_path(value: Any, param: click.Parameter, base: Path) -> Any:
    """A relative path in the file is relative to the file, not to cron's working dir."""
    if isinstance(param.type, click.Path) and isinstance(value, str) and value:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else base / path)
    return value


def defaults_from_config(ctx: click.Context, path: Path) -> dict[str, Any]:
    """The default_map a command gets from the file (its own keys, by parameter name)."""
    values = load_config(path)
    known = known_keys(ctx.find_root().command)
    for key in values:
        if key in known:
            continue
        if key.replace("-", "_") in known:
            raise UsageError(
                f"config file {path}: write `{key.replace('-', '_')}`, not `{key}` "
                f"(keys use underscores)"
            )
        raise UsageError(
            f"config file {path}: unknown key `{key}`: no gphotos-collector command has an "
            f"option --{key.replace('_', '-')}"
        )
    own = option_keys(ctx.command)
    base = path.resolve().parent
    return {
        own[key].name: _resolve_path(value, own[key], base)
        for key, value in values.items()
        if key in own and own[key].name is not None
    }


def _apply_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is None or ctx.resilient_parsing:
        return value
    ctx.default_map = {**(ctx.default_map or {}), **defaults_from_config(ctx, value)}
    return value


def config_option(func: F) -> F:
    """`--config FILE`: read before the other options, which it supplies as defaults."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_apply_config,
        help="TOML file of options (key = option name with underscores); must be chmod 600.",
    )(func)
