"""The stages in this process, without an orchestrator: the embedded default on one machine.

`dashcam run`, `ingest`, `archive`, `retention` and `demo` use this when no Prefect server is configured.
A Prefect server costs seconds to start (its imports alone take ~5 s on 2 cores, its database migrations
~6 s more on a fresh folder) and about a second of API round trips per flow and task run: more than the
work of a short clip. One machine needs none of what it orchestrates (work pools, workers, chaining), and
everything that makes the stages safe lives below it, in the database: the claim on a clip, the stored
cache key that makes a rerun skip finished work, the recorded failure. So the same jobs
(:mod:`dashcam.stages.jobs`) call the stage functions directly and record the same rows.

A failed clip is reported and not retried after a delay: the user is at the keyboard, and a rerun picks
it up (the camera client retries a dropped connection itself).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dashcam.stages.context import StageContext
from dashcam.stages.jobs import (
    DESCRIBE,
    IngestSteps,
    Outcome,
    call_outcome,
    ingest_job,
    pipeline_job,
    report,
    run_each,
)

log = logging.getLogger(__name__)


def load_models(ctx: StageContext) -> None:
    """Load every model the stages will use into ``ctx`` now (start-up, while the user is told so). A model
    that fails to load is left for its stage to report, with the clip it was working on."""
    from dashcam.stages.heavy.record import plate_reader, vehicle_model
    from dashcam.stages.preprocess.record import coarse_detector

    for load in (coarse_detector, vehicle_model, plate_reader):
        try:
            load(ctx)
        except Exception as exc:  # noqa: BLE001 - the stage raises it again, where it belongs
            log.debug("loading ahead: %s", exc)


def ingest(ctx: StageContext, **kwargs: Any) -> dict[str, Any]:
    """The ingest job (see :func:`dashcam.stages.jobs.ingest_job`) with each step a plain call."""
    from dashcam.stages.ingest import record as steps

    def register(path: str, name: str, source: str, sha256: str | None) -> Outcome:
        out = call_outcome(
            0,
            lambda: steps.register_file(path, ctx, source=source, move=True, content_hash=sha256),
        )
        if out["ok"]:
            report("ingest", out["clip_id"], out["name"], "registered" if out["created"] else "known")
        return out

    def download(url: str, remote: dict[str, Any]) -> Outcome:
        out = call_outcome(0, lambda: steps.download_and_register(ctx, url, remote))
        if out["ok"]:
            report("ingest", out["clip_id"], out["name"], "downloaded")
        return out

    return ingest_job(
        ctx,
        IngestSteps(
            import_files=lambda folder, move, files: steps.import_into_incoming(ctx, folder, move, files),
            register=register,
            plan_camera=lambda url, stable: steps.plan_camera_sync(ctx, url, stable),
            download=download,
        ),
        **kwargs,
    )


def _each(
    ctx: StageContext,
    stage: str,
    clip_ids: list[int],
    run: Callable[[int, StageContext], Any],
    said: Callable[[Outcome], str],
) -> list[Outcome]:
    """``run(clip_id, ctx)`` for each clip, its outcome told to the progress display as ``said(outcome)``."""

    def step(clip_id: int) -> Outcome:
        out = call_outcome(clip_id, lambda: run(clip_id, ctx))
        report(stage, clip_id, str(clip_id), said(out) if out["ok"] else "failed")
        return out

    return run_each(stage, clip_ids, step, describe=DESCRIBE[stage])


def preprocess(ctx: StageContext, clip_ids: list[int]) -> list[Outcome]:
    from dashcam.stages.preprocess.record import run_preprocess

    return _each(ctx, "preprocess", clip_ids, run_preprocess, lambda r: f"{r['windows']} window(s)")


def heavy(ctx: StageContext, clip_ids: list[int]) -> list[Outcome]:
    from dashcam.stages.heavy.record import run_heavy

    return _each(ctx, "heavy", clip_ids, run_heavy, lambda r: f"{r['sightings']} sighting(s)")


def archive(ctx: StageContext, clip_ids: list[int]) -> list[Outcome]:
    from dashcam.stages.archive.record import run_archive

    def said(r: Outcome) -> str:
        return "skipped" if r["skipped"] else f"{r['archived']} file(s) archived"

    return _each(ctx, "archive", clip_ids, run_archive, said)


def retention(ctx: StageContext, dry_run: bool = False) -> dict[str, Any]:
    """Plan, and unless ``dry_run`` apply, the retention rules; the summary `dashcam retention` prints."""
    from dashcam.stages.retention.apply import apply, summary
    from dashcam.stages.retention.plan import plan as plan_retention

    plan = plan_retention(ctx)
    if not dry_run:
        plan = apply(ctx, plan)
    return summary(plan, dry_run=dry_run)


def pipeline(ctx: StageContext, paths: list[str], *, archive_media: bool = True) -> dict[str, Any]:
    """Ingest -> preprocess -> heavy (-> archive) over files and folders, every clip in this process."""
    stages: list[tuple[str, Any]] = [
        ("preprocess", lambda ids: preprocess(ctx, ids)),
        ("heavy", lambda ids: heavy(ctx, ids)),
    ]
    if archive_media:
        stages.append(("archive", lambda ids: archive(ctx, ids)))
    return pipeline_job(ctx, paths, ingest=lambda **kw: ingest(ctx, **kw), stages=stages)
