"""Ingest flow (the `nas` pool: indoor NAS): camera Wi-Fi sync or folder import, each clip registered once."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from dashcam.camera.client import CameraClient
from dashcam.camera.importer import import_files, import_folder
from dashcam.camera.listing import RemoteFile
from dashcam.camera.names import is_video_name
from dashcam.stages import NotRetryable, StageContext
from dashcam.stages.ingest import incoming_dir, known_file, register_file
from flows.common import chain_next, report, retry_options, retryable, stage_context


def _camera_client(ctx: StageContext, url: str) -> CameraClient:
    cam = ctx.config.global_config.camera
    password = os.environ.get(cam.password_env)
    auth = ("admin", password) if password else None
    return CameraClient(url, max_connections=cam.max_connections, timeout=cam.timeout_s, auth=auth)


def _import_run_name() -> str:
    """``import-<folder>``, or ``import-<n>-file(s)`` for single files."""
    from prefect.runtime import task_run

    params = task_run.parameters
    if params.get("folder"):
        return f"import-{params['folder']}"
    return f"import-{len(params.get('files') or [])}-file(s)"


@task(name="import-folder", task_run_name=_import_run_name)
def import_into_incoming(
    folder: str | None, move: bool = False, files: list[str] | None = None
) -> dict[str, Any]:
    """Copy (or move) new clips from a folder, or single files, into the incoming area, verified by sha256."""
    ctx = stage_context()

    def have(p: Path, size: int) -> bool:
        return known_file(ctx, p.name, size) is not None

    if folder is not None:
        rep = import_folder(folder, incoming_dir(ctx), move=move, already_have=have)
    else:
        rep = import_files(files or [], incoming_dir(ctx), move=move, already_have=have)
    failed = dict(rep.failed)
    skipped = {}
    for rel, why in rep.skipped.items():
        # a truncated or unfinished MP4 in a folder the user handed us is a failure to report
        (failed if why.startswith("unfinished MP4") else skipped)[rel] = (
            f"{rel}: {why}" if why.startswith("unfinished") else why
        )
    for r in rep.rejected:
        failed[r.entry] = f"{r.entry}: {r.reason}"
    return {
        "files": [{"path": str(f.path), "sha256": f.sha256, "source": str(f.source)} for f in rep.imported],
        "skipped": skipped,
        "failed": failed,
        "warnings": rep.warnings,
    }


@task(name="register-clip", task_run_name="register-{name}", retry_condition_fn=retryable)
def register_clip(
    path: str, name: str, source: str, sha256: str | None = None, protected: bool = False
) -> dict[str, Any]:
    """Put one clip at its raw key and register it (idempotent by content hash)."""
    reg = register_file(
        path, stage_context(), source=source, move=True, content_hash=sha256, protected=protected
    )
    report("ingest", reg.clip_id, reg.name, "registered" if reg.created else "known")
    return reg.as_dict()


@task(name="plan-camera-sync", task_run_name="plan-{url}")
def plan_camera_sync(url: str, stable_check_s: float = 2.0) -> dict[str, Any]:
    """List the camera and pick the finished clips we do not have yet ("no camera" is a state, not an error)."""
    ctx = stage_context()
    cam = ctx.config.global_config.camera
    with _camera_client(ctx, url) as client:
        rep = client.sync(
            incoming_dir(ctx),
            protected_only=cam.protected_only,
            dry_run=True,
            order=cam.order,
            stable_check=stable_check_s,
            already_have=lambda r: r.size is not None and known_file(ctx, r.name, r.size) is not None,
        )
    return {
        "camera_reachable": rep.camera_reachable,
        "camera_lost": rep.camera_lost,
        "error": rep.error,
        "files": [dataclasses.asdict(r) for r in rep.planned_files],
        "still_recording": rep.still_recording,
        "skipped": rep.skipped,
        "failed": rep.failed,
        "rejected": {r.entry: r.reason for r in rep.rejected},
    }


@task(name="download-clip", task_run_name="download-{remote[name]}", retry_condition_fn=retryable)
def download_clip(url: str, remote: dict[str, Any]) -> dict[str, Any]:
    """Download one clip (resuming a .part), register it, and delete it from the camera if configured."""
    ctx = stage_context()
    rf = RemoteFile(**remote)
    with _camera_client(ctx, url) as client:
        path = client.download(rf, incoming_dir(ctx))
        reg = register_file(path, ctx, source=f"{url}{rf.url_path}", move=True, protected=rf.protected)
        if ctx.config.global_config.camera.delete_after_download:
            client.delete(rf)
    report("ingest", reg.clip_id, reg.name, "downloaded")
    return reg.as_dict()


@flow(name="ingest")
def ingest(
    folder: str | None = None,
    camera: str | None = None,
    files: list[str] | None = None,
    move: bool = False,
    dry_run: bool = False,
    stable_check_s: float = 2.0,
    chain: bool = False,
) -> dict[str, Any]:
    """Import a folder or single files, or sync the camera (the configured one when none is given).

    Every clip is registered once; ``clip_ids`` lists every clip of the input (known ones too),
    ``new_clip_ids`` the ones registered by this run.
    """
    log = get_run_logger()
    ctx = stage_context()
    opts = retry_options(ctx)
    result: dict[str, Any] = {
        "clip_ids": [],
        "new_clip_ids": [],
        "registered": [],
        "skipped": {},
        "failed": {},
    }
    if folder is not None or files:
        if folder is not None and not Path(folder).is_dir():
            raise NotRetryable(f"{folder}: not a folder to import from")
        imported = import_into_incoming(folder, move, None if folder is not None else files)
        result["skipped"].update(imported["skipped"])
        result["failed"].update(imported["failed"])
        # clips seen before keep their ids: the next stages check them (and skip finished work)
        for rel in imported["skipped"]:
            p = Path(folder) / rel if folder is not None else Path(rel)
            if p.is_file() and (cid := known_file(ctx, p.name, p.stat().st_size)) is not None:
                result["clip_ids"].append(cid)
        if dry_run:
            result["planned"] = [f["path"] for f in imported["files"]]
            return result
        todo = {f["path"]: f for f in imported["files"]}
        # leftovers of an interrupted run sit in incoming too: register them now
        for p in sorted(incoming_dir(ctx).iterdir()):
            if p.is_file() and is_video_name(p.name) and str(p) not in todo:
                todo[str(p)] = {"path": str(p), "sha256": None, "source": str(p)}
        for f in todo.values():
            p = Path(f["path"])
            state = register_clip.with_options(**opts)(
                str(p), p.name, f["source"], f["sha256"], return_state=True
            )
            _collect(result, p.name, state)
    else:
        url = camera or ctx.config.global_config.camera.address
        plan = plan_camera_sync(url, stable_check_s)
        result.update(
            camera_reachable=plan["camera_reachable"],
            camera_lost=plan["camera_lost"],
            still_recording=plan["still_recording"],
            rejected=plan["rejected"],
        )
        result["skipped"].update(plan["skipped"])
        result["failed"].update(plan["failed"])
        if not plan["camera_reachable"]:
            log.info("no camera at %s (the car is away): nothing to do", url)
            return result
        if dry_run:
            result["planned"] = [f["name"] for f in plan["files"]]
            return result
        for remote in plan["files"]:
            state = download_clip.with_options(**opts)(url, remote, return_state=True)
            _collect(result, remote["name"], state)
    if chain:
        chain_next("ingest", result["new_clip_ids"])
    log.info(
        "ingest: %d clip(s) registered (%d new), %d skipped, %d failed",
        len(result["registered"]),
        len(result["new_clip_ids"]),
        len(result["skipped"]),
        len(result["failed"]),
    )
    return result


def _collect(result: dict[str, Any], name: str, state: Any) -> None:
    if state.is_completed():
        reg = state.result()
        result["registered"].append(reg)
        result["clip_ids"].append(reg["clip_id"])
        if reg["created"]:
            result["new_clip_ids"].append(reg["clip_id"])
        return
    exc = state.result(raise_on_failure=False)
    result["failed"][name] = (
        str(exc).splitlines()[0]
        if isinstance(exc, BaseException) and str(exc)
        else (state.message or "failed")
    )
