"""Import clips from a folder (an SD card, a viofosync download folder) with the camera's rules.

Each clip is copied to ``<name>.part`` while hashed, read back and hashed again, then renamed: the
destination never shows a partial clip. A clip already in the destination with the same content is
skipped, so importing the same folder twice does nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dashcam.camera.fsutil import HASH_CHUNK, landing_paths, open_part, publish
from dashcam.camera.listing import Rejected
from dashcam.camera.names import ClipName, HostileName, is_video_name, parse_clip_name
from dashcam.files import file_digest
from dashcam.storage import NO_SPACE_ERRNOS
from dashcam.video.mp4box import Mp4Error, check_complete

log = logging.getLogger(__name__)

# An import's copy in progress: unlike a camera download's ``.part`` it is never resumed, so one left by a
# process that died is removed at the next start (:func:`remove_stale_copies`).
COPY_SUFFIX = ".copying"


class ImportFailed(OSError):
    """A clip could not be copied and verified (the message names the file and the problem)."""


@dataclass(frozen=True)
class ImportedFile:
    """A clip now in the destination, with the hash it was verified against."""

    source: Path
    path: Path
    sha256: str
    size: int
    clip: ClipName


@dataclass
class ImportReport:
    """What one import did; keys of ``skipped``/``failed`` are source paths relative to the source folder."""

    imported: list[ImportedFile] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # sources removed by move=True
    warnings: list[str] = field(default_factory=list)
    # entries named like clips that were passed over, and why, one line each for the user: a link, a
    # FIFO, a folder, a file still being written
    passed_over: dict[str, str] = field(default_factory=dict)


def _walk(src: Path, dest: Path, report: ImportReport) -> list[Path]:
    """Every file under ``src`` in a stable order, not descending into ``dest`` or hidden folders; a
    folder named like a clip is reported, not entered silently."""
    found: list[Path] = []
    for root, dirs, files in os.walk(src, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != dest.resolve())
        for d in dirs:
            if is_video_name(d):
                report.passed_over[str((here / d).relative_to(src))] = "a folder, not a clip"
        found.extend(here / f for f in sorted(files))
    return found


_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link (links are not followed)"),
    (stat.S_ISFIFO, "a FIFO (named pipe), not a file"),
    (stat.S_ISSOCK, "a socket, not a file"),
    (stat.S_ISCHR, "a device, not a file"),
    (stat.S_ISBLK, "a device, not a file"),
    (stat.S_ISDIR, "a folder, not a clip"),
)


def not_regular(path: Path) -> str | None:
    """Why ``path`` is not a regular file we may open (never following a link), or None if it is one."""
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return next((why for test, why in _NOT_REGULAR if test(mode)), None)


def _settled(
    candidates: list[tuple[Path, str]], stable_s: float, report: ImportReport, sleep: Callable[[float], None]
) -> list[tuple[Path, str]]:
    """The candidates whose size and time have not changed for ``stable_s`` seconds. Files written
    that recently are looked at again after the wait; one that changed meanwhile is still being written
    (a copy in progress, a slow network share) and left for the next run."""
    now = time.time()
    seen = {p: p.stat() for p, _ in candidates}
    recent = [p for p, st in seen.items() if now - st.st_mtime < stable_s]
    if not recent:
        return candidates
    sleep(max(0.0, max(seen[p].st_mtime for p in recent) + stable_s - time.time()))
    moving = set()
    for p in recent:
        st = p.stat()
        if (st.st_size, st.st_mtime_ns) != (seen[p].st_size, seen[p].st_mtime_ns):
            moving.add(p)
    for p, rel in candidates:
        if p in moving:
            report.passed_over[rel] = "still being written: left for the next run"
    return [(p, rel) for p, rel in candidates if p not in moving]


def _copy_verified(source: Path, part: Path) -> tuple[str, int]:
    """Copy ``source`` to ``part`` hashing it, read ``part`` back; return (sha256, size)."""
    before = source.stat().st_size
    h = hashlib.sha256()
    with open(source, "rb") as fin, os.fdopen(open_part(part, truncate=True), "ab") as fout:
        while chunk := fin.read(HASH_CHUNK):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    size = part.stat().st_size
    if size != before or source.stat().st_size != before:
        raise ImportFailed(f"{source}: changed size while being copied ({before} -> {size} bytes)")
    digest = h.hexdigest()
    if file_digest(part) != digest:
        raise ImportFailed(f"{source}: copy does not read back the same (sha256 mismatch)")
    return digest, size


def _import_one(
    source: Path,
    rel: str,
    dest: Path,
    move: bool,
    report: ImportReport,
    already_have: Callable[[Path, int], bool] | None = None,
) -> None:
    name = source.name
    try:
        final, part = landing_paths(dest, name, suffix=COPY_SUFFIX)
    except (HostileName, ValueError) as exc:
        report.rejected.append(Rejected(rel, str(exc)))
        return
    try:
        check_complete(source)
    except Mp4Error as exc:
        report.skipped[rel] = f"unfinished MP4: {exc}"
        return
    st = source.stat()
    if already_have is not None and already_have(source, st.st_size):
        report.skipped[rel] = "already registered"
        return
    if final.exists():
        if final.stat().st_size == st.st_size and file_digest(final) == file_digest(source):
            report.skipped[rel] = "already imported"
            if move:
                source.unlink()
                report.removed.append(source)
        else:
            report.failed[rel] = f"{rel}: {final} already exists with different content"
        return
    try:
        digest, size = _copy_verified(source, part)
    except ImportFailed as exc:
        part.unlink(missing_ok=True)
        report.failed[rel] = str(exc)
        return
    except BaseException:
        part.unlink(missing_ok=True)  # a full disk, Ctrl-C: no half copy is left to fill it
        raise
    mtime = datetime.fromtimestamp(st.st_mtime)
    publish(part, final, mtime=mtime)
    if move:
        source.unlink()
        report.removed.append(source)
    clip = parse_clip_name(name, fallback_time=mtime)
    report.imported.append(ImportedFile(source, final, digest, size, clip))
    log.info("%s: imported as %s", rel, final)


def import_folder(
    src_dir: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    move: bool = False,
    already_have: Callable[[Path, int], bool] | None = None,
    stable_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportReport:
    """Import every camera clip under ``src_dir`` into ``dest_dir``; ``move`` removes verified sources.

    ``already_have(path, size)`` lets the caller skip clips it registered before (no copy, no hash).
    """
    src, dest = Path(src_dir), Path(dest_dir)
    if not src.is_dir():
        raise NotADirectoryError(f"{src}: not a folder to import from")
    dest.mkdir(parents=True, exist_ok=True)
    if src.resolve() == dest.resolve():
        raise ValueError(f"{src}: source and destination are the same folder")
    report = ImportReport()
    found = [(p, str(p.relative_to(src))) for p in _walk(src, dest, report)]
    for source, rel in _settled(_candidates(found, report), stable_s, report, sleep):
        _consider(source, rel, dest, move, report, already_have)
    return report


def import_files(
    paths: Iterable[str | os.PathLike[str]],
    dest_dir: str | os.PathLike[str],
    *,
    move: bool = False,
    already_have: Callable[[Path, int], bool] | None = None,
    stable_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportReport:
    """Import single clips into ``dest_dir`` with the same checks as a folder (each reported by its path)."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    report = ImportReport()
    found = []
    for p in paths:
        source = Path(p)
        if not source.exists() and not source.is_symlink():
            report.failed[str(p)] = f"{p}: no such file"
        elif source.parent.resolve() == dest.resolve():
            report.failed[str(p)] = f"{p}: already in the incoming folder"
        else:
            found.append((source, str(p)))
    for source, rel in _settled(_candidates(found, report), stable_s, report, sleep):
        _consider(source, rel, dest, move, report, already_have)
    return report


def _candidates(found: list[tuple[Path, str]], report: ImportReport) -> list[tuple[Path, str]]:
    """The regular, visible video files among ``found``; the rest skipped, each with its reason."""
    out = []
    for source, rel in found:
        if source.name.startswith("."):
            report.skipped[rel] = "hidden file"  # macOS "._" companions, .Trashes and the like
        elif (why := not_regular(source)) is not None:
            (report.passed_over if is_video_name(source.name) else report.skipped)[rel] = why
        elif source.name.endswith(".part"):
            report.skipped[rel] = "unfinished download (.part)"
        elif not is_video_name(source.name):
            report.skipped[rel] = "not a video"
        else:
            out.append((source, rel))
    return out


def _consider(
    source: Path,
    rel: str,
    dest: Path,
    move: bool,
    report: ImportReport,
    already_have: Callable[[Path, int], bool] | None,
) -> None:
    """One candidate clip: skipped with the reason, failed with the reason, or imported."""
    try:
        _import_one(source, rel, dest, move, report, already_have)
    except OSError as exc:
        if exc.errno in NO_SPACE_ERRNOS:
            raise  # every file after this one would fail the same way
        report.failed[rel] = f"{rel}: {exc}"


def remove_stale_copies(dest_dir: str | os.PathLike[str]) -> int:
    """Remove copies an import left when its process died (call it only while no other import runs)."""
    n = 0
    for p in Path(dest_dir).glob(f"*{COPY_SUFFIX}"):
        if p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            n += 1
    return n
