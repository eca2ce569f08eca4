"""Stage logic as plain functions: what each Prefect flow in ``flows/`` wraps.

Every stage records its state per clip in ``stage_run`` (running, done, failed with a one-line reason),
skips a clip whose stored cache key already matches (a rerun does no work), and writes its results
idempotently, so a retry after a crash replaces rather than duplicates.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from dashcam.config import Config, load_config
from dashcam.db import crud
from dashcam.db.models import Clip
from dashcam.db.session import ensure_schema, get_engine, session_scope
from dashcam.pipeline import STAGE_VERSIONS
from dashcam.storage import Storage

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    """A stage failed for one clip; the reason is recorded in the database."""


class NotRetryable(StageFailed):
    """A failure a retry cannot fix (corrupt input, missing model): retries are refused."""


@dataclass
class StageContext:
    """What a stage needs on this device: configuration, storage areas, database, loaded models."""

    config: Config
    device: str = field(default_factory=socket.gethostname)
    flow_run_id: str | None = None
    _models: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, flow_run_id: str | None = None) -> StageContext:
        cfg = load_config()
        return cls(config=cfg, device=cfg.settings.device, flow_run_id=flow_run_id)

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.config)

    @cached_property
    def engine(self) -> Engine:
        url = self.config.database_url()
        ensure_schema(url)
        return get_engine(url=url)

    @property
    def models_dir(self) -> str | None:
        s = self.config.settings
        return str(s.models_dir) if s.models_dir else self.config.global_config.models_dir

    def cached(self, key: str, factory: Any) -> Any:
        """A loaded model kept for the life of this process (never passed between tasks)."""
        if key not in self._models:
            self._models[key] = factory()
        return self._models[key]

    def clip(self, clip_id: int) -> Clip:
        with session_scope(self.engine) as s:
            clip = s.get(Clip, clip_id)
            if clip is None:
                raise NotRetryable(f"clip {clip_id} is not registered")
            s.expunge(clip)
            return clip

    def raw_path(self, clip: Clip) -> Path:
        """A local path to the clip's raw bytes (downloaded to scratch when the area is remote)."""
        if not clip.raw_key:
            raise NotRetryable(f"{clip.file_name}: raw file is gone (deleted by retention)")
        area = self.storage["raw"]
        if area.is_local:
            p = area.path(clip.raw_key)
            if not p.is_file():
                raise NotRetryable(f"{clip.file_name}: raw file missing at {p}")
            return p
        local = self.storage.scratch_dir / "raw" / clip.raw_key
        if not local.is_file() or local.stat().st_size != clip.size_bytes:
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(local.name + ".tmp-dl")
            with area.open(clip.raw_key) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            tmp.replace(local)
        return local


def already_done(ctx: StageContext, clip_id: int, stage: str, cache_key: str) -> bool:
    """True when this stage finished this clip with the same cache key (a rerun does nothing)."""
    with session_scope(ctx.engine) as s:
        run = crud.stage_status(session=s, clip_id=clip_id, stage=stage)
        return run is not None and run.status == "done" and run.cache_key == cache_key


@contextmanager
def recorded(
    ctx: StageContext, clip_id: int, stage: str, cache_key: str | None = None
) -> Iterator[dict[str, Any]]:
    """Record a stage run: running now; done with the stats the body fills in; failed with the reason."""
    with session_scope(ctx.engine) as s:
        crud.stage_started(
            session=s,
            clip_id=clip_id,
            stage=stage,
            version=STAGE_VERSIONS[stage],
            device=ctx.device,
            flow_run_id=ctx.flow_run_id,
            cache_key=cache_key,
        )
    out: dict[str, Any] = {}
    try:
        yield out
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        with session_scope(ctx.engine) as s:
            crud.stage_finished(session=s, clip_id=clip_id, stage=stage, status="failed", error=reason)
        log.error("%s failed for clip %s: %s", stage, clip_id, reason)
        raise
    with session_scope(ctx.engine) as s:
        crud.stage_finished(
            session=s,
            clip_id=clip_id,
            stage=stage,
            status=out.pop("_status", "done"),
            error=out.pop("_error", None),
            output_key=out.pop("_output_key", None),
            stats=out or None,
        )
