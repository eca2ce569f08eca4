"""The one file digest and the one directory fsync every layer uses."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from pathlib import Path

import pytest

from dashcam import files
from dashcam.files import file_digest, fsync_dir


def test_file_digest_streams_any_algorithm(tmp_path: Path) -> None:
    blob = os.urandom(3 << 20)  # more than one read
    p = tmp_path / "blob"
    p.write_bytes(blob)
    assert file_digest(p) == hashlib.sha256(blob).hexdigest()
    assert file_digest(str(p), "md5") == hashlib.md5(blob).hexdigest()


def test_fsync_dir_on_a_real_directory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a.part").write_bytes(b"x")
    os.replace(tmp_path / "a.part", tmp_path / "a")
    with caplog.at_level(logging.WARNING, logger="dashcam.files"):
        fsync_dir(tmp_path)
    assert caplog.records == []


def test_a_file_system_that_refuses_is_said_once_and_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Some SMB and FUSE mounts answer EINVAL to a directory fsync; none can be mounted here, so os.fsync
    answers as they do."""

    def refuse(fd: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(files.os, "fsync", refuse)
    monkeypatch.setattr(files, "_told", set())
    with caplog.at_level(logging.WARNING, logger="dashcam.files"):
        fsync_dir(tmp_path)
        fsync_dir(tmp_path)
    assert len(caplog.records) == 1 and "refuses fsync on a directory" in caplog.text


def test_an_io_error_is_not_tolerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output"):
        fsync_dir(tmp_path)
