"""`dashcam synth OUT.mp4`: make realistic test footage with known plates and GPS route, and its ground truth."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer

from dashcam.cli.common import JsonOpt, fail, print_json, progress


def synth(
    out: Path = typer.Argument(
        ..., help="Output MP4; with --viofo-name a directory (or a file whose folder is used)."
    ),
    seconds: float | None = typer.Option(
        None, "--seconds", help="Clip length [default: 30, or 4 s per photo with --images]."
    ),
    fps: float = typer.Option(30.0, "--fps", help="Frame rate."),
    size: str = typer.Option("1920x1080", "--size", help="Frame size WIDTHxHEIGHT, e.g. 1280x720."),
    plates: str | None = typer.Option(
        None, "--plates", help="Comma-separated plates to show, e.g. AB12CDE,7ABC123 [default: random]."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Build the drive from the photos in this folder (Ken Burns zoom and pan)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same clip."),
    viofo: bool = typer.Option(
        False, "--viofo-name", help="Name the file like a Viofo A129 (YYYY_MMDD_HHMMSS_NNNNNNF.MP4)."
    ),
    sequence: int = typer.Option(1, "--sequence", help="Sequence number in a Viofo name."),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Start time, ISO 8601 (UTC unless it has an offset) [default: 2024-05-18T09:30Z].",
    ),
    utc_offset: float = typer.Option(
        0.0, "--utc-offset", help="Camera clock minus UTC, in hours (sets the local time in the name)."
    ),
    far_blur: float = typer.Option(
        0.0,
        "--far-blur",
        help="Blur vehicles while far (Gaussian sigma in px, full beyond 9 m, none within 6 m): plates small "
        "and soft early, sharp when near.",
    ),
    lat: float | None = typer.Option(None, "--lat", help="Start latitude."),
    lon: float | None = typer.Option(None, "--lon", help="Start longitude."),
    as_json: bool = JsonOpt,
) -> None:
    """Synthesise a dashcam clip (moving scenery, vehicles with legible plates, embedded GPS) and its truth."""
    # Imported here so `dashcam --help` stays fast.
    from dashcam.synth import parse_size, synthesize
    from dashcam.synth.route import DEFAULT_LAT, DEFAULT_LON, DEFAULT_START

    try:
        wh = parse_size(size)
    except ValueError as exc:
        fail(str(exc))
    if images is not None and not images.is_dir():
        fail(f"--images {images}: not a directory")
    start_utc = DEFAULT_START
    if start:
        try:
            start_utc = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--start {start!r} is not an ISO 8601 time")
        if start_utc.tzinfo is None:
            start_utc = start_utc.replace(tzinfo=timezone.utc)
    plate_list = [p for p in (plates or "").split(",") if p.strip()] or None
    with progress(enabled=not as_json) as prog:
        task = prog.add_task("synthesising", total=None)

        def tick(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        try:
            result = synthesize(
                out,
                seconds=seconds,
                fps=fps,
                size=wh,
                plates=plate_list,
                seed=seed,
                start_utc=start_utc,
                start_lat=DEFAULT_LAT if lat is None else lat,
                start_lon=DEFAULT_LON if lon is None else lon,
                images_dir=images,
                viofo_name=viofo,
                sequence=sequence,
                utc_offset_hours=utc_offset,
                far_blur=far_blur,
                on_frame=tick,
            )
        except (ValueError, OSError) as exc:
            fail(str(exc))
    legible = [p["text"] for p in result.truth["plates"] if p["ever_legible"]]
    if as_json:
        print_json(
            {
                "path": result.path,
                "truth_path": result.truth_path,
                "seconds": result.truth["seconds"],
                "frames": result.truth["frames"],
                "size": result.truth["size"],
                "plates": result.plates,
                "legible_plates": legible,
                "fixes": len(result.route.fixes),
            }
        )
        return
    typer.echo(str(result.path))


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
