"""The whole job on one machine as Prefect subflows: ingest -> preprocess -> heavy -> archive.

`dashcam run --prefect` runs it on a temporary Prefect server (and `dashcam run` does, where a Prefect server
is configured); plain `dashcam run` drives the same job in process (:mod:`dashcam.stages.inprocess`). In a
distributed deployment each stage runs on its own pool and the stages chain through deployments instead.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from dashcam.stages.jobs import Outcome, pipeline_job
from flows.common import stage_context
from flows.heavy import heavy
from flows.ingest import ingest
from flows.preprocess import preprocess


def _archive(clip_ids: list[int]) -> list[Outcome]:
    try:
        from flows.archive import archive
    except ImportError:  # the archive stage is optional on one machine
        return [{"clip_id": c, "ok": True, "skipped": True} for c in clip_ids]
    return archive(clip_ids)


def load_models() -> None:
    """Load every model the stages will use into this process's stage context, ahead of the flows (`dashcam
    run --prefect` does it while its Prefect server boots). A model that fails to load is left for its stage
    to report, with the clip it was working on."""
    from dashcam.stages.inprocess import load_models as load

    load(stage_context())


@flow(name="pipeline")
def pipeline(paths: list[str], archive: bool = True) -> dict[str, Any]:
    """Process files and folders end to end; a failed clip is reported and every other clip goes on."""
    stages: list[tuple[str, Any]] = [("preprocess", preprocess), ("heavy", heavy)]
    if archive:
        stages.append(("archive", _archive))
    return pipeline_job(stage_context(), paths, ingest=ingest, stages=stages, logger=get_run_logger())
