"""Sealed archive objects: AES-256-GCM in fixed-size chunks, one data key per object, wrapped by the archive key.

Layout (little-endian), 128 bytes of header then the chunks::

    magic "DCSEALv1" | chunk size u32 | plain size u64 | slot A | slot B | zeros to 128
    slot: key id (8 bytes) + the data key wrapped with AES key wrap, RFC 3394 (40 bytes); all zeros = empty
    chunk i: AES-256-GCM(data key, nonce = i as 12 bytes, aad = magic..plain size + i + storage key),
             chunk size bytes of plain text (the last one shorter; an empty object has one empty chunk) + tag

Why this shape:

* **Range requests** decrypt only the chunks they cover: chunk i starts at a computed offset.
* **Truncation, reordering, tampering, swapping** are refused: every tag covers the object's size, the chunk's
  index and the storage key, so a missing tail, a moved chunk, a changed byte or another object's file under
  this key each fail a tag check (:class:`ObjectDamaged`), and the file's length must be exactly the length
  its header implies.
* **Rekey without rewriting the media**: only a slot changes. The new wrapping goes into the free slot and is
  synced before the old slot is cleared, so a crash in between leaves an object both keys open.
* Nonces may count from zero: every object has a fresh random data key, never used for anything else.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import IO, Any

from dashcam.crypt.keys import EncryptionProblem, Key

MAGIC = b"DCSEALv1"
HEADER_LEN = 128
CHUNK = 64 * 1024
TAG = 16
_FIXED = struct.Struct("<8sIQ")  # magic, chunk size, plain size
_SLOT = 48
_SLOTS_AT = _FIXED.size
_WRAPPED = 40
_MAX_CHUNK = 16 << 20


class SealError(EncryptionProblem):
    """An archive object cannot be opened."""


class ObjectDamaged(SealError):
    """The object is truncated, tampered with or damaged: its bytes are never served."""


class ArchiveKeyNeeded(SealError):
    """The object is sealed and this process has no key that opens it."""


def is_sealed(head: bytes) -> bool:
    return head[: len(MAGIC)] == MAGIC


def sealed_size(plain_size: int, chunk: int = CHUNK) -> int:
    return HEADER_LEN + plain_size + _chunks(plain_size, chunk) * TAG


def _chunks(plain_size: int, chunk: int) -> int:
    return max(1, -(-plain_size // chunk))


def _nonce(i: int) -> bytes:
    return i.to_bytes(12, "big")


class Header:
    """The parsed header of a sealed object."""

    def __init__(self, raw: bytes, where: str) -> None:
        if len(raw) < HEADER_LEN or not is_sealed(raw):
            raise ObjectDamaged(f"{where}: not a sealed archive object (header cut short or overwritten)")
        _, self.chunk, self.plain_size = _FIXED.unpack_from(raw)
        if not 0 < self.chunk <= _MAX_CHUNK:
            raise ObjectDamaged(f"{where}: header damaged (chunk size {self.chunk})")
        self.fixed = raw[: _FIXED.size]
        self.slots = [raw[_SLOTS_AT + i * _SLOT : _SLOTS_AT + (i + 1) * _SLOT] for i in (0, 1)]
        self.where = where

    @property
    def n_chunks(self) -> int:
        return _chunks(self.plain_size, self.chunk)

    @property
    def total(self) -> int:
        return sealed_size(self.plain_size, self.chunk)

    def slot_of(self, key: Key) -> int | None:
        kid = key.key_id
        return next((i for i, s in enumerate(self.slots) if s[:8] == kid and any(s[8:])), None)

    def data_key(self, key: Key | None) -> bytes:
        """Unwrap the object's data key with ``key``; :class:`ArchiveKeyNeeded` when it is not one of its keys."""
        from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

        if key is None:
            raise ArchiveKeyNeeded(f"{self.where} is encrypted: set DASHCAM_ARCHIVE_KEY")
        i = self.slot_of(key)
        if i is None:
            raise ArchiveKeyNeeded(
                f"{self.where} is encrypted with another archive key than the one from {key.source}"
            )
        try:
            return aes_key_unwrap(key.secret, self.slots[i][8:])
        except InvalidUnwrap:
            raise ObjectDamaged(f"{self.where}: its wrapped data key is damaged") from None

    def aad(self, i: int, storage_key: str) -> bytes:
        return self.fixed + i.to_bytes(8, "little") + storage_key.encode()


def _slot(key: Key, data_key: bytes) -> bytes:
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    wrapped = aes_key_wrap(key.secret, data_key)
    assert len(wrapped) == _WRAPPED
    return key.key_id + wrapped


def seal_stream(src: IO[bytes], dst: IO[bytes], plain_size: int, key: Key, storage_key: str) -> None:
    """Write ``plain_size`` bytes of ``src`` to ``dst`` as a sealed object under a new data key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = AESGCM.generate_key(bit_length=256)
    fixed = _FIXED.pack(MAGIC, CHUNK, plain_size)
    header = fixed + _slot(key, data_key) + bytes(_SLOT)
    dst.write(header + bytes(HEADER_LEN - len(header)))
    aead = AESGCM(data_key)
    left = plain_size
    for i in range(_chunks(plain_size, CHUNK)):
        part = src.read(min(CHUNK, left))
        if len(part) != min(CHUNK, left):
            raise OSError(f"{storage_key}: the source shrank while it was sealed")
        left -= len(part)
        dst.write(aead.encrypt(_nonce(i), part, fixed + i.to_bytes(8, "little") + storage_key.encode()))


class SealedReader(io.RawIOBase):
    """The plain text of a sealed object, seekable, decrypting only the chunks that are read.

    Opening checks the header, the key and the file's exact length (a cut-off object is refused before any
    byte is read); every chunk's tag is checked before its bytes are returned.
    """

    def __init__(self, raw: IO[bytes], key: Key | None, storage_key: str, where: str | None = None) -> None:
        super().__init__()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._raw = raw
        self._storage_key = storage_key
        self.where = where or storage_key
        raw.seek(0)
        self.header = Header(raw.read(HEADER_LEN), self.where)
        length = raw.seek(0, os.SEEK_END)
        if length != self.header.total:
            raise ObjectDamaged(
                f"{self.where}: {length} bytes, its header says {self.header.total} (truncated or appended to)"
            )
        self._aead = AESGCM(self.header.data_key(key))
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    @property
    def size(self) -> int:
        return int(self.header.plain_size)

    def chunk(self, i: int) -> bytes:
        """Chunk ``i`` in plain text; :class:`ObjectDamaged` when its tag does not check."""
        from cryptography.exceptions import InvalidTag

        if self._cached is not None and self._cached[0] == i:
            return self._cached[1]
        h = self.header
        plain_len = min(h.chunk, h.plain_size - i * h.chunk) if h.plain_size else 0
        self._raw.seek(HEADER_LEN + i * (h.chunk + TAG))
        blob = self._raw.read(plain_len + TAG)
        try:
            plain = self._aead.decrypt(_nonce(i), blob, h.aad(i, self._storage_key))
        except InvalidTag:
            raise ObjectDamaged(
                f"{self.where}: chunk {i} of {h.n_chunks} fails its integrity check (tampered or damaged)"
            ) from None
        self._cached = (i, plain)
        return plain

    def verify(self) -> Iterator[bytes]:
        """Every chunk in order (each one checked): what verification hashes."""
        for i in range(self.header.n_chunks):
            yield self.chunk(i)

    # ---------------------------------------------------------------- io.RawIOBase
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        i, off = divmod(self._pos, self.header.chunk)
        part = self.chunk(i)[off : off + len(view)]
        view[: len(part)] = part
        self._pos += len(part)
        return len(part)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def rewrap(f: IO[bytes], old: Key, new: Key, where: str) -> bool:
    """Give the object in ``f`` (opened r+b) a slot for ``new`` and clear ``old``'s; False when ``new``
    already was its only key. Each slot write is synced before the next, so a crash leaves a key that opens it."""
    f.seek(0)
    header = Header(f.read(HEADER_LEN), where)
    have_new, have_old = header.slot_of(new), header.slot_of(old)
    if have_new is not None and have_old is None:
        return False
    if have_new is None:
        data_key = header.data_key(old)
        free = 1 - have_old if have_old is not None else 0
        _write_slot(f, free, _slot(new, data_key))
        have_new = free
    _write_slot(f, 1 - have_new, bytes(_SLOT))
    return True


def _write_slot(f: IO[bytes], i: int, slot: bytes) -> None:
    f.seek(_SLOTS_AT + i * _SLOT)
    f.write(slot)
    f.flush()
    os.fsync(f.fileno())
