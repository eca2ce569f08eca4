"""A small database with real media (JPEG thumbnails and crops, an H.264 clip) and a GPS track."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select
from sqlmodel import Session, col

from dashcam.db.models import GpsPoint, Media, Sighting
from dashcam.storage import Storage
from tests.search.seed import MUNICH, T0, seed

USERNAME = "alice"
PASSWORD = "correct horse battery"
VIDEO_S = 6.0
FPS = 10.0


def _jpeg(text: str, size: tuple[int, int], *, plate: bool = False) -> bytes:
    w, h = size
    img = np.full((h, w, 3), (235, 230, 225) if plate else (90, 110, 125), np.uint8)
    if not plate:
        cv2.rectangle(img, (w // 6, h // 3), (5 * w // 6, 5 * h // 6), (40, 40, 160), -1)
        cv2.rectangle(img, (w // 3, 2 * h // 3), (2 * w // 3, 2 * h // 3 + h // 8), (235, 230, 225), -1)
    cv2.putText(img, text, (8, h // 2 if plate else h // 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def _mp4(path: Path) -> None:
    from dashcam.video.encode import write_mp4

    def frames():  # type: ignore[no-untyped-def]
        for i in range(int(VIDEO_S * FPS)):
            img = np.full((180, 320, 3), (60, 80, 40), np.uint8)
            cv2.putText(
                img, f"t={i / FPS:.1f}s", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2
            )
            yield img

    write_mp4(path, frames(), fps=FPS, gop=10)


def _media(
    session: Session,
    storage: Storage,
    *,
    clip_id: int,
    sighting_id: int | None,
    kind: str,
    key: str,
    data: bytes,
    mime: str,
) -> int:
    storage["heavy_output"].write_bytes(key, data)
    m = Media(
        clip_id=clip_id,
        sighting_id=sighting_id,
        kind=kind,
        key=key,
        area="heavy_output",
        mime=mime,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=T0,
    )
    session.add(m)
    session.flush()
    assert m.id is not None
    return m.id


def seed_ui(session: Session, storage: Storage, scratch: Path) -> dict[str, int]:
    """The search tests' sightings plus real media, a GPS track of the front clip and an account."""
    from webui.auth import create_user

    ids = seed(session)
    store = storage["heavy_output"]
    for m in session.execute(select(Media)).scalars():  # the search seed's thumbnail row has no file
        store.write_bytes(m.key, _jpeg("AB12CDE", (320, 180)))
        ids["thumb_exact_hi"] = m.id  # type: ignore[assignment]
    for s in session.execute(select(Sighting).where(col(Sighting.id) != ids["exact_hi"])).scalars():
        assert s.id is not None
        ids[f"thumb_{s.id}"] = _media(
            session,
            storage,
            clip_id=s.clip_id,
            sighting_id=s.id,
            kind="thumbnail",
            key=f"ui/thumb-{s.id}.jpg",
            data=_jpeg(s.plate_text or s.label, (320, 180)),
            mime="image/jpeg",
        )
    ids["crop"] = _media(
        session,
        storage,
        clip_id=ids["clip_front"],
        sighting_id=ids["exact_hi"],
        kind="plate_crop",
        key="ui/crop-1.jpg",
        data=_jpeg("AB12 CDE", (200, 50), plate=True),
        mime="image/jpeg",
    )
    mp4 = scratch / "clip.mp4"
    _mp4(mp4)
    ids["video"] = _media(
        session,
        storage,
        clip_id=ids["clip_front"],
        sighting_id=ids["exact_hi"],
        kind="clip_web",
        key="ui/clip-web.mp4",
        data=mp4.read_bytes(),
        mime="video/mp4",
    )
    for i in range(60):
        session.add(
            GpsPoint(
                clip_id=ids["clip_front"],
                t=float(i),
                time_utc=T0 + timedelta(seconds=i),
                lat=MUNICH[0] + i * 0.0004,
                lon=MUNICH[1] + i * 0.0006,
                speed_kmh=20.0 + 2 * i,
                heading=45.0,
            )
        )
    create_user(session=session, username=USERNAME, password=PASSWORD)
    session.flush()
    return ids
