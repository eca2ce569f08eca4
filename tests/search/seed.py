"""A small, hand-made set of clips and sightings every search test runs against."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session

from dashcam.db import crud
from dashcam.db.models import Media, PlateRead, Sighting
from dashcam.localtime import local_iso
from dashcam.search import fold_confusions, index_plates

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MUNICH = (48.137, 11.575)
BERLIN = (52.52, 13.405)


def seed(session: Session) -> dict[str, int]:
    """Two clips and eight sightings; returns sighting ids by name (and clip ids as clip_*)."""
    front, _ = crud.register_clip(
        session=session,
        content_hash="f" * 64,
        file_name="2024_0501_120000_000001F.MP4",
        size_bytes=1,
        channel="F",
        recorded_at=T0,
    )
    rear, _ = crud.register_clip(
        session=session,
        content_hash="r" * 64,
        file_name="2024_0503_120000_000002R.MP4",
        size_bytes=1,
        channel="R",
        kind="event",
        protected=True,
        recorded_at=T0 + timedelta(days=2),
    )
    specs: dict[str, dict[str, Any]] = {
        # name: clip, label, plate, confidence, days after T0, place
        "exact_hi": dict(clip=front, label="car", plate="AB12CDE", conf=0.9, days=0, at=MUNICH),
        "exact_lo": dict(clip=front, label="car", plate="AB12CDE", conf=0.6, days=1, at=(48.20, 11.60)),
        "confused": dict(clip=rear, label="car", plate="A812CDE", conf=0.95, days=2, at=(48.14, 11.58)),
        "one_edit": dict(clip=rear, label="truck", plate="AB12CDF", conf=0.8, days=3, at=BERLIN),
        "two_edits": dict(clip=rear, label="car", plate="AB13CDF", conf=0.99, days=4, at=BERLIN),
        "corrected": dict(
            clip=front, label="car", plate="ZZ11AAA", fix="KL55MNO", conf=0.5, days=5, at=MUNICH
        ),
        "far": dict(clip=front, label="car", plate="XY99XYZ", conf=0.7, days=6, at=BERLIN),
        "person": dict(clip=front, label="person", plate=None, conf=None, days=0.5, at=MUNICH),
    }
    ids: dict[str, int] = {"clip_front": front, "clip_rear": rear}
    for track, (name, sp) in enumerate(specs.items()):
        s = Sighting(
            clip_id=sp["clip"],
            track_id=track,
            label=sp["label"],
            score=0.8,
            first_s=1.0,
            last_s=3.0,
            best_s=2.0,
            time_utc=T0 + timedelta(days=sp["days"]),
            time_local=local_iso(T0 + timedelta(days=sp["days"]), None),  # the clips have no offset
            lat=sp["at"][0],
            lon=sp["at"][1],
            plate_text=sp["plate"],
            plate_key=fold_confusions(sp["plate"]) if sp["plate"] else None,
            plate_confidence=sp["conf"],
            plate_alternatives=[sp["plate"]] if sp["plate"] else None,
            plate_corrected=sp.get("fix"),
        )
        session.add(s)
        session.flush()
        assert s.id is not None
        ids[name] = s.id
    for t in (1.0, 2.0):
        session.add(
            PlateRead(
                sighting_id=ids["exact_hi"],
                clip_id=front,
                t=t,
                text_raw="AB12 CDE",
                text="AB12CDE",
                plate_key="A812C0E",
                confidence=0.9,
                time_utc=T0,
            )
        )
    session.add(
        Media(
            clip_id=front,
            sighting_id=ids["exact_hi"],
            kind="thumbnail",
            key="heavy/thumbs/1.jpg",
            area="heavy_output",
            mime="image/jpeg",
            size_bytes=1,
            sha256="0" * 64,
            created_at=T0,
        )
    )
    session.flush()
    index_plates(session=session, sighting_ids=[v for k, v in ids.items() if not k.startswith("clip_")])
    return ids
