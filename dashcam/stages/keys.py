"""What makes a stage's output what it is: versions and cache keys.

A stage's cache key is (clip content hash, stage version, model checksums, config hash): a retry or a
rerun with the same key must produce the same output, so it may skip the work; any change to the
inputs, the code version, the model or the relevant configuration gives a new key.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dashcam.files import file_digest

STAGES = ("ingest", "preprocess", "heavy", "archive")

# Bump a stage's version when its output for the same input changes: it is part of the stage's cache key
# (a rerun after an upgrade recomputes) and the preprocess manifest records it. The one place it is kept.
STAGE_VERSIONS = {"ingest": "1", "preprocess": "4", "heavy": "6", "archive": "1"}


def config_hash(*sections: BaseModel | dict[str, Any] | None) -> str:
    """Stable hash of the configuration sections a stage's output depends on."""
    docs = [s.model_dump(mode="json") if isinstance(s, BaseModel) else s for s in sections]
    blob = json.dumps(docs, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_sha(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(path)  # size and mtime only key the cache


def model_checksum(path: str | os.PathLike[str]) -> str:
    """sha256 of a model file (cached per path, size and modification time)."""
    st = os.stat(path)
    return _file_sha(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def stage_key(
    stage: str, clip_hash: str, *, models: list[str] | tuple[str, ...] = (), config: str = ""
) -> str:
    """The cache key of one stage for one clip."""
    if stage not in STAGE_VERSIONS:
        raise ValueError(f"unknown stage {stage!r}")
    model_part = hashlib.sha256("|".join(models).encode()).hexdigest()[:12] if models else "nomodel"
    return f"{stage}-v{STAGE_VERSIONS[stage]}-{clip_hash[:32]}-{model_part}-{config or 'noconfig'}"


def model_files(cfg: Any, models_dir: str | Path | None) -> list[Path]:
    """The model files a detector config will load (its CPU fallback too), found without loading them."""
    from dashcam.vision.models import find_model, resolve_any

    paths = [resolve_any(cfg.model, models_dir=models_dir)]
    fallback = getattr(cfg, "fallback_model", None)
    if fallback and (found := find_model(fallback, models_dir=models_dir)) is not None:
        paths.append(found)
    return paths


def pending_work(
    session: Any, *, now: Any = None, max_attempts: int = 5, grace_s: float = 600.0
) -> list[dict[str, Any]]:
    """Clips whose pipeline stalled: a stage held by a dead attempt (lease expired), or a next stage
    never started after the previous one finished (a lost chain event). Each item says what to rerun.
    """
    from datetime import timedelta

    from sqlalchemy import select

    from dashcam.db.models import Clip, StageRun, utcnow

    now = now or utcnow()
    settled = now - timedelta(seconds=grace_s)  # a chain event younger than this may still be on its way
    runs: dict[int, dict[str, Any]] = {}
    for r in session.execute(select(StageRun)).scalars():
        runs.setdefault(r.clip_id, {})[r.stage] = r
    out: list[dict[str, Any]] = []
    for clip_id, digest in session.execute(select(Clip.id, Clip.content_hash)).all():
        by_stage = runs.get(clip_id, {})
        for prev, stage in zip(STAGES, STAGES[1:], strict=False):
            run = by_stage.get(stage)
            before = by_stage.get(prev)
            if before is None or before.status != "done":
                break
            lease = run.lease_until if run is not None else None
            if lease is not None and lease.tzinfo is None:
                lease = lease.replace(tzinfo=now.tzinfo)
            finished = before.finished_at
            if finished is not None and finished.tzinfo is None:
                finished = finished.replace(tzinfo=now.tzinfo)
            if (run is None or run.status == "queued") and finished is not None and finished < settled:
                out.append(
                    {
                        "stage": stage,
                        "clip_id": clip_id,
                        "hash": digest,
                        "reason": "never started",
                        "attempt": 0,
                    }
                )
            elif (
                run is not None
                and run.status == "running"
                and lease is not None
                and lease < now
                and run.attempts < max_attempts
            ):
                out.append(
                    {
                        "stage": stage,
                        "clip_id": clip_id,
                        "hash": digest,
                        "attempt": run.attempts,
                        "reason": f"attempt {run.attempts} on {run.device or '?'} stopped renewing its claim (worker died?)",
                    }
                )
            if run is None or run.status != "done":
                break
    return out
