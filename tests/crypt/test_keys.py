"""Where the keys come from: a key file only its owner reads, strong keys only, one switch that refuses to
run without keys, and messages that name a key's source but never hold the key."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from dashcam.config import load_config
from dashcam.crypt.checks import check, tls_warning
from dashcam.crypt.keys import KeyProblem, archive_key, database_key, describe, read_key_file
from dashcam.settings import Settings


def _config(tmp_path: Path, encryption: dict[str, object] | None = None, **env: str):  # type: ignore[no-untyped-def]
    cfg_dir = tmp_path / "etc"
    cfg_dir.mkdir(exist_ok=True)
    (cfg_dir / "config.json").write_text(json.dumps({"encryption": encryption or {}}))
    base = {"DASHCAM_CONFIG_DIR": str(cfg_dir), "DASHCAM_DATA_DIR": str(tmp_path / "data"), **env}
    return load_config(Settings.from_env(base))


def _key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "etc" / "db.key"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_off_by_default(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert database_key(cfg) is None and archive_key(cfg) is None
    assert describe(cfg) == {"database": "off", "archive": "off"}


def test_a_key_file_must_be_private(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    path = _key_file(tmp_path, secret, 0o640)
    cfg = _config(tmp_path, {"db_key_file": "db.key"})  # relative to the config directory
    with pytest.raises(KeyProblem, match=r"readable by others \(mode 0640\): chmod 600 .*db.key") as err:
        database_key(cfg)
    assert secret not in str(err.value)
    path.chmod(0o600)
    key = database_key(cfg)
    assert key is not None and key.source == str(path) and secret not in repr(key)


def test_a_key_file_is_one_line_in_a_regular_file(tmp_path: Path) -> None:
    _key_file(tmp_path, "first-line-0123456789abcdef\nsecond")
    with pytest.raises(KeyProblem, match="must hold one line"):
        read_key_file(tmp_path / "etc" / "db.key")
    link = tmp_path / "etc" / "link.key"
    link.symlink_to(tmp_path / "etc" / "db.key")
    with pytest.raises(KeyProblem, match="cannot read the key file"):
        read_key_file(link)


@pytest.mark.parametrize("weak", ["short", "aaaaaaaaaaaaaaaaaaaaaaaa", "password"])
def test_weak_keys_are_refused_without_echoing_them(tmp_path: Path, weak: str) -> None:
    cfg = _config(tmp_path, DASHCAM_DB_KEY=weak)
    with pytest.raises(KeyProblem, match="DASHCAM_DB_KEY") as err:
        database_key(cfg)
    assert weak not in str(err.value)


def test_the_switch_without_keys_refuses(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"enabled": True})
    with pytest.raises(KeyProblem, match="encryption.enabled is on: set DASHCAM_DB_KEY"):
        database_key(cfg)
    with pytest.raises(KeyProblem, match="encryption.enabled is on: set DASHCAM_ARCHIVE_KEY"):
        archive_key(cfg)
    problems, _ = check(cfg)
    assert len(problems) == 2


def test_one_string_for_both_still_gives_two_keys(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    cfg = _config(tmp_path, DASHCAM_DB_KEY=secret, DASHCAM_ARCHIVE_KEY=secret)
    db, arch = database_key(cfg), archive_key(cfg)
    assert db is not None and arch is not None and db.secret != arch.secret
    said = json.dumps(describe(cfg))
    assert "on: SQLCipher, key from DASHCAM_DB_KEY" in said and "on: AES-256-GCM" in said
    assert secret not in said and db.secret.hex() not in said


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("postgresql+psycopg://u:pw@db.lan/dashcam", True),
        ("postgresql+psycopg://u:pw@10.0.0.5:5432/dashcam?sslmode=prefer", True),
        ("postgresql+psycopg://u:pw@db.lan/dashcam?sslmode=require", False),
        ("postgresql+psycopg://u:pw@db.lan/dashcam?sslmode=verify-full", False),
        ("postgresql+psycopg://u:pw@127.0.0.1/dashcam", False),
        ("postgresql+psycopg://u:pw@[::1]/dashcam", False),
        ("postgresql+psycopg://u:pw@/dashcam?host=/run/postgresql", False),
        ("sqlite:////data/dashcam.db", False),
    ],
)
def test_postgresql_over_the_network_without_tls_is_warned_about(url: str, warned: bool) -> None:
    said = tls_warning(url)
    assert (said is not None) == warned
    if said:
        assert "pw" not in said.replace("password", "") and "sslmode=require" in said
