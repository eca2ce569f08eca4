"""Storage areas (raw, preproc, heavy_output, archive, scratch) and atomic writes.

Each area resolves, per device, to a local folder or an fsspec URL:

* empty config (the embedded default): ``DASHCAM_DATA_DIR/<area>``;
* an SMB share from the guide (``//nas-1/videos/``): the local mount point this device maps it to
  (``storage.mounts``), else ``smb://nas-1/videos/`` through fsspec (needs the ``nas`` extra);
* a local path, or any fsspec URL (``file://``, ``smb://``, ``s3://`` ...).

Keys are relative POSIX paths derived from the clip's content hash (see :func:`clip_key`), so a rerun
writes to the same place. Every write goes to a hidden temporary name first, is fsynced, then renamed:
a crash never leaves a partial file under a final name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from dashcam.config import Config, load_config
from dashcam.files import file_digest, fsync_dir

AreaName = Literal["raw", "preproc", "heavy_output", "archive", "scratch"]
AREAS: tuple[AreaName, ...] = ("raw", "preproc", "heavy_output", "archive", "scratch")
TMP_MARK = ".tmp-"
_HASH_CHUNK = 1 << 20


class StorageError(OSError):
    """A storage area is misconfigured or an operation on it failed."""


class BadKey(StorageError):
    """A storage key that could escape its area."""


def clip_key(content_hash: str, name: str) -> str:
    """Deterministic key of a file belonging to a clip: ``ab/abcdef0123456789/<name>``."""
    if not re.fullmatch(r"[0-9a-f]{16,64}", content_hash):
        raise BadKey(f"not a content hash: {content_hash!r}")
    return check_key(f"{content_hash[:2]}/{content_hash[:16]}/{name}")


def check_key(key: str) -> str:
    """Refuse keys that are absolute, climb out of the area, or hold odd characters."""
    if (
        not key
        or "\x00" in key
        or "\\" in key
        or "//" in key
        or key.startswith("/")
        or re.match(r"^[A-Za-z]:", key)
    ):
        raise BadKey(f"unsafe storage key {key!r}")
    parts = PurePosixPath(key).parts
    if any(p in ("..", ".", "") or p.startswith(".") for p in parts) or any(TMP_MARK in p for p in parts):
        raise BadKey(f"unsafe storage key {key!r}")
    return key


def _norm_share(s: str) -> str:
    s = s.replace("\\", "/")
    if s.startswith("smb://"):
        s = "//" + s[len("smb://") :]
    return s.rstrip("/").lower() + "/"


def resolve_location(location: str, mounts: dict[str, str]) -> str:
    """Map a configured location to a local path or an fsspec URL, honouring SMB mounts."""
    loc = location.strip()
    is_unc = loc.startswith(("//", "\\\\")) or loc.startswith("smb://")
    if is_unc:
        norm = _norm_share(loc)
        best = max((m for m in mounts if norm.startswith(_norm_share(m))), key=len, default=None)
        if best is not None:
            # keep the original case of the path below the share
            rest = _norm_share(loc)[len(_norm_share(best)) :]
            orig = loc.replace("\\", "/").rstrip("/") + "/"
            rest = orig[len(orig) - len(rest) :] if rest else ""
            return str(Path(mounts[best]) / rest) if rest else mounts[best]
        tail = loc.replace("\\", "/").lstrip("/").rstrip("/")
        return "smb://" + (tail[len("smb:") :].lstrip("/") if loc.startswith("smb://") else tail)
    if loc.startswith("file://"):
        return loc[len("file://") :]
    return loc


def _join(base: str, sub: str) -> str:
    sub_n = sub.replace("\\", "/")
    if not base or sub_n.startswith(("/", "//")) or "://" in sub_n or re.match(r"^[A-Za-z]:", sub):
        return sub
    return base.rstrip("/\\") + "/" + sub_n.lstrip("/")


@dataclass(frozen=True)
class Area:
    """One storage area on this device: a local folder or an fsspec URL."""

    name: str
    root: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.root

    # ---------------------------------------------------------------- addressing
    def path(self, key: str) -> Path:
        """Local path of a key (local areas only)."""
        if not self.is_local:
            raise StorageError(f"{self.name} area is remote ({self.root}); no local path")
        return Path(self.root) / check_key(key)

    def url(self, key: str) -> str:
        return str(self.path(key)) if self.is_local else self.root.rstrip("/") + "/" + check_key(key)

    def _fs(self) -> Any:
        import fsspec

        try:
            return fsspec.core.url_to_fs(self.root)[0]
        except ImportError as exc:
            raise StorageError(
                f"{self.name} area {self.root}: this URL needs an extra package ({exc}); "
                "install the [nas] extra or mount the share locally and map it in storage.mounts"
            ) from exc

    # ---------------------------------------------------------------- reading
    def exists(self, key: str) -> bool:
        return self.path(key).is_file() if self.is_local else bool(self._fs().isfile(self.url(key)))

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size if self.is_local else int(self._fs().size(self.url(key)))

    def open(self, key: str) -> IO[bytes]:
        return open(self.path(key), "rb") if self.is_local else self._fs().open(self.url(key), "rb")

    def open_regular(self, key: str) -> int:
        """A read-only descriptor of a regular file inside this local area, opened without following links.

        Whoever can write to a share can plant a symlink in it. Each folder on the way is opened relative
        to the one before with O_NOFOLLOW, so a link anywhere under the root (to a file or to a folder)
        is refused, and so is anything but a regular file (a FIFO, a device); the real path of the open
        file must lie under the root. The root itself is taken as configured (it may be a mount point).
        """
        if not self.is_local:
            raise StorageError(f"{self.name} area is remote ({self.root}); no local file")
        parts = check_key(key).split("/")
        root = os.path.realpath(self.root)
        nofollow = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise StorageError(f"{self.name} area {root}: {exc.strerror}") from None
        try:
            for part in parts[:-1]:
                inner = os.open(part, nofollow | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = inner
            # O_NONBLOCK: opening a FIFO planted under the key must not wait for a writer
            found = os.open(parts[-1], nofollow | os.O_NONBLOCK, dir_fd=fd)
        except OSError as exc:
            raise StorageError(f"{self.name}/{key}: not a plain file of the area ({exc.strerror})") from None
        finally:
            os.close(fd)
        problem = None
        if not stat.S_ISREG(os.fstat(found).st_mode):
            problem = "not a regular file"
        elif os.path.exists(proc := f"/proc/self/fd/{found}"):
            real = os.path.realpath(proc)
            if not real.startswith(root.rstrip(os.sep) + os.sep):
                problem = f"its real path {real} is outside the area"
        if problem:
            os.close(found)
            raise StorageError(f"{self.name}/{key}: {problem}")
        return found

    def sha256(self, key: str) -> str:
        if self.is_local:
            return file_digest(self.path(key))
        h = hashlib.sha256()
        with self.open(key) as f:
            while chunk := f.read(_HASH_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Final keys under a prefix (temporary files excluded)."""
        if self.is_local:
            base = Path(self.root)
            start = base / prefix if prefix else base
            if not start.exists():
                return
            for p in sorted(start.rglob("*")):
                rel = p.relative_to(base)
                if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield rel.as_posix()
            return
        fs = self._fs()
        root = self.root.rstrip("/")
        for p in sorted(fs.find(root + "/" + prefix if prefix else root)):
            rel = p[len(fs._strip_protocol(root)) :].lstrip("/")
            if not any(part.startswith(".") for part in rel.split("/")):
                yield rel

    # ---------------------------------------------------------------- writing
    @contextmanager
    def atomic_path(self, key: str, scratch: Path | None = None) -> Iterator[Path]:
        """Yield a temporary local path to write; on success it becomes ``key`` atomically."""
        check_key(key)
        if self.is_local:
            final = self.path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        else:
            sdir = scratch or Path(tempfile.gettempdir())
            sdir.mkdir(parents=True, exist_ok=True)
            tmp = sdir / f"upload{TMP_MARK}{uuid.uuid4().hex}"
        try:
            yield tmp
            if not tmp.exists():
                raise StorageError(f"{self.name}/{key}: nothing was written")
            if self.is_local:
                _fsync_file(tmp)
                os.replace(tmp, final)
                fsync_dir(final.parent)
            else:
                self.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.atomic_path(key) as tmp:
            tmp.write_bytes(data)

    def put_file(self, key: str, src: str | os.PathLike[str]) -> None:
        """Copy a local file into the area under ``key``, atomically."""
        if self.is_local:
            with self.atomic_path(key) as tmp:
                shutil.copyfile(src, tmp)
            return
        fs = self._fs()
        final = self.url(key)
        tmp_url = final.rsplit("/", 1)[0] + f"/.{final.rsplit('/', 1)[1]}{TMP_MARK}{uuid.uuid4().hex[:8]}"
        fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(src), tmp_url)
        fs.mv(tmp_url, final)

    def delete(self, key: str) -> bool:
        """Remove a key; True if it existed. Empty parent folders are pruned."""
        if not self.is_local:
            fs = self._fs()
            url = self.url(key)
            if not fs.exists(url):
                return False
            fs.rm(url)
            return True
        p = self.path(key)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        root = Path(self.root)
        parent = p.parent
        while parent != root and parent.is_relative_to(root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True

    def clean_temp(
        self, older_than_s: float = 3600.0, *, pid_dead: Callable[[int], bool] | None = None
    ) -> int:
        """Remove temporary files left by a crash (local areas): older than ``older_than_s``, or written by
        a process of this machine that ``pid_dead`` says is gone; returns how many went."""
        if not self.is_local or not Path(self.root).exists():
            return 0
        cutoff = time.time() - older_than_s
        n = 0
        for p in Path(self.root).rglob(f"*{TMP_MARK}*"):
            if not p.is_file() or p.is_symlink():
                continue
            pid = p.name.split(TMP_MARK, 1)[1].split("-", 1)[0]
            dead = pid_dead is not None and pid.isdigit() and pid_dead(int(pid))
            if dead or p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                n += 1
        return n


def _fsync_file(p: Path) -> None:
    with open(p, "rb") as f:
        os.fsync(f.fileno())


class Storage:
    """The storage areas as this device sees them."""

    def __init__(self, config: Config | None = None):
        self.config = config or load_config()
        data = self.config.settings.data_dir
        sp = self.config.global_config.storage_paths
        mounts = self.config.mounts()
        nas = sp.indoor_nas
        roots: dict[str, str] = {}
        for area, sub in (("raw", nas.raw), ("preproc", nas.preproc), ("heavy_output", nas.heavy_output)):
            roots[area] = resolve_location(_join(nas.base, sub), mounts) if nas.base else str(data / area)
        roots["archive"] = (
            resolve_location(sp.shed_nas.archive_base, mounts)
            if sp.shed_nas.archive_base
            else str(data / "archive")
        )
        scratch = self.config.device.storage.local_scratch
        roots["scratch"] = scratch or str(data / "scratch")
        self.areas = {name: Area(name, root) for name, root in roots.items()}
        # the archive seals what it stores when an archive key is in force, and opens what it sealed
        from dashcam.crypt.area import KeySource, SealedArea
        from dashcam.crypt.keys import archive_key

        config = self.config
        self.areas["archive"] = SealedArea(
            "archive", roots["archive"], KeySource(lambda: archive_key(config))
        )

    def __getitem__(self, name: str) -> Area:
        try:
            return self.areas[name]
        except KeyError:
            raise StorageError(f"unknown storage area {name!r} (areas: {', '.join(AREAS)})") from None

    @property
    def scratch_dir(self) -> Path:
        p = Path(self.areas["scratch"].root)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def describe(self) -> dict[str, str]:
        return {name: a.root for name, a in self.areas.items()}


# ---------------------------------------------------------------- a full disk

# A write that fails for these reasons fails again until someone frees space: never retried.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_NO_SPACE_TEXT = ("database or disk is full", "no space left on device", "read-only file system")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def no_space(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a disk that is full or read-only (SQLite says "database or
    disk is full", PyAV and the OS say ENOSPC)."""
    for e in _causes(exc):
        if isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS:
            return True
        if any(t in str(e).lower() for t in _NO_SPACE_TEXT):
            return True
    return False


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def where_full(places: dict[str, Path], exc: BaseException) -> str:
    """One line naming the place a failed write went to, and its free space: the place that holds the
    file the error names, else (SQLite names none) the one with the least room, e.g.
    ``heavy_output (/data/heavy_output) is full: 147 kB free``."""
    named = [
        Path(f).absolute()
        for e in _causes(exc)
        if isinstance(e, OSError)
        for f in (e.filename, e.filename2)
        if isinstance(f, (str, os.PathLike))
    ]
    readonly = any(isinstance(e, OSError) and e.errno == errno.EROFS for e in _causes(exc))
    free: dict[str, int] = {}
    for name, root in places.items():
        probe = root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            free[name] = shutil.disk_usage(probe).free
        except OSError:
            continue
    if "database or disk is full" in str(exc).lower() and "database" in free:
        pick = "database"
    else:
        holders = [n for n in free for f in named if f.is_relative_to(places[n])]
        # the deepest root holding the file (an area inside the data folder beats the data folder)
        pick = max(holders, key=lambda n: len(places[n].parts)) if holders else None
        if pick is None and free:
            pick = min(free, key=free.__getitem__)
    if pick is None:
        return f"a disk is full: {_causes_line(exc)}"
    if readonly:
        return f"{pick} ({places[pick]}) is read-only"
    return f"{pick} ({places[pick]}) is full: {human_bytes(free[pick])} free"


def _causes_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def local_places(storage: Storage, database_url: str) -> dict[str, Path]:
    """The local storage areas and the SQLite database's folder, by name: where a write can run out of room."""
    places = {name: Path(a.root) for name, a in storage.areas.items() if a.is_local}
    if database_url.startswith("sqlite:///"):
        places["database"] = Path(database_url.removeprefix("sqlite:///")).parent
    return places
