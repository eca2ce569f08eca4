"""Sealed archive objects with the real AES-256-GCM of `cryptography`: what goes in comes out, a Range reads
only its chunks, and every way of damaging an object is refused rather than read."""

from __future__ import annotations

import io
import os
import random
import secrets
from pathlib import Path
from typing import Any

import pytest

from dashcam.crypt.keys import archive_key_from
from dashcam.crypt.sealed import (
    CHUNK,
    HEADER_LEN,
    MAGIC,
    TAG,
    ArchiveKeyNeeded,
    ObjectDamaged,
    SealedReader,
    rewrap,
    seal_stream,
    sealed_size,
)

KEY = archive_key_from(secrets.token_urlsafe(32), "TEST_KEY")
OTHER = archive_key_from(secrets.token_urlsafe(32), "OTHER_KEY")
NAME = "ab/abcdef0123456789/sighting-3.mp4"


def _seal(plain: bytes, name: str = NAME, key=KEY) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    seal_stream(io.BytesIO(plain), out, len(plain), key, name)
    return out.getvalue()


def _read(blob: bytes, name: str = NAME, key=KEY) -> bytes:  # type: ignore[no-untyped-def]
    with SealedReader(io.BytesIO(blob), key, name) as r:
        return r.read()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_round_trip_and_exact_length(size: int) -> None:
    plain = os.urandom(size)
    blob = _seal(plain)
    assert blob.startswith(MAGIC) and len(blob) == sealed_size(size)
    assert _read(blob) == plain


def test_the_plain_text_is_not_in_the_object() -> None:
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"AB12CDE" * 3000
    blob = _seal(jpeg)
    assert b"JFIF" not in blob and b"AB12CDE" not in blob and not blob.startswith(b"\xff\xd8")
    # one data key per object: the same bytes sealed twice share nothing past the fixed header fields
    again = _seal(jpeg)
    assert blob[HEADER_LEN:] != again[HEADER_LEN:] and blob[20:68] != again[20:68]


def test_a_range_decrypts_only_its_chunks() -> None:
    plain = os.urandom(10 * CHUNK + 123)
    sealed = _seal(plain)
    rng = random.Random(5)
    with SealedReader(io.BytesIO(sealed), KEY, NAME) as r:
        for _ in range(50):
            start = rng.randrange(len(plain))
            n = rng.randrange(1, 3 * CHUNK)
            r.seek(start)
            got = b""
            while len(got) < n and (part := r.read(n - len(got))):
                got += part
            assert got == plain[start : start + n]
    # chunk 7 alone, its neighbours never touched: damage them and it still reads
    blob = bytearray(sealed)
    for i in (6, 8):
        blob[HEADER_LEN + i * (CHUNK + TAG) + 10] ^= 0x40
    with SealedReader(io.BytesIO(bytes(blob)), KEY, NAME) as r:
        r.seek(7 * CHUNK + 100)
        assert r.read(1000) == plain[7 * CHUNK + 100 : 7 * CHUNK + 1100]
        r.seek(6 * CHUNK)
        with pytest.raises(ObjectDamaged, match="chunk 6 of 11 fails its integrity check"):
            r.read(10)


@pytest.mark.parametrize(
    "where",
    [
        8,  # chunk size in the header
        12,  # plain size in the header
        HEADER_LEN + 5,  # first chunk's ciphertext
        HEADER_LEN + CHUNK + 3,  # first chunk's tag
        -1,  # the last tag
    ],
)
def test_a_flipped_bit_anywhere_is_refused(where: int) -> None:
    plain = os.urandom(2 * CHUNK + 77)
    blob = bytearray(_seal(plain))
    blob[where] ^= 0x01
    with pytest.raises(ObjectDamaged), SealedReader(io.BytesIO(bytes(blob)), KEY, NAME) as r:
        list(r.verify())


@pytest.mark.parametrize("cut", [1, TAG, CHUNK + TAG])
def test_truncated_or_extended_objects_are_refused_before_any_byte(cut: int) -> None:
    blob = _seal(os.urandom(3 * CHUNK))
    with pytest.raises(ObjectDamaged, match="truncated or appended to"):
        SealedReader(io.BytesIO(blob[:-cut]), KEY, NAME)
    with pytest.raises(ObjectDamaged, match="truncated or appended to"):
        SealedReader(io.BytesIO(blob + b"\x00" * cut), KEY, NAME)


def test_moved_chunks_and_swapped_objects_are_refused() -> None:
    plain = os.urandom(3 * CHUNK)
    blob = _seal(plain)
    c = CHUNK + TAG
    swapped = (
        blob[:HEADER_LEN] + blob[HEADER_LEN + c : HEADER_LEN + 2 * c] + blob[HEADER_LEN : HEADER_LEN + c]
    )
    swapped += blob[HEADER_LEN + 2 * c :]
    with pytest.raises(ObjectDamaged, match="chunk 0"):
        _read(swapped)
    # another object's file put under this key (same archive key, same size): every tag covers the key
    with pytest.raises(ObjectDamaged):
        _read(_seal(plain, "ab/abcdef0123456789/sighting-4.mp4"))


def test_no_key_or_another_key_is_said_as_such() -> None:
    blob = _seal(b"x" * 100)
    with pytest.raises(ArchiveKeyNeeded, match="is encrypted: set DASHCAM_ARCHIVE_KEY"):
        _read(blob, key=None)
    with pytest.raises(ArchiveKeyNeeded, match="another archive key than the one from OTHER_KEY"):
        _read(blob, key=OTHER)


def test_rewrap_changes_one_slot_and_not_the_media(tmp_path: Path) -> None:
    plain = os.urandom(CHUNK + 9)
    path = tmp_path / "object"
    path.write_bytes(_seal(plain))
    before = path.read_bytes()
    with path.open("r+b") as f:
        assert rewrap(f, KEY, OTHER, NAME)
    after = path.read_bytes()
    assert after[HEADER_LEN:] == before[HEADER_LEN:]  # the media bytes are as they were
    assert _read(after, key=OTHER) == plain
    with pytest.raises(ArchiveKeyNeeded):
        _read(after, key=KEY)
    with path.open("r+b") as f:
        assert not rewrap(f, KEY, OTHER, NAME)  # a rerun finds it done
    assert path.read_bytes() == after


def test_a_crash_between_the_two_slot_writes_leaves_both_keys_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashcam.crypt import sealed

    plain = os.urandom(500)
    path = tmp_path / "object"
    path.write_bytes(_seal(plain))
    real = sealed._write_slot
    calls: list[int] = []

    def die_before_the_second(f: Any, i: int, slot: bytes) -> None:
        calls.append(i)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the power goes after the new slot was synced
        real(f, i, slot)

    monkeypatch.setattr(sealed, "_write_slot", die_before_the_second)
    with path.open("r+b") as f, pytest.raises(KeyboardInterrupt):
        rewrap(f, KEY, OTHER, NAME)
    half = path.read_bytes()
    assert _read(half, key=KEY) == plain and _read(half, key=OTHER) == plain
    monkeypatch.setattr(sealed, "_write_slot", real)
    with path.open("r+b") as f:
        assert rewrap(f, KEY, OTHER, NAME)  # the rerun clears the old slot
    with pytest.raises(ArchiveKeyNeeded):
        _read(path.read_bytes(), key=KEY)
    assert _read(path.read_bytes(), key=OTHER) == plain
