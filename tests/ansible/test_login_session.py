"""The gphotos_login role's session program (roles/gphotos_login/files/login_session.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from gphotos_collector import browser

SESSION = Path(__file__).parents[2] / "roles" / "gphotos_login" / "files" / "login_session.py"


def load_session() -> ModuleType:
    spec = importlib.util.spec_from_file_location("login_session", SESSION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_session_uses_the_contracts_portable_profile_flags() -> None:
    # The server's python3 runs the program without the collector: the flags are copied.
    assert load_session().PORTABLE_PROFILE_FLAGS == browser.PORTABLE_PROFILE_FLAGS


def test_the_password_manager_is_turned_off_and_other_preferences_are_kept(
    tmp_path: Path,
) -> None:
    session = load_session()
    preferences = tmp_path / "Default" / "Preferences"
    preferences.parent.mkdir()
    preferences.write_text(json.dumps({"profile": {"name": "Alice"}, "homepage": "x"}))
    session.keep_passwords_out(tmp_path)
    written = json.loads(preferences.read_text())
    assert written["credentials_enable_service"] is False
    assert written["profile"] == {"name": "Alice", "password_manager_enabled": False}
    assert written["homepage"] == "x"


def test_a_new_profile_gets_the_preference_too(tmp_path: Path) -> None:
    session = load_session()
    session.keep_passwords_out(tmp_path / "profile")
    preferences = tmp_path / "profile" / "Default" / "Preferences"
    assert json.loads(preferences.read_text())["credentials_enable_service"] is False
