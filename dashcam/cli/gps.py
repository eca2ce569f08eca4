"""`dashcam gps FILE`: print the GPS track of a clip as GPX, GeoJSON, CSV or JSON."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from dashcam.cli.common import JsonOpt, fail, print_json, warn


class GpsFormat(str, Enum):
    gpx = "gpx"
    geojson = "geojson"
    csv = "csv"
    json = "json"


def gps(
    file: Path = typer.Argument(..., help="A dashcam MP4 (freeGPS cameras, GoPro, camm, BlackVue, ...)."),
    fmt: GpsFormat = typer.Option(GpsFormat.gpx, "--format", "-f", help="Output format."),
    as_json: bool = JsonOpt,
) -> None:
    """Print the GPS track embedded in a dashcam clip."""
    # Imported here so `dashcam --help` stays fast.
    from dashcam.gps import GpsError, read_track, to_csv, to_geojson, to_gpx
    from dashcam.gps.export import track_dict

    try:
        track = read_track(file)
    except GpsError as exc:
        fail(f"{file}: {exc}")
    if not track.points:
        warn(f"{file}: {track.reason}")
    elif track.unrecognised:
        warn(f"{file}: {track.unrecognised_blocks} GPS blocks skipped, first: {track.unrecognised[0]}")
    if as_json or fmt is GpsFormat.json:
        print_json(track_dict(track))
        return
    render = {GpsFormat.gpx: to_gpx, GpsFormat.geojson: to_geojson, GpsFormat.csv: to_csv}[fmt]
    text = render(track)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def register(app: typer.Typer) -> None:
    app.command("gps")(gps)
