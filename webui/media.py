"""Media by id, with HTTP Range (so the video player can seek), and a clip's GPS track as GPX.

The request names only a number. The file is found by looking up the Media row, then its storage area
and key (checked again by the storage layer): nothing from the request ever becomes a path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from nicegui import app
from sqlalchemy import select
from sqlmodel import Session, col

from dashcam.db.models import Clip, GpsPoint, Media
from dashcam.storage import check_key
from webui import state

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class MediaFile:
    media_id: int
    area: str
    key: str
    mime: str
    kind: str
    download_name: str


def lookup(*, session: Session, media_id: int) -> MediaFile | None:
    m = session.get(Media, media_id)
    if m is None:
        return None
    clip = session.get(Clip, m.clip_id)
    stem = (clip.file_name.rsplit(".", 1)[0] if clip else f"clip{m.clip_id}") + f"-{m.kind}-{media_id}"
    ext = m.key.rsplit(".", 1)[-1] if "." in m.key else "bin"
    return MediaFile(media_id, m.area, m.key, m.mime, m.kind, f"{stem}.{ext}")


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


async def _stream(fh: IO[bytes], start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(fh.seek, start)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


async def media_response(request: Request, media_id: int, *, download: bool = False) -> Response:
    found = await state.db(lookup, media_id=media_id)
    if found is None:
        raise HTTPException(404, "no such medium")
    try:
        area = state.get().storage[found.area]
        key = check_key(found.key)
        size = await asyncio.to_thread(area.size, key)
    except (OSError, KeyError) as exc:  # StorageError is an OSError
        raise HTTPException(404, "medium not available") from exc
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{found.download_name}"'
    try:
        rng = parse_range(request.headers.get("range"), size)
    except ValueError:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = rng if rng else (0, size - 1)
    headers["Content-Length"] = str(max(0, end - start + 1))
    if rng:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD" or size == 0:
        return Response(status_code=206 if rng else 200, headers=headers, media_type=found.mime)
    fh = await asyncio.to_thread(area.open, key)
    return StreamingResponse(
        _stream(fh, start, end - start + 1),
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
        found = await state.db(clip_gpx, clip_id=clip_id)
        if found is None:
            raise HTTPException(404, "no GPS track for this clip")
        name, text = found
        return Response(
            text,
            media_type="application/gpx+xml",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
