"""Media by id, with HTTP Range (so the video player can seek), and a clip's GPS track as GPX.

The request names only a number. The file is found by looking up the Media row, then its storage area
and key (checked again by the storage layer): nothing from the request ever becomes a path. A local
file is opened without following links (:meth:`dashcam.storage.Area.open_regular`), so a symlink
planted in a share is refused, and the open descriptor itself goes out through Starlette's
FileResponse (Range, ETag, RFC 6266 file names): the file checked is the file sent.

A sealed archive object (encryption at rest, :mod:`dashcam.crypt.sealed`) is decrypted here, from the same
descriptor: a Range request decrypts only the 64 KiB chunks it covers, and each chunk's tag is checked before
its bytes go out. One that is truncated, tampered with or without its key is refused with a 500 and logged,
never served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import anyio
from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from nicegui import app
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.types import Receive, Scope, Send

from dashcam.crypt.area import SealedArea
from dashcam.crypt.sealed import ArchiveKeyNeeded, SealedReader, SealError
from dashcam.db.models import Clip, GpsPoint, Media
from dashcam.storage import check_key
from webui import state

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
MAX_ID = 2**63 - 1
"""Ids past the databases' 64-bit integers name nothing: 404, never an overflow."""
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def disposition(name: str, kind: str = "attachment") -> str:
    """A Content-Disposition header any name survives (RFC 6266: ``filename*`` for non-ASCII names)."""
    quoted = quote(name)
    if quoted == name:
        return f'{kind}; filename="{name}"'
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=utf-8''{quoted}"


class DescriptorResponse(FileResponse):
    """FileResponse of an already opened descriptor (so no path is opened again after the checks)."""

    def __init__(self, fd: int, **kwargs: Any) -> None:
        self._fd = fd
        super().__init__(f"/dev/fd/{fd}", stat_result=os.fstat(fd), **kwargs)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[Any]:
        file = anyio.wrap_file(os.fdopen(os.dup(self._fd), "rb"))
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # no pathsend: the server would open the path itself
        extensions = {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"}
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            os.close(self._fd)


@dataclass(frozen=True)
class MediaFile:
    media_id: int
    area: str
    key: str
    mime: str
    kind: str
    download_name: str
    sha256: str = ""


def lookup(*, session: Session, media_id: int) -> MediaFile | None:
    m = session.get(Media, media_id)
    if m is None:
        return None
    clip = session.get(Clip, m.clip_id)
    stem = (clip.file_name.rsplit(".", 1)[0] if clip else f"clip{m.clip_id}") + f"-{m.kind}-{media_id}"
    ext = m.key.rsplit(".", 1)[-1] if "." in m.key else "bin"
    return MediaFile(media_id, m.area, m.key, m.mime, m.kind, f"{stem}.{ext}", m.sha256)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive of a single-range header; None for the whole file; ValueError if unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise ValueError(header)
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(0, size - int(m.group(2))), size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        raise ValueError(header)
    return start, end


async def _stream(fh: IO[bytes], start: int, length: int, what: str) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(fh.seek, start)
        left = length
        while left > 0:
            try:
                chunk = await asyncio.to_thread(fh.read, min(CHUNK, left))
            except SealError as exc:
                # headers are gone already: the connection is cut, and no byte of the bad chunk is sent
                log.error("%s: refused half-way: %s", what, exc)
                raise
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _open_sealed(area: Any, fd: int, key: str) -> SealedReader | None:
    """The decrypting reader of a sealed archive object behind ``fd`` (None: a plain file, fd still ours)."""
    if not isinstance(area, SealedArea):
        return None
    try:
        return area.reader_for_fd(fd, key)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)  # already closed when the reader took it
        raise


def _refused(media_id: int, found: MediaFile, exc: SealError) -> Response:
    """An archived medium that cannot be opened is never served: said to the log, and as a 500."""
    log.error("medium %d (%s/%s) not served: %s", media_id, found.area, found.key, exc)
    why = (
        "is encrypted and this server has no key for it"
        if isinstance(exc, ArchiveKeyNeeded)
        else ("failed its integrity check (damaged or tampered with)")
    )
    return Response(f"this medium {why}; see the server log", status_code=500, media_type="text/plain")


async def media_response(request: Request, media_id: int, *, download: bool = False) -> Response:
    found = await state.db(lookup, media_id=media_id) if valid_id(media_id) else None
    if found is None:
        raise HTTPException(404, "no such medium")
    headers = {"Cache-Control": "private, max-age=3600"}
    fh: IO[bytes] | None = None
    try:
        area = state.get().storage[found.area]
        key = check_key(found.key)
        if area.is_local:
            fd = await asyncio.to_thread(area.open_regular, key)
            sealed = await asyncio.to_thread(_open_sealed, area, fd, key)
            if sealed is None:
                return DescriptorResponse(
                    fd,
                    headers=headers,
                    media_type=found.mime,
                    filename=found.download_name if download else None,
                )
            # a sealed archive object: decrypted here, only the chunks a range covers
            fh, size = sealed, sealed.size  # type: ignore[assignment]
            headers["ETag"] = f'"{found.sha256[:32]}"'
        else:
            size = await asyncio.to_thread(area.size, key)
    except SealError as exc:
        return _refused(media_id, found, exc)
    except (OSError, KeyError) as exc:  # StorageError is an OSError
        raise HTTPException(404, "medium not available") from exc
    # a remote area (fsspec, e.g. smb://): the share's server resolves its links (Samba: wide links = no)
    headers["Accept-Ranges"] = "bytes"
    if download:
        headers["Content-Disposition"] = disposition(found.download_name)
    try:
        rng = parse_range(request.headers.get("range"), size)
    except ValueError:
        if fh is not None:
            fh.close()
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = rng if rng else (0, size - 1)
    headers["Content-Length"] = str(max(0, end - start + 1))
    if rng:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    try:
        if fh is None:
            fh = await asyncio.to_thread(area.open, key)
        if isinstance(fh, SealedReader):
            # the first chunk is checked before anything is sent: a bad object gets a 500, not a broken body
            await asyncio.to_thread(fh.chunk, min(start, max(size - 1, 0)) // fh.header.chunk)
    except SealError as exc:
        if fh is not None:
            fh.close()
        return _refused(media_id, found, exc)
    if request.method == "HEAD" or size == 0:
        fh.close()
        return Response(status_code=206 if rng else 200, headers=headers, media_type=found.mime)
    return StreamingResponse(
        _stream(fh, start, end - start + 1, f"medium {media_id} ({found.area}/{found.key})"),
        status_code=206 if rng else 200,
        headers=headers,
        media_type=found.mime,
    )


def clip_gpx(*, session: Session, clip_id: int) -> tuple[str, str] | None:
    """(file name, GPX text) of a clip's GPS track, or None without a clip or fixes."""
    from dashcam.gps import Fix, Track, to_gpx
    from dashcam.search.query import utc

    clip = session.get(Clip, clip_id)
    if clip is None:
        return None
    rows = session.execute(
        select(GpsPoint).where(col(GpsPoint.clip_id) == clip_id).order_by(col(GpsPoint.t))
    ).scalars()
    points = [Fix(p.t, utc(p.time_utc), p.lat, p.lon, p.speed_kmh, p.heading) for p in rows]
    if not points:
        return None
    name = clip.file_name.rsplit(".", 1)[0]
    return f"{name}.gpx", to_gpx(Track(points=points), name=name)


def register() -> None:
    """Add the media routes (ids only: a non-numeric id never matches the route)."""

    @app.api_route("/media/{media_id:int}", methods=["GET", "HEAD"], include_in_schema=False)
    async def media(request: Request, media_id: int) -> Response:
        return await media_response(request, media_id)

    @app.get("/download/{media_id:int}", include_in_schema=False)
    async def download(request: Request, media_id: int) -> Response:
        return await media_response(request, media_id, download=True)

    @app.get("/gpx/{clip_id:int}", include_in_schema=False)
    async def gpx(clip_id: int) -> Response:
        found = await state.db(clip_gpx, clip_id=clip_id) if valid_id(clip_id) else None
        if found is None:
            raise HTTPException(404, "no GPS track for this clip")
        name, text = found
        return Response(
            text,
            media_type="application/gpx+xml",
            headers={"Content-Disposition": disposition(name)},
        )
