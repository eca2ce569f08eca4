"""Landing files safely: ``.part`` files opened without following links, fsync, atomic rename."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

from dashcam.camera.names import safe_name
from dashcam.files import fsync_dir

PART_SUFFIX = ".part"
HASH_CHUNK = 1 << 20


def landing_paths(dest_dir: Path, name: str, *, suffix: str = PART_SUFFIX) -> tuple[Path, Path]:
    """(final, part) paths for ``name`` inside ``dest_dir``; the name must pass :func:`safe_name`."""
    safe_name(name)
    final = dest_dir / name
    # safe_name already rules out separators; this is the belt to its braces.
    if final.parent != dest_dir:
        raise ValueError(f"{name}: would land outside {dest_dir}")
    return final, dest_dir / (name + suffix)


def open_part(part: Path, *, truncate: bool = False) -> int:
    """Open ``part`` for appending, refusing a symlink planted there (it could point anywhere)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    if truncate:
        flags |= os.O_TRUNC
    return os.open(part, flags, 0o644)


def part_size(part: Path) -> int:
    """Bytes already in a ``.part`` file (0 when there is none or it is not a plain file)."""
    try:
        st = part.lstat()
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode):
        part.unlink()  # removes the link itself, never its target
        return 0
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(f"{part}: not a regular file, refusing to download over it")
    return st.st_size


def fsync_path(path: Path) -> None:
    """fsync a file's contents."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(part: Path, final: Path, *, mtime: datetime | None = None) -> Path:
    """fsync ``part``, give it ``mtime``, and rename it to ``final`` atomically."""
    if mtime is not None:
        ts = mtime.timestamp()
        os.utime(part, (ts, ts), follow_symlinks=False)
    fsync_path(part)
    os.replace(part, final)
    fsync_dir(final.parent)
    return final
