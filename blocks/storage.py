"""Prefect blocks of the deployment: shared, slow-changing configuration and secrets.

* ``DashcamStorage`` ("dashcam-storage"): how each device reaches the NAS shares of config.json
  (``//nas-1/videos/`` -> ``/mnt/nas-1/videos`` on the Jetson, ``Z:\\`` on the Windows GPU box).
* Prefect's own ``Secret`` blocks hold the database URL ("dashcam-database-url"), the camera
  password ("dashcam-camera-password") and the archive key ("dashcam-archive-key", encryption at rest of
  the archive's media): never a plain config file, never a log line.
* A ``LocalFileSystem`` block ("dashcam-results") on a path every device mounts is the shared result
  storage that makes task caching work across machines.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

STORAGE_BLOCK = "dashcam-storage"
DATABASE_SECRET = "dashcam-database-url"
CAMERA_SECRET = "dashcam-camera-password"
ARCHIVE_KEY_SECRET = "dashcam-archive-key"
RESULTS_BLOCK = "dashcam-results"


class DashcamStorage(Block):
    """Where each device mounts the NAS shares named in config.json."""

    _block_type_name = "Dashcam Storage"
    _block_type_slug = "dashcam-storage"
    _description = "Per-device mapping of the dashcam NAS shares to local mount points."

    mounts: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="hostname -> {share: local mount point}, e.g. {'jetson-coral-1': {'//nas-1/videos/': '/mnt/videos'}}",
    )
    default_mounts: dict[str, str] = Field(
        default_factory=dict, description="share -> mount point for devices not listed in mounts"
    )

    def for_device(self, hostname: str) -> dict[str, str]:
        """The mounts one device uses."""
        return {**self.default_mounts, **self.mounts.get(hostname, {})}
