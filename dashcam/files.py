"""File helpers every layer shares: a file's digest, and a directory's fsync after a rename into it."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# What a file system answers when it does not do fsync on a directory (some SMB and FUSE mounts): the rename
# is still atomic there, only its survival of a power cut is up to the server.
_REFUSED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EACCES, errno.EPERM}
_told: set[int | None] = set()  # file systems (st_dev) already reported


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (sha256 unless told), streamed."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a directory, so a rename into it survives a power cut. A file system that refuses is said once
    in the log and otherwise tolerated; any other failure (EIO) raises."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        _refused(directory, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        _refused(directory, exc)
    finally:
        os.close(fd)


def _refused(directory: str | os.PathLike[str], exc: OSError) -> None:
    if exc.errno not in _REFUSED:
        raise exc
    try:
        dev: int | None = Path(directory).stat().st_dev
    except OSError:
        dev = None
    if dev not in _told:
        _told.add(dev)
        log.warning(
            "%s: this file system refuses fsync on a directory (%s): renames there stay atomic, but their "
            "survival of a power cut is up to the file system",
            directory,
            exc.strerror or exc,
        )
