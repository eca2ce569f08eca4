"""The archive area: objects sealed on the way in when an archive key is in force, opened on the way out.

:class:`SealedArea` is an :class:`~dashcam.storage.Area` whose ``size``, ``sha256`` and ``open`` speak of the
plain text, so the archive stage's verification (size and sha256 against the media row), retention's check
before it deletes a heavy_output copy, and the web UI's serving work unchanged on sealed objects, and on the
plain objects written before encryption was turned on (each object says which it is in its first bytes).
Verification decrypts every chunk, so every tag of every object is checked.

The key is looked up only when an object must be sealed or a sealed one opened: without encryption, nothing
here reads a key, and a plain object never needs one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dashcam.crypt.keys import Key
from dashcam.crypt.sealed import MAGIC, SealedReader, is_sealed, rewrap, seal_stream
from dashcam.storage import TMP_MARK, Area, StorageError, check_key


class KeySource:
    """The archive key in force, looked up once when first needed (a lookup that fails is tried again)."""

    def __init__(self, resolve: Callable[[], Key | None]) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self._key: Key | None = None
        self._found = False

    def get(self) -> Key | None:
        with self._lock:
            if not self._found:
                self._key = self._resolve()
                self._found = True
            return self._key


@dataclass(frozen=True)
class SealedArea(Area):
    key_source: KeySource = field(default_factory=lambda: KeySource(lambda: None), compare=False, repr=False)

    def where(self, key: str) -> str:
        return f"{self.name}/{key}"

    # ---------------------------------------------------------------- reading
    def raw_open(self, key: str) -> IO[bytes]:
        """The stored bytes, sealed or not."""
        return Area.open(self, key)

    def sealed(self, key: str) -> bool:
        with self.raw_open(key) as f:
            return is_sealed(f.read(len(MAGIC)))

    def open(self, key: str) -> IO[bytes]:
        """The object's plain text (a sealed one is decrypted chunk by chunk as it is read)."""
        raw = self.raw_open(key)
        try:
            if not is_sealed(raw.read(len(MAGIC))):
                raw.seek(0)
                return raw
            return SealedReader(raw, self.key_source.get(), key, self.where(key))  # type: ignore[return-value]
        except BaseException:
            raw.close()
            raise

    def reader_for_fd(self, fd: int, key: str) -> SealedReader | None:
        """A reader of the sealed object behind an open descriptor (None: the object is plain). The
        descriptor then belongs to the reader."""
        if not is_sealed(os.pread(fd, len(MAGIC), 0)):
            return None
        raw = os.fdopen(fd, "rb")
        try:
            return SealedReader(raw, self.key_source.get(), key, self.where(key))
        except BaseException:
            raw.close()
            raise

    def size(self, key: str) -> int:
        """Plain-text size (a sealed object's header says it; its length is checked when it is opened)."""
        with self.open(key) as f:
            return f.size if isinstance(f, SealedReader) else Area.size(self, key)

    def sha256(self, key: str) -> str:
        """sha256 of the plain text; for a sealed object every chunk's tag is checked on the way."""
        h = hashlib.sha256()
        with self.open(key) as f:
            if isinstance(f, SealedReader):
                for part in f.verify():
                    h.update(part)
            else:
                while part := f.read(1 << 20):
                    h.update(part)
        return h.hexdigest()

    # ---------------------------------------------------------------- writing
    @contextmanager
    def atomic_path(self, key: str, scratch: Path | None = None) -> Iterator[Path]:
        if self.key_source.get() is None:
            with Area.atomic_path(self, key, scratch) as tmp:
                yield tmp
            return
        check_key(key)
        # the plain text is written where the stage works (scratch), never into the archive
        folder = scratch or Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"plain{TMP_MARK}{uuid.uuid4().hex}"
        try:
            yield tmp
            if not tmp.exists():
                raise StorageError(f"{self.where(key)}: nothing was written")
            self.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, src: str | os.PathLike[str], *, sha256: str | None = None) -> None:
        """Copy a local file in under ``key``, atomically; sealed when an archive key is in force. With
        ``sha256``, the sealed copy must read back as that before it takes the key's place."""
        sealing = self.key_source.get()
        if sealing is None:
            Area.put_file(self, key, src)
            return
        size = os.stat(src).st_size
        if self.is_local:
            with Area.atomic_path(self, key) as tmp:
                self._seal(src, tmp, size, sealing, key, sha256)
            return
        fd, name = tempfile.mkstemp(prefix=f"sealed{TMP_MARK}")
        os.close(fd)
        try:
            self._seal(src, Path(name), size, sealing, key, sha256)
            Area.put_file(self, key, name)
        finally:
            Path(name).unlink(missing_ok=True)

    def _seal(
        self, src: str | os.PathLike[str], dst: Path, size: int, sealing: Key, key: str, sha256: str | None
    ) -> None:
        with open(src, "rb") as plain, open(dst, "wb") as out:
            seal_stream(plain, out, size, sealing, key)
        if sha256 is None:
            return
        h = hashlib.sha256()
        with SealedReader(open(dst, "rb"), sealing, key, self.where(key)) as back:
            for part in back.verify():
                h.update(part)
        if h.hexdigest() != sha256:
            raise StorageError(f"{self.where(key)}: the sealed copy does not read back as its row")

    # ---------------------------------------------------------------- keys
    def rewrap(self, key: str, old: Key, new: Key) -> bool:
        """Re-wrap one sealed object's data key from ``old`` to ``new``, the media bytes untouched (local
        areas; through fsspec the object is uploaded again, the same ciphertext under a new header)."""
        if self.is_local:
            fd = self.open_regular(key)
            with os.fdopen(os.open(f"/proc/self/fd/{fd}", os.O_RDWR | os.O_CLOEXEC), "r+b") as f:
                os.close(fd)
                return rewrap(f, old, new, self.where(key))
        fd, name = tempfile.mkstemp(prefix=f"rewrap{TMP_MARK}")
        try:
            with os.fdopen(fd, "w+b") as f:
                with self.raw_open(key) as src:
                    shutil.copyfileobj(src, f)
                changed = rewrap(f, old, new, self.where(key))
            if changed:
                Area.put_file(self, key, name)
            return changed
        finally:
            Path(name).unlink(missing_ok=True)

    def seal_in_place(self, key: str, sha256: str | None) -> bool:
        """Seal an object written before encryption was on (False: sealed already). Its plain text must
        match ``sha256`` (its media row) before, and the sealed copy after, so a wrong file is never made
        permanent and a failed copy never replaces a good one."""
        if self.sealed(key):
            return False
        with tempfile.TemporaryDirectory(prefix="seal-") as tmpdir:
            plain = Path(tmpdir) / "plain"
            h = hashlib.sha256()
            with self.raw_open(key) as src, open(plain, "wb") as dst:
                while part := src.read(1 << 20):
                    h.update(part)
                    dst.write(part)
            if sha256 is not None and h.hexdigest() != sha256:
                raise StorageError(
                    f"{self.where(key)}: differs from its media row (sha256 {h.hexdigest()[:12]}), left as it is"
                )
            self.put_file(key, plain, sha256=h.hexdigest())
        return True
