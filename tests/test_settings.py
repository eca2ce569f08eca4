"""DASHCAM_SECRET_KEY: refused when missing, short, well known or plainly low in entropy."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from dashcam.settings import (
    MIN_SECRET_BITS,
    Env,
    Settings,
    SettingsError,
    env_name,
    estimated_bits,
    read_env,
    table,
)


def _require(key: str) -> str:
    return Settings.from_env({"DASHCAM_SECRET_KEY": key}).require_secret_key()


@pytest.mark.parametrize(
    "weak",
    ["a" * 16, "a" * 64, "abcdabcdabcdabcd", "0123456789abcdef0123", "ab" * 20, "zyxwvutsrqponmlkjihgfedcba"],
)
def test_low_entropy_keys_are_refused_without_echoing_them(weak: str) -> None:
    with pytest.raises(SettingsError, match="looks guessable") as err:
        _require(weak)
    assert weak not in str(err.value)


@pytest.mark.parametrize("short", ["", "changeme", "0123456789"])
def test_short_or_known_keys_are_refused(short: str) -> None:
    with pytest.raises(SettingsError, match="at least 16 characters"):
        _require(short)


def test_random_keys_pass() -> None:
    for _ in range(200):
        for key in (secrets.token_urlsafe(32), secrets.token_urlsafe(24), secrets.token_hex(20)):
            assert estimated_bits(key) >= MIN_SECRET_BITS, key
            assert _require(key) == key


# The program's code: every DASHCAM_* name in it must be a declared variable. The shell scripts under infra/
# (compose's DASHCAM_DB_PASSWORD, the image builder's cache) and bench/ have their own, documented beside them.
_CODE = ["dashcam", "flows", "blocks", "webui"]


def _names_in_code() -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent
    found: dict[str, str] = {}
    for p in (p for d in _CODE for p in (root / d).rglob("*.py")):
        for name in re.findall(r"\bDASHCAM_[A-Z0-9_]*[A-Z0-9]\b", p.read_text()):
            found.setdefault(name, str(p.relative_to(root)))
    return found


def test_every_dashcam_variable_the_code_names_is_declared() -> None:
    declared = {env_name(n) for n in Env.model_fields}
    undeclared = {n: where for n, where in _names_in_code().items() if n not in declared}
    assert undeclared == {}, f"declare these in dashcam.settings.Env: {undeclared}"


def test_the_readme_table_is_the_class() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert table() in readme, "regenerate the README's table: python -m dashcam.settings"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DASHCAM_API_TOKEN_TTL_S", "-5", "greater than 0"),
        ("DASHCAM_HEARTBEAT_INTERVAL_S", "soon", "valid integer"),
        ("DASHCAM_STRICT_TESTS", "maybe", "valid boolean"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: .*{says}"):
        read_env({name: value})


def test_the_command_stops_with_one_line_on_a_bad_value(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHCAM_", "PREFECT_"))}
    env.update(DASHCAM_DATA_DIR=str(tmp_path / "data"), DASHCAM_API_TOKEN_TTL_S="an hour")
    dashcam = Path(sys.executable).with_name("dashcam")
    out = subprocess.run(
        [str(dashcam), "config", "show"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: DASHCAM_API_TOKEN_TTL_S: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_typed_values_reach_their_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    from webui.api.devices import heartbeat_interval
    from webui.api.security import token_ttl

    monkeypatch.setenv("DASHCAM_HEARTBEAT_INTERVAL_S", "15")
    monkeypatch.setenv("DASHCAM_API_TOKEN_TTL_S", "120")
    assert heartbeat_interval().total_seconds() == 15 and token_ttl().total_seconds() == 120
    monkeypatch.setenv("DASHCAM_API_TOKEN_TTL_S", "0")  # was silently one hour
    with pytest.raises(SettingsError, match="DASHCAM_API_TOKEN_TTL_S"):
        token_ttl()
