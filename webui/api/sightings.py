"""``POST /sightings/{id}/split``: undo the join of a sighting's tracks, as the sighting page's Split does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from webui import state
from webui.api.common import NOT_FOUND
from webui.api.security import ERRORS, ErrorOut, Reader
from webui.corrections import CorrectionError, split

router = APIRouter(tags=["sightings"])


class SplitOut(BaseModel):
    sightings: list[int] = Field(
        description="the sightings it became, in time order (the first keeps its id)"
    )


@router.post(
    "/sightings/{sighting_id}/split",
    response_model=SplitOut,
    responses={
        **ERRORS,
        **NOT_FOUND,
        409: {"model": ErrorOut, "description": "the sighting is one track: nothing to split"},
    },
)
def post_split(
    principal: Reader, sighting_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="sighting id")]
) -> SplitOut:
    """A sighting the heavy stage joined from several tracks becomes one sighting per track (a user's call:
    the tracks were different vehicles). Needs a user's token."""
    if principal.kind != "user":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "splitting a sighting needs a user's token")
    try:
        ids = state.in_session(split, sighting_id=sighting_id)
    except CorrectionError as exc:
        code = status.HTTP_404_NOT_FOUND if str(exc).startswith("no sighting") else status.HTTP_409_CONFLICT
        raise HTTPException(code, str(exc)) from exc
    return SplitOut(sightings=ids)
