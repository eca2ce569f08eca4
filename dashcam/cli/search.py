"""`dashcam search`: sightings by plate (fuzzy, OCR-confusion aware), label, time, place and clip."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json, shown

if TYPE_CHECKING:
    from dashcam.search import SearchPage


def _floats(value: str, n: int, option: str, shape: str) -> tuple[float, ...]:
    parts = value.split(",")
    try:
        nums = tuple(float(p) for p in parts)
    except ValueError:
        nums = ()
    if len(nums) != n:
        fail(
            f"{option} {value!r}: expected {shape}, e.g. {option} "
            + ",".join(["48.137", "11.575", "500"][:n])
        )
    return nums


def _when(value: str | None, option: str, *, end: bool = False, utc: bool = False) -> datetime | None:
    """ISO date or date-time: on the clips' own clock (naive), an instant where it has an offset, UTC with
    ``utc``; a bare date for the end of a range means the whole day."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            dt = datetime.combine(d + timedelta(days=1 if end else 0), time())
        else:
            dt = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected an ISO date or date-time, e.g. 2024-05-01 or 2024-05-01T12:30")
    return dt.replace(tzinfo=timezone.utc) if utc and dt.tzinfo is None else dt


def _range(start: datetime | None, end: datetime | None) -> dict[str, datetime | None]:
    """An instant filters on UTC, a time without a zone on the clip's own clock."""
    out: dict[str, datetime | None] = {}
    for name, value in (("since", start), ("until", end)):
        if value is not None:
            out[name if value.tzinfo else f"local_{name}"] = value
    return out


def search(
    plate: str | None = typer.Option(
        None, "--plate", "-p", help="Plate text (spaces, dashes, case ignored)."
    ),
    fuzzy: int = typer.Option(0, "--fuzzy", "-f", min=0, max=2, help="Also match plates up to N edits away."),
    exact: bool = typer.Option(
        False, "--exact", help="Do not match OCR confusions (O/0, 1/I, 8/B, 5/S, 2/Z)."
    ),
    pattern: str | None = typer.Option(None, "--pattern", help="Regular expression the whole plate matches."),
    label: str | None = typer.Option(None, "--label", "-l", help="Object label, e.g. car, truck, person."),
    since: str | None = typer.Option(
        None,
        "--from",
        "--since",
        help="Seen at or after (ISO date/time on the camera's own clock; with an offset or --utc, that instant).",
    ),
    until: str | None = typer.Option(
        None, "--to", "--until", help="Seen before (a bare date includes that day)."
    ),
    in_utc: bool = typer.Option(False, "--utc", help="Read --from/--to as UTC, not the camera's clock."),
    near: str | None = typer.Option(None, "--near", help="LAT,LON,METRES: within a circle."),
    bbox: str | None = typer.Option(None, "--bbox", help="SOUTH,WEST,NORTH,EAST: within a box."),
    channel: str | None = typer.Option(None, "--channel", help="F front, R rear, I interior, T telephoto."),
    kind: list[str] = typer.Option([], "--kind", help="Clip kind (normal, parking, event); repeatable."),
    protected: bool = typer.Option(False, "--protected", help="Only protected or pinned clips."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=1000, help="Hits per page."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits."),
    reindex: bool = typer.Option(False, "--reindex", help="Rebuild the plate index first."),
    as_json: bool = JsonOpt,
) -> None:
    """Search sightings: the same query the web UI runs."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.config import ConfigError, load_config
    from dashcam.db.session import ensure_schema, get_engine, session_scope
    from dashcam.search import SearchQuery, reindex_plates
    from dashcam.search import search as run_search

    try:
        query = SearchQuery(
            plate=plate,
            fuzzy=fuzzy,
            confusions=not exact,
            plate_pattern=pattern,
            label=label,
            **_range(_when(since, "--from", utc=in_utc), _when(until, "--to", end=True, utc=in_utc)),
            near=_floats(near, 3, "--near", "LAT,LON,METRES") if near else None,  # type: ignore[arg-type]
            bbox=_floats(bbox, 4, "--bbox", "SOUTH,WEST,NORTH,EAST") if bbox else None,  # type: ignore[arg-type]
            channel=channel,
            kinds=tuple(kind) or None,
            protected_only=protected,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        fail(f"{where + ': ' if where else ''}{err['msg'].removeprefix('Value error, ')}")
    try:
        config = load_config()
        url = config.database_url()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")
    confusions = config.global_config.plates.confusions
    try:
        ensure_schema(url, config=config)
        with session_scope(get_engine(config, url=url)) as session:
            if reindex:
                plates, variants = reindex_plates(session=session, confusions=confusions)
                if not as_json:
                    console.print(
                        f"plate index rebuilt: {plates} plates, {variants} variants", highlight=False
                    )
            page = run_search(session=session, query=query, confusions=confusions)
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if as_json:
        print_json(page.model_dump(mode="json"))
        return
    _table(page, show_distance=query.near is not None)


def _table(page: SearchPage, *, show_distance: bool) -> None:
    from rich.table import Table

    from dashcam.localtime import local_display

    if not page.hits:
        console.print("no sightings match", highlight=False)
        return
    table = Table(show_edge=False, header_style="bold")
    show_match = any(h.match for h in page.hits)
    cols = ["id", "time (camera clock)", "label", "plate", "match", "conf", "clip", "ch", "lat, lon"]
    for col in cols if show_match else [c for c in cols if c != "match"]:
        table.add_column(
            col,
            justify="right" if col in ("id", "conf") else "left",
            no_wrap=col in ("plate", "match", "conf"),
        )
    if show_distance:
        table.add_column("m", justify="right")
    for h in page.hits:
        match: str = h.match or ""
        if h.match == "edits":
            match = f"{h.edits} edit{'s' if h.edits != 1 else ''}"
        cells = [
            str(h.sighting_id),
            local_display(h.time_utc, h.utc_offset_s),
            h.label,
            (h.plate or "") + (" *" if h.corrected else ""),
            *([match] if show_match else []),
            f"{h.plate_confidence:.2f}" if h.plate_confidence is not None else "",
            f"{h.file_name} @{h.best_s:.1f}s",
            h.channel or "",
            f"{h.lat:.5f}, {h.lon:.5f}" if h.lat is not None and h.lon is not None else "",
        ]
        if show_distance:
            cells.append(f"{h.distance_m:.0f}" if h.distance_m is not None else "")
        table.add_row(*(shown(c) for c in cells))
    console.print(table)
    span = f"{page.offset + 1}-{page.offset + len(page.hits)}"
    of = f" of {page.total}" if page.total is not None else (" (more)" if page.has_more else "")
    console.print(
        f"sightings {span}{of}" + ("  (* corrected plate)" if any(h.corrected for h in page.hits) else "")
    )


def register(app: typer.Typer) -> None:
    app.command("search")(search)
