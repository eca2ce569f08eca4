"""What a stage does over many clips, written once for the two ways it runs.

A Prefect flow (``flows/``) and the in-process runner (:mod:`dashcam.stages.inprocess`, what `dashcam run`
uses on one machine) drive the same jobs: they differ only in how one step is called (a Prefect task
with retries and a cache, or a plain call). Every step's result is an *outcome*: ``{"clip_id", "ok": True,
...the stage's result}`` or ``{"clip_id", "ok": False, "busy", "error": one line}``. A failed clip never
stops the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dashcam.camera.names import is_video_name
from dashcam.logs import working_on
from dashcam.stages.context import ClipBusy, NotRetryable, StageContext
from dashcam.stages.findings import watchlist_hits
from dashcam.stages.ingest.record import incoming_dir, known_file
from dashcam.storage import no_space

log = logging.getLogger(__name__)

Outcome = dict[str, Any]


class Logger(Protocol):
    """A stdlib logger or Prefect's run logger (flow-run logs reach the Prefect UI)."""

    def info(self, msg: str, *args: Any) -> None: ...

    def error(self, msg: str, *args: Any) -> None: ...


# ---------------------------------------------------------------- progress


# A process-local progress hook: the CLI installs one to draw progress bars; workers leave it unset.
_REPORTER: Callable[[str, int | None, str, str], None] | None = None


def set_reporter(fn: Callable[[str, int | None, str, str], None] | None) -> None:
    global _REPORTER
    _REPORTER = fn


def report(stage: str, clip_id: int | None, name: str, what: str) -> None:
    """Tell the local progress display (if any) that a clip moved on."""
    if _REPORTER is not None:
        _REPORTER(stage, clip_id, name, what)


# ---------------------------------------------------------------- outcomes


def first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def failed(clip_id: int, exc: BaseException) -> Outcome:
    return {"clip_id": clip_id, "ok": False, "busy": isinstance(exc, ClipBusy), "error": first_line(exc)}


def call_outcome(clip_id: int, call: Callable[[], Any]) -> Outcome:
    """Run one clip's step in this process: its result as an outcome, or its failure as one line."""
    try:
        res = call()
    except Exception as exc:  # noqa: BLE001 - every failure of one clip is that clip's outcome
        if no_space(exc):
            raise  # ...but a full disk fails every clip after it the same way: the whole run stops
        log.debug("clip %s failed", clip_id, exc_info=True)
        return failed(clip_id, exc)
    return {"clip_id": clip_id, "ok": True, **(res.as_dict() if hasattr(res, "as_dict") else res or {})}


def run_each(
    stage: str,
    clip_ids: Sequence[int],
    step: Callable[[int], Outcome],
    *,
    describe: Callable[[Outcome], str],
    logger: Logger = log,
) -> list[Outcome]:
    """A stage's step for each clip in turn, each outcome logged; a failure never stops the batch."""
    results = []
    for clip_id in clip_ids:
        with working_on(clip_id):
            res = step(clip_id)
            if res["ok"]:
                logger.info("clip %s: %s", clip_id, describe(res))
            elif res.get("busy"):
                logger.info("clip %s: %s", clip_id, res["error"])
            else:
                logger.error("clip %s: %s failed: %s", clip_id, stage, res["error"])
        results.append(res)
    return results


DESCRIBE: dict[str, Callable[[Outcome], str]] = {
    "preprocess": lambda r: (
        f"{r['windows']} window(s), {r['seconds_passed']:.1f} s of {r['duration_s']:.1f} s passed on"
    ),
    "heavy": lambda r: f"{r['sightings']} sighting(s), {r['plates']} plate(s)",
    "archive": lambda r: f"{r['archived']} archived, {r['resumed']} resumed, {r['bytes']} byte(s)",
}


# ---------------------------------------------------------------- ingest


@dataclass
class IngestSteps:
    """How the ingest job calls each of its steps (Prefect tasks, or plain calls)."""

    # (folder, move, files) -> the import report: files, skipped, failed, warnings
    import_files: Callable[[str | None, bool, list[str] | None], dict[str, Any]]
    # (path, name, source, sha256) -> outcome of registering one file
    register: Callable[[str, str, str, str | None], Outcome]
    # (url, stable_check_s) -> the camera's plan: camera_reachable, files, ...
    plan_camera: Callable[[str, float], dict[str, Any]]
    # (url, remote file) -> outcome of downloading and registering one clip
    download: Callable[[str, dict[str, Any]], Outcome]


def ingest_job(
    ctx: StageContext,
    steps: IngestSteps,
    *,
    folder: str | None = None,
    camera: str | None = None,
    files: list[str] | None = None,
    move: bool = False,
    dry_run: bool = False,
    stable_check_s: float = 2.0,
    logger: Logger = log,
) -> dict[str, Any]:
    """Import a folder or single files, or sync the camera (the configured one when none is given).

    Every clip is registered once; ``clip_ids`` lists every clip of the input (known ones too),
    ``new_clip_ids`` the ones registered by this run.
    """
    result: dict[str, Any] = {
        "clip_ids": [],
        "new_clip_ids": [],
        "registered": [],
        "skipped": {},
        "failed": {},
        "notes": [],  # one line each: an entry passed over, a name not understood, a duplicate
    }
    if folder is not None or files:
        if folder is not None and not Path(folder).is_dir():
            raise NotRetryable(f"{folder}: not a folder to import from")
        imported = steps.import_files(folder, move, None if folder is not None else files)
        result["skipped"].update(imported["skipped"])
        result["failed"].update(imported["failed"])
        result["notes"] += [f"{rel}: {why}" for rel, why in imported.get("passed_over", {}).items()]
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
            _collect(result, p.name, steps.register(str(p), p.name, f["source"], f["sha256"]))
    else:
        url = camera or ctx.config.global_config.camera.address
        plan = steps.plan_camera(url, stable_check_s)
        result.update(
            camera_reachable=plan["camera_reachable"],
            camera_lost=plan["camera_lost"],
            still_recording=plan["still_recording"],
            rejected=plan["rejected"],
        )
        result["skipped"].update(plan["skipped"])
        result["failed"].update(plan["failed"])
        if not plan["camera_reachable"]:
            logger.info("no camera at %s (the car is away): nothing to do", url)
            return result
        if dry_run:
            result["planned"] = [f["name"] for f in plan["files"]]
            return result
        for remote in plan["files"]:
            _collect(result, remote["name"], steps.download(url, remote))
    for note in result["notes"]:
        logger.info("%s", note)
    logger.info(
        "ingest: %d clip(s) registered (%d new), %d skipped, %d failed",
        len(result["registered"]),
        len(result["new_clip_ids"]),
        len(result["skipped"]),
        len(result["failed"]),
    )
    return result


def _collect(result: dict[str, Any], name: str, out: Outcome) -> None:
    if not out["ok"]:
        result["failed"][name] = out["error"]
        return
    reg = {k: v for k, v in out.items() if k not in ("ok",)}
    result["registered"].append(reg)
    result["notes"] += reg.get("warnings") or []
    result["clip_ids"].append(reg["clip_id"])
    if reg["created"]:
        result["new_clip_ids"].append(reg["clip_id"])


# ---------------------------------------------------------------- the whole job on one machine


def pipeline_job(
    ctx: StageContext,
    paths: Sequence[str],
    *,
    ingest: Callable[..., dict[str, Any]],
    stages: Sequence[tuple[str, Callable[[list[int]], list[Outcome]]]],
    logger: Logger = log,
) -> dict[str, Any]:
    """Ingest files and folders, then each stage over the clips the one before passed; a summary."""
    folders = [p for p in paths if Path(p).is_dir()]
    files = [p for p in paths if not Path(p).is_dir()]
    failures: list[dict[str, Any]] = []
    clip_ids: list[int] = []
    notes: list[str] = []
    for kwargs in [{"folder": f} for f in folders] + ([{"files": files}] if files else []):
        res = ingest(**kwargs)
        clip_ids += res["clip_ids"]
        notes += res.get("notes", [])
        failures += [{"clip": name, "stage": "ingest", "error": why} for name, why in res["failed"].items()]
    clip_ids = list(dict.fromkeys(clip_ids))
    report("pipeline", None, "", f"clips={len(clip_ids)}")
    names = clip_names(ctx, clip_ids)
    ok = clip_ids
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
    summary = pipeline_summary(ctx, clip_ids, processed=len(ok), failures=failures)
    summary["notes"] = notes
    summary["watchlist"] = [h.as_dict() for h in watchlist_hits(ctx, clip_ids)]
    logger.info(
        "pipeline: %d clip(s), %d sighting(s), %d plate(s), %d failure(s)",
        summary["clips"],
        summary["sightings"],
        summary["plates"],
        len(failures),
    )
    return summary


def pipeline_summary(
    ctx: StageContext, clip_ids: list[int], *, processed: int, failures: list[dict[str, Any]]
) -> dict[str, Any]:
    from sqlalchemy import func, select

    from dashcam.db.models import Sighting
    from dashcam.db.session import session_scope

    with session_scope(ctx.engine) as s:
        sightings = s.execute(
            select(func.count()).select_from(Sighting).where(Sighting.clip_id.in_(clip_ids))  # type: ignore[attr-defined]
        ).scalar_one()
        plates = s.execute(
            select(func.count(func.distinct(Sighting.plate_text))).where(
                Sighting.clip_id.in_(clip_ids),  # type: ignore[attr-defined]
                Sighting.plate_text.is_not(None),  # type: ignore[union-attr]
            )
        ).scalar_one()
    return {
        "clips": len(clip_ids),
        "processed": processed,
        "sightings": int(sightings),
        "plates": int(plates),
        "failures": failures,
        "clip_ids": clip_ids,
    }


def clip_names(ctx: StageContext, clip_ids: list[int]) -> dict[int, str]:
    if not clip_ids:
        return {}
    from sqlalchemy import select

    from dashcam.db.models import Clip
    from dashcam.db.session import session_scope

    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Clip.id, Clip.file_name).where(Clip.id.in_(clip_ids))).all()  # type: ignore[attr-defined, arg-type]
    return {int(i): str(n) for i, n in rows}
