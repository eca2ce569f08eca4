"""Dashcam Wi-Fi client, Viofo file-name rules and folder import (no Prefect, no database)."""

from __future__ import annotations

from dashcam.camera.client import CameraClient, CameraError, CameraUnreachable, DownloadError
from dashcam.camera.importer import ImportedFile, ImportReport, import_folder
from dashcam.camera.listing import Listing, ListingError, Rejected, RemoteFile
from dashcam.camera.names import ClipName, HostileName, group_moments, moment_key, parse_clip_name, safe_name
from dashcam.camera.sync import SyncReport

__all__ = [
    "CameraClient",
    "CameraError",
    "CameraUnreachable",
    "ClipName",
    "DownloadError",
    "HostileName",
    "ImportReport",
    "ImportedFile",
    "Listing",
    "ListingError",
    "Rejected",
    "RemoteFile",
    "SyncReport",
    "group_moments",
    "import_folder",
    "moment_key",
    "parse_clip_name",
    "safe_name",
]
