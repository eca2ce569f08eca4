"""Hostile and broken input: a clear GpsError or an empty track, fast, never a hang or a huge read."""

from __future__ import annotations

import os
import random
import struct
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dashcam.gps import Fix, GpsError, Track, read_track
from dashcam.gps.writer import FTYP, encode_block, gps_index_box, mvhd_box, wrap_blocks, wrap_samples

FIX = Fix(0, datetime(2024, 5, 1, 12, tzinfo=timezone.utc), 48.1, 11.5, 40.0, 90.0)


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


# A guard against hangs, not a speed test: these files answer in well under a second on a quiet machine
# (bench/gps.py measures speed); a shared CI core can be several times slower, a hang never ends.
HANG_GUARD_S = 10.0


def timed_read(path: Path) -> Track | GpsError:
    start = time.perf_counter()
    try:
        result: Track | GpsError = read_track(path)
    except GpsError as exc:
        result = exc
    assert time.perf_counter() - start < HANG_GUARD_S
    return result


def error_line(result: Track | GpsError) -> str:
    assert isinstance(result, GpsError), f"expected an error, got {result!r}"
    message = str(result)
    assert message and "\n" not in message
    return message


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert "empty" in error_line(timed_read(path))


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot open" in error_line(timed_read(tmp_path / "nope.mp4"))


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "random.mp4"
    path.write_bytes(rng.randbytes(rng.randrange(1, 70_000)))
    result = timed_read(path)
    if isinstance(result, Track):  # random bytes that happen to parse as boxes hold no GPS
        assert result.points == []
    else:
        error_line(result)


def test_random_bytes_after_a_valid_ftyp(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(FTYP + random.Random(7).randbytes(50_000))
    result = timed_read(path)
    assert isinstance(result, GpsError) or result.points == []


def test_index_claiming_2_pow_32_entries(tmp_path: Path) -> None:
    block = encode_block(FIX, size=256)
    offset = len(FTYP) + 8
    index = box(b"gps ", struct.pack(">II", 0, 0xFFFFFFFF) + struct.pack(">II", offset, len(block)))
    path = tmp_path / "count.mp4"
    path.write_bytes(FTYP + box(b"mdat", block) + box(b"moov", mvhd_box() + index))
    result = timed_read(path)
    assert isinstance(result, Track)
    assert [p.lat for p in result.points] == pytest.approx([48.1], abs=1e-4)


def test_index_pointing_past_the_end(tmp_path: Path) -> None:
    block = encode_block(FIX, size=256)
    entries = [(len(FTYP) + 8, len(block)), (10**9, 0x8000), (0xFFFFFFFF, 0xFFFFFFFF)]
    path = tmp_path / "past.mp4"
    path.write_bytes(FTYP + box(b"mdat", block) + box(b"moov", mvhd_box() + gps_index_box(entries)))
    result = timed_read(path)
    assert isinstance(result, Track)
    assert [p.t for p in result.points] == [0]


def test_index_pointing_at_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    payload = os.urandom(4096)
    path.write_bytes(FTYP + box(b"mdat", payload) + box(b"moov", mvhd_box() + gps_index_box([(40, 4096)])))
    result = timed_read(path)
    assert isinstance(result, Track) and result.points == []


def test_index_box_declared_huge(tmp_path: Path) -> None:
    # the `gps ` box says it is 2 GB long inside a moov of a few bytes
    path = tmp_path / "hugebox.mp4"
    bad = struct.pack(">I4s", 0x7FFFFFFF, b"gps ") + struct.pack(">II", 0, 5)
    path.write_bytes(FTYP + box(b"moov", mvhd_box() + bad))
    result = timed_read(path)
    assert isinstance(result, GpsError) or result.points == []


def _clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    wrap_blocks([encode_block(FIX.__class__(i, FIX.time_utc, 48.1, 11.5)) for i in range(3)], path)
    return path


@pytest.mark.parametrize("keep", [4, 12, 30, 100, 0x4000, 3 * 0x4000 + 20])
def test_truncated_files(tmp_path: Path, keep: int) -> None:
    whole = _clip(tmp_path).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[:keep])
    result = timed_read(path)
    if isinstance(result, Track):
        assert len(result.points) <= 1
    else:
        error_line(result)


def test_truncated_moov_keeps_nothing_wrong(tmp_path: Path) -> None:
    whole = _clip(tmp_path).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[:-10])  # the end of the index is gone
    result = timed_read(path)
    assert isinstance(result, Track)
    assert all(p.lat == pytest.approx(48.1, abs=1e-4) for p in result.points)


def test_box_size_zero_runs_to_end(tmp_path: Path) -> None:
    block = encode_block(FIX, size=256)
    path = tmp_path / "size0.mp4"
    # mdat with size 0 ("to the end of the file"), blocks found by scanning
    path.write_bytes(FTYP + struct.pack(">I4s", 0, b"mdat") + bytes(100) + block + bytes(100))
    result = timed_read(path)
    assert isinstance(result, Track)
    assert len(result.points) == 1 and result.source == "scan"


def test_box_size_one_64bit(tmp_path: Path) -> None:
    block = encode_block(FIX, size=256)
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(block)) + block
    index = gps_index_box([(len(FTYP) + 16, len(block))])
    path = tmp_path / "size1.mp4"
    path.write_bytes(FTYP + mdat + box(b"moov", mvhd_box() + index))
    result = timed_read(path)
    assert isinstance(result, Track) and len(result.points) == 1


def test_64bit_size_claiming_exabytes(tmp_path: Path) -> None:
    path = tmp_path / "exa.mp4"
    path.write_bytes(FTYP + struct.pack(">I4sQ", 1, b"mdat", 2**62) + bytes(64))
    result = timed_read(path)
    assert isinstance(result, GpsError) or result.points == []


@pytest.mark.parametrize("size", [2, 7])
def test_impossible_box_size(tmp_path: Path, size: int) -> None:
    path = tmp_path / "tiny.mp4"
    path.write_bytes(FTYP + struct.pack(">I4s", size, b"free") + bytes(32))
    error_line(timed_read(path))


def test_many_tiny_boxes(tmp_path: Path) -> None:
    path = tmp_path / "tiny-boxes.mp4"
    path.write_bytes(FTYP + box(b"free") * 120_000)
    result = timed_read(path)
    assert isinstance(result, GpsError) or result.points == []


def test_block_with_nan_and_huge_values(tmp_path: Path) -> None:
    data = bytearray(encode_block(FIX, size=256))
    struct.pack_into("<f", data, 0x2C, float("nan"))
    struct.pack_into("<f", data, 0x30, float("inf"))
    path = tmp_path / "nan.mp4"
    wrap_blocks([bytes(data)], path)
    track = read_track(path)
    assert track.points == [] and track.blocks == 1


def _patched(data: bytes, box_type: bytes, at: int, value: bytes) -> bytes:
    """``data`` with ``value`` written ``at`` bytes into the payload of its first ``box_type`` box."""
    out = bytearray(data)
    pos = out.find(box_type) + 4
    out[pos + at : pos + at + len(value)] = value
    return bytes(out)


@pytest.mark.parametrize("fmt", [b"gpmd", b"camm"])
def test_metadata_track_with_hostile_tables(tmp_path: Path, fmt: bytes) -> None:
    path = tmp_path / "track.mp4"
    wrap_samples([random.Random(3).randbytes(200)], path, fmt=fmt)
    whole = path.read_bytes()
    variants = [
        _patched(whole, b"stsz", 4, struct.pack(">II", 64, 0xFFFFFFFF)),  # 4 billion fixed-size samples
        _patched(whole, b"stsz", 8, struct.pack(">I", 0xFFFFFFFF)),  # a count beyond the table
        _patched(whole, b"stsc", 8, struct.pack(">II", 1, 0xFFFFFFFF)),  # 4 billion samples per chunk
        _patched(whole, b"stco", 8, struct.pack(">I", 0xFFFFFFF0)),  # a chunk past the end
        _patched(whole, b"stts", 4, struct.pack(">I", 0xFFFFFFFF)),  # more time entries than bytes
    ]
    for i, data in enumerate(variants):
        path.write_bytes(data)
        result = timed_read(path)
        assert isinstance(result, GpsError) or result.points == [], i


def test_gpmf_sample_of_random_bytes_and_deep_nesting(tmp_path: Path) -> None:
    nested = b"GPS5" + bytes([0x6C, 20]) + struct.pack(">H", 1) + bytes(20)
    for _ in range(50):  # containers inside containers: bounded depth, no recursion error
        nested = b"DEVC" + bytes([0, 4]) + struct.pack(">H", len(nested) // 4) + nested
    samples = [random.Random(5).randbytes(4000), nested]
    path = tmp_path / "gopro.mp4"
    wrap_samples(samples, path, fmt=b"gpmd")
    result = timed_read(path)
    assert isinstance(result, Track) and result.points == []
