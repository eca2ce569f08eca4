"""A user's fixes: a misread plate (the OCR reads stay untouched), a wrong join of two vehicles' tracks, and
pinning a clip for retention."""

from __future__ import annotations

from sqlmodel import Session

from dashcam.db.models import Clip, Sighting
from dashcam.search import normalize_plate, refresh_plates
from webui import state


class CorrectionError(ValueError):
    pass


def correct_plate(*, session: Session, sighting_id: int, plate: str | None) -> str | None:
    """Set (or with None/empty, clear) a sighting's corrected plate; returns the plate it now shows."""
    s = session.get(Sighting, sighting_id)
    if s is None:
        raise CorrectionError(f"no sighting {sighting_id}")
    new = normalize_plate(plate) if plate else None
    if plate and not new:
        raise CorrectionError(f"{plate!r} has no letters or digits")
    if new is not None and len(new) > 16:
        raise CorrectionError("a plate has at most 16 characters")
    before = {t for t in (s.plate_corrected, s.plate_text) if t}
    s.plate_corrected = None if new == s.plate_text else new
    session.add(s)
    session.flush()
    # the old and the new text both change counts in the plate index (fuzzy search, plates listing)
    refresh_plates(
        session=session, texts=before | {t for t in (new,) if t}, confusions=state.get().confusions
    )
    return s.plate_corrected or s.plate_text


def split(*, session: Session, sighting_id: int) -> list[int]:
    """Undo the join of a sighting's tracks (:func:`dashcam.stages.heavy.split.split_sighting`)."""
    from dashcam.stages.heavy.split import SplitError, split_sighting

    try:
        return split_sighting(session=session, sighting_id=sighting_id, confusions=state.get().confusions)
    except SplitError as exc:
        raise CorrectionError(str(exc)) from exc


def set_pinned(*, session: Session, clip_id: int, pinned: bool) -> bool:
    clip = session.get(Clip, clip_id)
    if clip is None:
        raise CorrectionError(f"no clip {clip_id}")
    clip.pinned = pinned
    session.add(clip)
    return pinned
