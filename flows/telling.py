"""What a stage's flow run tells people through Prefect: an artifact of what it did (in the Prefect UI beside
the run), and events for what someone must hear (a watchlist plate seen, a clip that failed), which the
automation `dashcam setup --notify-block NAME` makes sends through the user's notification block.

The facts come from :mod:`dashcam.stages.findings`; this module only publishes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.events import emit_event

from dashcam.stages.context import StageContext
from dashcam.stages.findings import sightings_table, watchlist_hits
from dashcam.stages.jobs import Outcome

log = logging.getLogger(__name__)

WATCHLIST_HIT = "dashcam.watchlist.hit"
CLIP_FAILED = "dashcam.clip.failed"


def _clip_resource(clip_id: int, name: str | None = None, *, role: bool = True) -> dict[str, str]:
    res = {"prefect.resource.id": f"dashcam.clip.{clip_id}"}
    if role:
        res["prefect.resource.role"] = "clip"  # as a related resource
    if name:
        res["prefect.resource.name"] = name
    return res


def preprocess_artifact(results: list[Outcome]) -> None:
    """The windows kept per clip, and the share of the clip dropped before the GPU."""
    rows = [
        {
            "clip": r["clip_id"],
            "windows": r["windows"],
            "kept_s": round(r["seconds_passed"], 1),
            "duration_s": round(r["duration_s"], 1),
            "dropped": f"{1 - r['seconds_passed'] / r['duration_s']:.0%}" if r["duration_s"] else "",
        }
        for r in results
        if r["ok"]
    ]
    if rows:
        create_table_artifact(rows, key="preprocess-windows", description="Preprocess: what was passed on")


def heavy_artifacts(ctx: StageContext, results: list[Outcome]) -> None:
    """A table of each clip's sightings (plate, label, local time, place, link), and an event per sighting
    of a watchlist plate."""
    done = [r["clip_id"] for r in results if r["ok"]]
    for clip_id in done:
        rows = sightings_table(ctx, clip_id)
        create_table_artifact(
            rows or [{"plate": "", "label": "", "time": "", "place": "", "link": ""}],
            key=f"sightings-clip-{clip_id}",
            description=f"Heavy: {len(rows)} sighting(s) of clip {clip_id}",
        )
    for hit in watchlist_hits(ctx, done):
        emit_event(
            WATCHLIST_HIT,
            resource={
                "prefect.resource.id": f"dashcam.plate.{hit.plate}",
                "prefect.resource.name": hit.plate,
            },
            related=[
                _clip_resource(hit.clip_id, hit.file_name),
                {
                    "prefect.resource.id": f"dashcam.sighting.{hit.sighting_id}",
                    "prefect.resource.role": "sighting",
                },
            ],
            payload={**hit.as_dict(), "watchlist": list(hit.names), "message": hit.line()},
        )


def failed_events(stage: str, results: list[Outcome]) -> None:
    """An event per clip that failed (not one another worker holds): an automation can tell someone."""
    for r in results:
        if not r["ok"] and not r.get("busy"):
            emit_event(
                CLIP_FAILED,
                resource=_clip_resource(r["clip_id"], role=False),
                payload={"clip_id": r["clip_id"], "stage": stage, "error": r["error"]},
            )


def archive_artifact(results: list[Outcome]) -> None:
    ok = [r for r in results if r["ok"]]
    if ok:
        files = sum(r.get("archived", 0) + r.get("resumed", 0) for r in ok)
        size = sum(r.get("bytes", 0) for r in ok)
        create_markdown_artifact(
            f"Archived **{files}** object(s), **{size:,}** byte(s), of {len(ok)} clip(s).",
            key="archive-summary",
            description="Archive: objects and bytes",
        )


def retention_artifact(doc: dict[str, Any]) -> None:
    rows = [{"area": a, "files": v["files"], "bytes": v["bytes"]} for a, v in doc["by_area"].items()]
    verb = "would free" if doc["dry_run"] else "freed"
    create_table_artifact(
        rows or [{"area": "", "files": 0, "bytes": 0}],
        key="retention-summary",
        description=f"Retention {verb} {doc['files']} file(s), {doc['bytes']:,} byte(s)",
    )


def progress_reporter(description: str, every_s: float = 5.0) -> Callable[[float], None]:
    """A progress artifact of the running task, updated at most every ``every_s`` seconds (0..1 in)."""
    artifact = create_progress_artifact(progress=0.0, description=description)
    last = [time.monotonic()]

    def update(share: float) -> None:
        now = time.monotonic()
        if share < 1.0 and now - last[0] < every_s:
            return
        last[0] = now
        try:
            update_progress_artifact(artifact_id=artifact, progress=round(100 * min(1.0, share), 1))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a progress bar never fails the clip
            log.debug("progress artifact update failed", exc_info=True)

    return update
