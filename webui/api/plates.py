"""``GET /plates/{text}``: one plate: how often and when it was seen, its sightings and watchlist entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from dashcam.search import (
    MAX_EDITS,
    PlateSummary,
    SearchPage,
    SearchQuery,
    WatchlistMatch,
    normalize_plate,
    plates_summary,
    search,
    watchlist_matches,
)
from webui import state
from webui.api.common import NOT_FOUND, invalid, not_found
from webui.api.security import ERRORS, Reader

router = APIRouter(tags=["plates"])


class PlateOut(BaseModel):
    """A plate and its sightings (the exact text first, then OCR confusions and near misses if asked)."""

    plate: str = Field(description="the plate, normalised (upper case, letters and digits)")
    summary: PlateSummary | None = Field(description="the plates index's entry (None: no exact match)")
    watchlist: list[WatchlistMatch]
    sightings: SearchPage


def plate_info(*, session: Session, plate: str, fuzzy: int, limit: int, offset: int) -> PlateOut:
    """What the API says about one plate."""
    table = state.get().confusions
    page = plates_summary(session=session, prefix=plate, order="plate", limit=1, confusions=table)
    summary = next((p for p in page.items if p.plate == plate), None)
    query = SearchQuery(plate=plate, fuzzy=fuzzy, limit=limit, offset=offset)
    return PlateOut(
        plate=plate,
        summary=summary,
        watchlist=watchlist_matches(session=session, plate_text=plate, confusions=table),
        sightings=search(session=session, query=query, confusions=table),
    )


@router.get("/plates/{text}", response_model=PlateOut, responses={**ERRORS, **NOT_FOUND})
def get_plate(
    _: Reader,
    text: Annotated[str, Path(min_length=1, max_length=32, description="plate text, e.g. AB12CDE")],
    fuzzy: Annotated[int, Query(ge=0, le=MAX_EDITS, description="also sightings this many edits away")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> PlateOut:
    """One plate: its index entry, watchlist entries it matches and its sightings (404 when never seen)."""
    plate = normalize_plate(text)
    if not plate or len(plate) > 16:
        invalid(("path", "text"), "a plate has 1 to 16 letters or digits")
    out = state.in_session(plate_info, plate=plate, fuzzy=fuzzy, limit=limit, offset=offset)
    if out.summary is None and not out.sightings.hits and out.sightings.offset == 0:
        raise not_found(f"sighting of plate {plate}")
    return out
