"""Walk ISO-BMFF (MP4/MOV) boxes with seeks only: never reads payloads it is not asked for.

Cost is proportional to the number of boxes visited, not the file size, and every size is
checked against the end of the file, so hostile headers cannot make us loop or allocate.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Containers whose payload is itself a list of boxes (the ones we ever need to descend into).
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"meta"}


class Mp4Error(ValueError):
    """The file is not a readable MP4 (the message says why)."""


@dataclass(frozen=True)
class Box:
    type: bytes
    offset: int  # where the box header starts
    header_size: int  # 8, or 16 for a 64-bit size
    size: int  # whole box including header

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def payload_size(self) -> int:
        return self.size - self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


class NotRegularFile(OSError):
    """A path that is not a plain file: a FIFO would block a reader for ever, a device never ends."""


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"))


def open_regular(path: str | os.PathLike[str], *, buffering: int = -1) -> BinaryIO:
    """Open ``path`` for reading only if it is (or a link the user named leads to) a regular file.

    Opened non-blocking, then checked on the open file itself: opening a FIFO never waits for a writer,
    and nothing can swap the file between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((why for test, why in _KINDS if test(mode)), "a device")
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({what})", os.fspath(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)  # type: ignore[return-value]
    except BaseException:
        os.close(fd)
        raise


def file_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size if hasattr(f, "fileno") else f.seek(0, os.SEEK_END)


def iter_boxes(f: BinaryIO, start: int = 0, end: int | None = None, *, strict: bool = True) -> Iterator[Box]:
    """Yield the boxes laid out between ``start`` and ``end`` (default: end of file).

    A size of 0 means "to the end of the enclosing range"; 1 means a 64-bit size follows.
    With ``strict`` a box running past ``end`` raises :class:`Mp4Error`; otherwise iteration stops
    there (a file still being written, or truncated, keeps the boxes before the damage).
    """
    limit = file_size(f) if end is None else end
    pos = start
    while pos + 8 <= limit:
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            ext = f.read(8)
            if len(ext) < 8:
                if strict:
                    raise Mp4Error(f"truncated 64-bit box header at offset {pos}")
                return
            size = struct.unpack(">Q", ext)[0]
            header_size = 16
        elif size == 0:
            size = limit - pos
        if size < header_size:
            raise Mp4Error(f"box {kind!r} at offset {pos} has impossible size {size}")
        if pos + size > limit:
            if strict:
                raise Mp4Error(
                    f"box {kind.decode('latin-1', 'replace')!r} at offset {pos} claims {size} bytes, "
                    f"past the end ({limit})"
                )
            yield Box(kind, pos, header_size, limit - pos)
            return
        yield Box(kind, pos, header_size, size)
        pos += size


def children(f: BinaryIO, box: Box, *, strict: bool = True) -> Iterator[Box]:
    skip = 4 if box.type == b"meta" else 0  # meta is a full box: version + flags first
    return iter_boxes(f, box.payload_offset + skip, box.end, strict=strict)


def find_path(f: BinaryIO, path: list[bytes], *, strict: bool = True) -> Box | None:
    """The first box at ``path`` (e.g. ``[b"moov", b"gps "]``), or None."""
    boxes: Iterator[Box] = iter_boxes(f, strict=strict)
    found: Box | None = None
    for depth, kind in enumerate(path):
        found = next((b for b in boxes if b.type == kind), None)
        if found is None:
            return None
        if depth + 1 < len(path):
            boxes = children(f, found, strict=strict)
    return found


def read_payload(f: BinaryIO, box: Box, max_bytes: int = 64 << 20) -> bytes:
    if box.payload_size > max_bytes:
        raise Mp4Error(f"box {box.name!r} payload of {box.payload_size} bytes exceeds the {max_bytes} limit")
    f.seek(box.payload_offset)
    data = f.read(box.payload_size)
    if len(data) != box.payload_size:
        raise Mp4Error(f"box {box.name!r} at offset {box.offset} is truncated")
    return data


def check_complete(path: str | os.PathLike[str]) -> None:
    """Raise :class:`Mp4Error` unless the file is a whole MP4: ftyp first, a moov, no box past the end."""
    with open_regular(path) as f:
        size = file_size(f)
        if size < 16:
            raise Mp4Error(f"{size} bytes is too small to be an MP4")
        boxes = list(iter_boxes(f, strict=True))
        if not boxes or boxes[0].type not in (b"ftyp", b"free", b"skip", b"wide"):
            first = f" (its first box is {ascii(boxes[0].name)})" if boxes else ""
            raise Mp4Error(f"does not start with an ftyp box{first}")
        if not any(b.type == b"moov" for b in boxes):
            raise Mp4Error("has no moov box (recording unfinished or file truncated)")
