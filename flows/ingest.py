"""Ingest flow (the `nas` pool: indoor NAS): camera Wi-Fi sync or folder import, each clip registered once."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from dashcam.stages.ingest import record as steps
from dashcam.stages.jobs import IngestSteps, Outcome, ingest_job, report
from flows.common import chain_next, outcome, retry_options, retryable, stage_context


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
    return steps.import_into_incoming(stage_context(), folder, move, files)


@task(name="register-clip", task_run_name="register-{name}", retry_condition_fn=retryable)
def register_clip(
    path: str, name: str, source: str, sha256: str | None = None, protected: bool = False
) -> dict[str, Any]:
    """Put one clip at its raw key and register it (idempotent by content hash)."""
    reg = steps.register_file(
        path, stage_context(), source=source, move=True, content_hash=sha256, protected=protected
    )
    report("ingest", reg.clip_id, reg.name, "registered" if reg.created else "known")
    return reg.as_dict()


@task(name="plan-camera-sync", task_run_name="plan-{url}")
def plan_camera_sync(url: str, stable_check_s: float = 2.0) -> dict[str, Any]:
    """List the camera and pick the finished clips we do not have yet ("no camera" is a state, not an error)."""
    return steps.plan_camera_sync(stage_context(), url, stable_check_s)


@task(name="download-clip", task_run_name="download-{remote[name]}", retry_condition_fn=retryable)
def download_clip(url: str, remote: dict[str, Any]) -> dict[str, Any]:
    """Download one clip (resuming a .part), register it, and delete it from the camera if configured."""
    reg = steps.download_and_register(stage_context(), url, remote)
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
    ctx = stage_context()
    opts = retry_options(ctx)

    def register(path: str, name: str, source: str, sha256: str | None) -> Outcome:
        return outcome(0, register_clip.with_options(**opts)(path, name, source, sha256, return_state=True))

    def download(url: str, remote: dict[str, Any]) -> Outcome:
        return outcome(0, download_clip.with_options(**opts)(url, remote, return_state=True))

    result = ingest_job(
        ctx,
        IngestSteps(
            import_files=import_into_incoming,
            register=register,
            plan_camera=plan_camera_sync,
            download=download,
        ),
        folder=folder,
        camera=camera,
        files=files,
        move=move,
        dry_run=dry_run,
        stable_check_s=stable_check_s,
        logger=get_run_logger(),
    )
    if chain and not dry_run:
        chain_next("ingest", result["new_clip_ids"])
    return result
