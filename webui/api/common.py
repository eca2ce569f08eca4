"""Small helpers the API's routers share: request errors shaped like FastAPI's own, and UTC times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, NoReturn

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, ValidationError

from webui.api.security import ErrorOut


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive times: they are UTC, and the schema's date-time needs the offset."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


UtcTime = Annotated[datetime | None, AfterValidator(_aware)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such item"}}


def invalid(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> NoReturn:
    """A 422 in FastAPI's documented shape (``detail: [{loc, msg, type}]``)."""
    raise RequestValidationError([{"loc": list(loc), "msg": msg, "type": kind}])


def invalid_from(exc: ValidationError, where: str = "query") -> NoReturn:
    """A pydantic error of a model built from request parameters, as a 422."""
    raise RequestValidationError(
        [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


def instant_or_local(
    value: datetime | None, name: str, *, utc: bool
) -> tuple[datetime | None, datetime | None]:
    """(an instant in UTC, a time on the clips' own clock): a time with a zone (``Z``, ``+02:00``) is an
    instant; a naive one is the clips' local clock, or UTC with ``utc=true``."""
    if value is None:
        return None, None
    if value.tzinfo is None and not utc:
        return None, value
    return as_utc(value, name), None


def as_utc(value: datetime | None, name: str) -> datetime | None:
    """A query's time in UTC (naive means UTC); 422 when it cannot be expressed in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        invalid(("query", name), "the time is out of range in UTC")
