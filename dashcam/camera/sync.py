"""One sync pass over a camera: which clips to fetch, which to leave, and a report of what happened.

"Still recording" is decided inside one pass by two looks at the camera: list, wait ``stable_check``
seconds (through the client's injectable ``sleep``), list again; a clip whose size changed, that is
empty, or that only appeared in the second look is left for the next pass. No state is kept between
passes: what is already in the destination (same name and size) is skipped, so passes are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from dashcam.camera.client import AbsurdSize, CameraClient, CameraError, CameraUnreachable, DownloadError
from dashcam.camera.fsutil import landing_paths
from dashcam.camera.listing import Listing, ListingError, Rejected, RemoteFile
from dashcam.camera.names import HostileName, is_video_name, parse_clip_name

log = logging.getLogger(__name__)

CAMERA_GONE = "camera went away during the sync"


@dataclass
class SyncReport:
    """What one pass did. ``camera_reachable`` False means "no camera" (the car is away), not an error."""

    camera_reachable: bool = True
    listing_source: str | None = None
    downloaded: list[Path] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # dry run: what would be downloaded, in order
    planned_files: list[RemoteFile] = field(default_factory=list)  # dry run: the same, as listed
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    still_recording: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> one-line reason
    rejected: list[Rejected] = field(default_factory=list)  # hostile listing entries
    deleted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    camera_lost: bool = False  # the camera answered the listing, then vanished
    error: str | None = None  # the camera answered, but no listing could be read

    @property
    def complete(self) -> bool:
        """True when nothing is left for a later pass."""
        return self.camera_reachable and not (
            self.failed or self.still_recording or self.camera_lost or self.error
        )


def _select(listing: Listing, report: SyncReport, protected_only: bool) -> list[RemoteFile]:
    """Video clips of the listing, one per name, with duplicates refused."""
    seen: dict[str, RemoteFile] = {}
    for remote in listing.files:
        if not is_video_name(remote.name) or (protected_only and not remote.protected):
            continue
        if remote.name in seen:
            report.rejected.append(Rejected(remote.url_path, f"{remote.name}: listed twice, in two folders"))
            continue
        seen[remote.name] = remote
    return list(seen.values())


def _look(client: CameraClient, report: SyncReport) -> Listing | None:
    """List the camera once, recording "no camera" or an unreadable listing in the report."""
    try:
        return client.list_files()
    except ListingError as exc:
        report.error = str(exc)
    return None


def _candidates(
    client: CameraClient,
    remotes: list[RemoteFile],
    dest_dir: Path,
    report: SyncReport,
    already_have: Callable[[RemoteFile], bool] | None,
) -> list[RemoteFile]:
    """Clips not yet in ``dest_dir`` (nor known to ``already_have``), with exact sizes."""
    todo = []
    for remote in remotes:
        try:
            final, _ = landing_paths(dest_dir, remote.name)
        except (HostileName, ValueError) as exc:
            report.rejected.append(Rejected(remote.url_path, str(exc)))
            continue
        if already_have is not None and already_have(remote):
            report.skipped[remote.name] = "already ingested"
            continue
        if remote.size is None:
            try:
                remote = client.with_size(remote)
            except AbsurdSize as exc:
                report.rejected.append(Rejected(remote.url_path, str(exc)))
                continue
            except DownloadError as exc:
                report.failed[remote.name] = str(exc)
                continue
        if final.exists():
            if final.stat().st_size == remote.size:
                report.skipped[remote.name] = "already downloaded"
            else:
                report.failed[remote.name] = (
                    f"{remote.name}: {final} exists with {final.stat().st_size} bytes, camera has {remote.size}"
                )
            continue
        todo.append(remote)
    return todo


def _stable(
    client: CameraClient, todo: list[RemoteFile], report: SyncReport, stable_check: float | None
) -> list[RemoteFile]:
    """Drop the clips still being recorded: empty, or a different size in a second look."""
    nonempty = []
    for remote in todo:
        if remote.size == 0:
            report.still_recording.append(remote.name)
        else:
            nonempty.append(remote)
    if stable_check is None or not nonempty:
        return nonempty
    client.sleep(stable_check)
    second = _look(client, report)
    if second is None:
        return []
    later = {r.name: r for r in second.files}
    stable = []
    for remote in nonempty:
        again = later.get(remote.name)
        if again is None:
            report.skipped[remote.name] = "gone from the camera between two looks (loop recording)"
            continue
        try:
            size = client.with_size(again).size
        except AbsurdSize as exc:
            report.rejected.append(Rejected(again.url_path, str(exc)))
            continue
        except DownloadError as exc:
            report.failed[remote.name] = str(exc)
            continue
        if again.url_path == remote.url_path and size == remote.size:
            stable.append(remote)
        else:
            report.still_recording.append(remote.name)
    return stable


def sync(
    client: CameraClient,
    dest_dir: Path,
    *,
    protected_only: bool = False,
    delete_after: bool = False,
    dry_run: bool = False,
    order: Literal["oldest", "newest"] = "oldest",
    stable_check: float | None = 2.0,
    already_have: Callable[[RemoteFile], bool] | None = None,
    on_file: Callable[[RemoteFile, Path], Any] | None = None,
) -> SyncReport:
    """One pass over the camera into ``dest_dir``; never raises for "no camera" or a camera lost mid-pass.

    ``on_file(remote, path)`` runs in the calling thread after each verified download.
    ``delete_after`` deletes a clip on the camera only after its download was verified.
    """
    if order not in ("oldest", "newest"):
        raise ValueError(f"order must be 'oldest' or 'newest', got {order!r}")
    report = SyncReport()
    try:
        first = _look(client, report)
        if first is None:
            return report
        report.listing_source = first.source
        report.rejected.extend(first.rejected)
        todo = _candidates(client, _select(first, report, protected_only), dest_dir, report, already_have)
        todo = _stable(client, todo, report, stable_check)
    except CameraUnreachable as exc:
        log.info("%s", exc)
        report.camera_reachable = report.listing_source is not None
        report.camera_lost = report.camera_reachable
        return report
    clips = {r.name: parse_clip_name(r.name, fallback_time=r.time) for r in todo}
    todo.sort(key=lambda r: (clips[r.name].recorded_local or datetime.min, r.name), reverse=order == "newest")
    report.warnings += [
        f"{n}: name matches no known camera style, using the file time"
        for n, c in clips.items()
        if not c.matched
    ]
    if dry_run:
        report.planned = [r.name for r in todo]
        report.planned_files = list(todo)
        return report

    lost = threading.Event()

    def fetch(remote: RemoteFile) -> tuple[Path | None, str | None, bool]:
        if lost.is_set():
            return None, f"{remote.name}: {CAMERA_GONE}", False
        try:
            path = client.download(remote, dest_dir)
        except CameraUnreachable as exc:
            lost.set()
            return None, f"{remote.name}: {CAMERA_GONE} ({exc})", False
        except (DownloadError, OSError) as exc:
            return None, str(exc), False
        if not delete_after:
            return path, None, False
        try:
            client.delete(remote)
        except (CameraError, CameraUnreachable) as exc:
            return path, f"downloaded, but {exc}", False
        return path, None, True

    with ThreadPoolExecutor(max_workers=client.max_connections, thread_name_prefix="camera") as pool:
        futures = {pool.submit(fetch, r): r for r in todo}
        for future in as_completed(futures):
            remote = futures[future]
            path, problem, deleted = future.result()
            if path is not None:
                report.downloaded.append(path)
                if on_file is not None:
                    on_file(remote, path)
            if problem and path is None:
                report.failed[remote.name] = problem
            elif problem:
                report.warnings.append(problem)
            if deleted:
                report.deleted.append(remote.name)
    rank = {r.name: i for i, r in enumerate(todo)}
    report.downloaded.sort(key=lambda p: rank[p.name])
    report.camera_lost = lost.is_set()
    return report
