"""infra/encrypted-pgdata.sh, the host side of PostgreSQL's encryption at rest, run for real where it can be:
the LUKS format on an image file (no device mapper needed) with real cryptsetup, and the ZFS commands as a
dry run (no ZFS here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import need

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "encrypted-pgdata.sh"


def _run(*args: str, key: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={"PATH": os.environ["PATH"] + ":/usr/sbin:/sbin", "KEY_FILE": str(key), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cryptsetup() -> str:
    path = shutil.which("cryptsetup", path=os.environ["PATH"] + ":/usr/sbin:/sbin")
    if path is None:
        need("cryptsetup (Debian: cryptsetup-bin)")
    return str(path)


def test_luks_volume_with_a_private_key_file(tmp_path: Path, cryptsetup: str) -> None:
    image, key = tmp_path / "disk.img", tmp_path / "keys" / "pgdata.key"
    with image.open("wb") as f:
        f.truncate(32 << 20)
    res = _run("luks", str(image), key=key, FORMAT_ONLY="1")
    assert res.returncode == 0, res.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o400" and key.stat().st_size == 64
    dump = subprocess.run(
        [cryptsetup, "luksDump", str(image)], capture_output=True, text=True, check=True
    ).stdout
    assert "Version:       \t2" in dump and "aes-xts-plain64" in dump and "512 bits" in dump
    opens = [cryptsetup, "open", "--test-passphrase", "--key-file"]
    assert subprocess.run([*opens, str(key), str(image)]).returncode == 0
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(64))
    assert subprocess.run([*opens, str(other), str(image)], capture_output=True).returncode != 0
    assert key.read_bytes() not in image.read_bytes()

    # a second run must never format a volume that holds something
    header = image.read_bytes()[:65536]
    again = _run("luks", str(image), key=key, FORMAT_ONLY="1")
    assert again.returncode == 1 and "refusing to format" in again.stderr
    assert image.read_bytes()[:65536] == header


def test_a_key_file_others_can_read_is_refused(tmp_path: Path, cryptsetup: str) -> None:
    image, key = tmp_path / "disk.img", tmp_path / "pgdata.key"
    with image.open("wb") as f:
        f.truncate(32 << 20)
    key.write_bytes(os.urandom(64))
    key.chmod(0o644)
    res = _run("luks", str(image), key=key, FORMAT_ONLY="1")
    assert res.returncode == 1 and "readable by others" in res.stderr
    assert image.read_bytes()[:4096] == bytes(4096)  # untouched


def test_zfs_dataset_is_encrypted_with_a_raw_key(tmp_path: Path) -> None:
    key = tmp_path / "zfs.key"
    res = _run("zfs", "tank", "--dry-run", key=key, PGDATA_MOUNT="/srv/pgdata")
    assert res.returncode == 0, res.stderr
    (create,) = [line for line in res.stdout.splitlines() if line.startswith("+ zfs create")]
    for opt in (
        "encryption=aes-256-gcm",
        "keyformat=raw",
        f"keylocation=file://{key}",
        "mountpoint=/srv/pgdata",
    ):
        assert f"-o {opt}" in create
    assert create.endswith(" tank/pgdata") and not key.exists()  # a dry run makes nothing
