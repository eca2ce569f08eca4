"""Track exports: GPX 1.1, GeoJSON, CSV and a JSON document with the clock metadata."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from xml.sax.saxutils import escape

from dashcam.gps.track import Fix, Track

GPX_NS = "http://www.topografix.com/GPX/1/1"
# Garmin's TrackPointExtension v2 is what GPX readers understand for speed (m/s) and course (degrees).
TPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"
CSV_FIELDS = ["t", "time_utc", "lat", "lon", "speed_kmh", "heading"]


def _iso(fix: Fix) -> str | None:
    return fix.time_utc.isoformat().replace("+00:00", "Z") if fix.time_utc else None


def to_gpx(track: Track, *, name: str | None = None) -> str:
    """GPX 1.1: one trk, one trkseg per run of fixes without a long gap."""
    title = name or (track.path.rsplit("/", 1)[-1] if track.path else "dashcam track")
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<gpx version="1.1" creator="dashcam-processor" xmlns="{GPX_NS}" xmlns:gpxtpx="{TPX_NS}">',
        f"  <trk><name>{escape(title)}</name>",
    ]
    for seg in track.segments():
        out.append("    <trkseg>")
        for p in seg:
            out.append(f'      <trkpt lat="{p.lat:.7f}" lon="{p.lon:.7f}">')
            if (when := _iso(p)) is not None:
                out.append(f"        <time>{when}</time>")
            ext = []
            if p.speed_kmh is not None:
                ext.append(f"<gpxtpx:speed>{p.speed_kmh / 3.6:.3f}</gpxtpx:speed>")
            if p.heading is not None:
                ext.append(f"<gpxtpx:course>{p.heading:.2f}</gpxtpx:course>")
            if ext:
                out.append(
                    "        <extensions><gpxtpx:TrackPointExtension>"
                    + "".join(ext)
                    + "</gpxtpx:TrackPointExtension></extensions>"
                )
            out.append("      </trkpt>")
        out.append("    </trkseg>")
    out += ["  </trk>", "</gpx>", ""]
    return "\n".join(out)


def geojson_dict(track: Track) -> dict[str, Any]:
    """A FeatureCollection with one MultiLineString (one line per segment) carrying per-point times."""
    segments = track.segments()
    feature: dict[str, Any] = {
        "type": "Feature",
        "geometry": {
            "type": "MultiLineString",
            "coordinates": [[[round(p.lon, 7), round(p.lat, 7)] for p in seg] for seg in segments],
        },
        "properties": {
            "source": track.source,
            "reason": track.reason,
            "utc_offset_s": track.utc_offset_s,
            "local_time_as_utc": track.local_time_as_utc,
            "coordTimes": [[_iso(p) for p in seg] for seg in segments],
            "video_t": [[p.t for p in seg] for seg in segments],
            "speed_kmh": [[p.speed_kmh for p in seg] for seg in segments],
            "heading": [[p.heading for p in seg] for seg in segments],
        },
    }
    return {"type": "FeatureCollection", "features": [feature] if track.points else []}


def to_geojson(track: Track) -> str:
    return json.dumps(geojson_dict(track), indent=2)


def to_csv(track: Track) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for p in track.points:
        writer.writerow(
            {
                "t": p.t,
                "time_utc": _iso(p) or "",
                "lat": f"{p.lat:.7f}",
                "lon": f"{p.lon:.7f}",
                "speed_kmh": "" if p.speed_kmh is None else f"{p.speed_kmh:.3f}",
                "heading": "" if p.heading is None else f"{p.heading:.2f}",
            }
        )
    return buf.getvalue()


def track_dict(track: Track) -> dict[str, Any]:
    return {
        "path": track.path,
        "source": track.source,
        "reason": track.reason,
        "layout": track.layout,
        "blocks": track.blocks,
        "unrecognised_blocks": track.unrecognised_blocks,
        "unrecognised": track.unrecognised,
        "utc_offset_s": track.utc_offset_s,
        "local_time_as_utc": track.local_time_as_utc,
        "clock_jump_s": track.clock_jump_s,
        "points": [p.as_dict() for p in track.points],
    }


def to_json(track: Track) -> str:
    return json.dumps(track_dict(track), indent=2)
