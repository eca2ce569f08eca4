"""DASHCAM_SECRET_KEY: refused when missing, short, well known or plainly low in entropy."""

from __future__ import annotations

import secrets

import pytest

from dashcam.settings import MIN_SECRET_BITS, Settings, SettingsError, estimated_bits


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
