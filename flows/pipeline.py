"""The whole job on one machine: ingest -> preprocess -> heavy -> archive, as subflows (`dashcam run`).

In a distributed deployment each stage runs on its own pool and the stages chain through deployments;
here they run in one process on the embedded default, with the same flows and the same idempotence.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from sqlalchemy import func, select

from dashcam.db.models import Clip, Sighting
from dashcam.db.session import session_scope
from flows.common import report, stage_context
from flows.heavy import heavy
from flows.ingest import ingest
from flows.preprocess import preprocess


def _archive(clip_ids: list[int]) -> list[dict[str, Any]]:
    try:
        from flows.archive import archive
    except ImportError:  # the archive stage is optional on one machine
        return [{"clip_id": c, "ok": True, "skipped": True} for c in clip_ids]
    return archive(clip_ids)


def load_models() -> None:
    """Load every model the stages will use into this process's stage context, ahead of the flows (`dashcam
    run` does it while its Prefect server boots). A model that fails to load is left for its stage to
    report, with the clip it was working on."""
    from dashcam.stages.heavy import plate_reader, vehicle_model
    from dashcam.stages.preprocess import coarse_detector

    ctx = stage_context()
    for load in (coarse_detector, vehicle_model, plate_reader):
        try:
            load(ctx)
        except Exception as exc:  # noqa: BLE001 - the stage raises it again, where it belongs
            logging.getLogger(__name__).debug("loading ahead: %s", exc)


@flow(name="pipeline")
def pipeline(paths: list[str], archive: bool = True) -> dict[str, Any]:
    """Process files and folders end to end; a failed clip is reported and every other clip goes on."""
    log = get_run_logger()
    ctx = stage_context()
    folders = [p for p in paths if Path(p).is_dir()]
    files = [p for p in paths if not Path(p).is_dir()]
    failures: list[dict[str, Any]] = []
    clip_ids: list[int] = []
    for folder in folders:
        res = ingest(folder=folder)
        clip_ids += res["clip_ids"]
        failures += [{"clip": name, "stage": "ingest", "error": why} for name, why in res["failed"].items()]
    if files:
        res = ingest(files=files)
        clip_ids += res["clip_ids"]
        failures += [{"clip": name, "stage": "ingest", "error": why} for name, why in res["failed"].items()]
    clip_ids = list(dict.fromkeys(clip_ids))
    report("pipeline", None, "", f"clips={len(clip_ids)}")
    names = _names(ctx, clip_ids)

    ok = clip_ids
    stages: list[tuple[str, Any]] = [("preprocess", preprocess), ("heavy", heavy)]
    if archive:
        stages.append(("archive", _archive))
    for stage, run in stages:
        if not ok:
            break
        results = run(ok)
        failures += [
            {
                "clip": names.get(r["clip_id"], str(r["clip_id"])),
                "clip_id": r["clip_id"],
                "stage": stage,
                "error": r["error"],
            }
            for r in results
            if not r["ok"]
        ]
        ok = [r["clip_id"] for r in results if r["ok"]]

    with session_scope(ctx.engine) as s:
        sightings = s.execute(
            select(func.count()).select_from(Sighting).where(Sighting.clip_id.in_(clip_ids))
        ).scalar_one()  # type: ignore[attr-defined]
        plates = s.execute(
            select(func.count(func.distinct(Sighting.plate_text))).where(
                Sighting.clip_id.in_(clip_ids),
                Sighting.plate_text.is_not(None),  # type: ignore[attr-defined, union-attr]
            )
        ).scalar_one()
    summary = {
        "clips": len(clip_ids),
        "processed": len(ok),
        "sightings": int(sightings),
        "plates": int(plates),
        "failures": failures,
        "clip_ids": clip_ids,
    }
    log.info(
        "pipeline: %d clip(s), %d sighting(s), %d plate(s), %d failure(s)",
        len(clip_ids),
        sightings,
        plates,
        len(failures),
    )
    return summary


def _names(ctx: Any, clip_ids: list[int]) -> dict[int, str]:
    if not clip_ids:
        return {}
    with session_scope(ctx.engine) as s:
        return dict(s.execute(select(Clip.id, Clip.file_name).where(Clip.id.in_(clip_ids))).all())  # type: ignore[attr-defined, arg-type]
