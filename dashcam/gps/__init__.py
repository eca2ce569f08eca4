"""Dashcam GPS: reader (freeGPS layouts, GoPro GPMF, camm, NMEA logs), writer, track model and exports.

Entry points for other stages: :func:`read_track`, :class:`Track` (``at(t)``, ``points``,
``utc_offset_s``, ``local_time_as_utc``), :func:`write_gps`, and the exports :func:`to_gpx`,
:func:`to_geojson`, :func:`to_csv`, :func:`to_json`.
"""

from dashcam.gps.export import to_csv, to_geojson, to_gpx, to_json
from dashcam.gps.reader import NO_FIX, NO_GPS, NO_NOVATEK_GPS, GpsError, NoNovatekGps, read_track
from dashcam.gps.track import Fix, Sighting, Track, estimate_utc_offset, nearest_clip
from dashcam.gps.writer import write_gps

__all__ = [
    "NO_FIX",
    "NO_GPS",
    "NO_NOVATEK_GPS",
    "Fix",
    "GpsError",
    "NoNovatekGps",
    "Sighting",
    "Track",
    "estimate_utc_offset",
    "nearest_clip",
    "read_track",
    "to_csv",
    "to_geojson",
    "to_gpx",
    "to_json",
    "write_gps",
]
