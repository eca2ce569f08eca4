"""``GET /search``: sightings by plate, label, time and place: ``dashcam.search``, as the UI and CLI use it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import ValidationError

from dashcam.db.session import QueryTimeout
from dashcam.search import MAX_EDITS, SearchPage, SearchQuery, search
from dashcam.search.pattern import MAX_LENGTH
from webui import state
from webui.api.common import instant_or_local, invalid, invalid_from
from webui.api.security import ERRORS, ErrorOut, Reader

router = APIRouter(tags=["search"])
Channel = Literal["F", "R", "I", "T"]
Kind = Literal["normal", "parking", "event"]


def _triple(name: str, values: tuple[float | None, ...]) -> tuple[float, ...] | None:
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        invalid(("query", name), f"{name} needs all of its parts")
    return tuple(v for v in values if v is not None)


@router.get(
    "/search",
    response_model=SearchPage,
    responses={**ERRORS, 503: {"model": ErrorOut, "description": "the search ran past its time limit"}},
)
def get_search(
    _: Reader,
    plate: Annotated[
        str | None, Query(max_length=32, description="plate; spaces, dashes, case ignored")
    ] = None,
    fuzzy: Annotated[int, Query(ge=0, le=MAX_EDITS, description="also plates this many edits away")] = 0,
    confusions: Annotated[bool, Query(description="also plates differing only by OCR confusions")] = True,
    plate_pattern: Annotated[
        str | None,
        Query(
            max_length=MAX_LENGTH,
            description="pattern the whole plate matches (RE2 subset: letters, digits, . [A-Z] \\d ? * + {m,n} ( ) |)",
        ),
    ] = None,
    label: Annotated[str | None, Query(max_length=32, description="object label, e.g. car")] = None,
    since: Annotated[
        datetime | None,
        Query(
            description="seen at or after: without a zone on the clip's own clock (utc=true: UTC), with one that instant"
        ),
    ] = None,
    until: Annotated[datetime | None, Query(description="seen before (read as since is)")] = None,
    utc: Annotated[bool, Query(description="read since/until without a zone as UTC")] = False,
    near_lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    near_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    near_m: Annotated[float | None, Query(gt=0, le=20_000_000, description="radius in metres")] = None,
    south: Annotated[float | None, Query(ge=-90, le=90)] = None,
    west: Annotated[float | None, Query(ge=-180, le=180)] = None,
    north: Annotated[float | None, Query(ge=-90, le=90)] = None,
    east: Annotated[float | None, Query(ge=-180, le=180)] = None,
    channel: Annotated[Channel | None, Query()] = None,
    kind: Annotated[list[Kind] | None, Query(description="clip kinds (repeatable)")] = None,
    protected_only: Annotated[bool, Query(description="only clips retention keeps")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> SearchPage:
    """Sightings matching every given filter, best plate match first (the web UI's and `dashcam search`'s query)."""
    since_at, since_local = instant_or_local(since, "since", utc=utc)
    until_at, until_local = instant_or_local(until, "until", utc=utc)
    try:
        query = SearchQuery(
            plate=plate,
            fuzzy=fuzzy,
            confusions=confusions,
            plate_pattern=plate_pattern,
            label=label,
            since=since_at,
            until=until_at,
            local_since=since_local,
            local_until=until_local,
            near=_triple("near", (near_lat, near_lon, near_m)),  # type: ignore[arg-type]
            bbox=_triple("bbox", (south, west, north, east)),  # type: ignore[arg-type]
            channel=channel,
            kinds=tuple(kind) if kind else None,
            protected_only=protected_only,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        invalid_from(exc)
    try:
        return state.in_session(search, query=query, confusions=state.get().confusions)
    except QueryTimeout as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "10"}
        ) from None
