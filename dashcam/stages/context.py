"""What every stage shares: StageContext (configuration, storage, database, loaded models), the claim and lease
of a clip's stage, and the record of each run in ``stage_run``.

Every stage records its state per clip in ``stage_run`` (running, done, failed with a one-line reason),
skips a clip whose stored cache key already matches (a rerun does no work), and writes its results
idempotently, so a retry after a crash replaces rather than duplicates.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
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
from dashcam.logs import working_on
from dashcam.procs import describe_identity, identity_dead, process_identity
from dashcam.stages.keys import STAGE_VERSIONS
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
    # models may load in a background thread while the first clips are imported: one load per model
    _loading: threading.RLock = field(default_factory=threading.RLock, repr=False)

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
        ensure_schema(url, config=self.config)
        return get_engine(self.config, url=url)

    @property
    def models_dir(self) -> str | None:
        s = self.config.settings
        return str(s.models_dir) if s.models_dir else self.config.global_config.models_dir

    def cached(self, key: str, factory: Any) -> Any:
        """A loaded model kept for the life of this process (never passed between tasks)."""
        with self._loading:
            if key not in self._models:
                self._models[key] = factory()
            return self._models[key]

    def detector(self, role: str, cfg: Any) -> Any:
        """The detector a config describes, built and loaded once per process (and warmed up)."""

        def make() -> Any:
            from dashcam.vision.detectors import build_detector

            det = build_detector(cfg, models_dir=self.models_dir)
            det.load()
            return det

        return self.cached(f"{role}:{cfg.model_dump_json()}", make)

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


class ClipBusy(NotRetryable):
    """Another live attempt holds this clip's stage: this one steps aside (no retry, no failure)."""


class _LeaseRenewer(threading.Thread):
    """Keeps an attempt's claim alive while it works; a dead process stops renewing, so its lease runs out."""

    def __init__(self, ctx: StageContext, clip_id: int, stage: str, owner: str, lease_s: float):
        super().__init__(daemon=True, name=f"lease-{stage}-{clip_id}")
        self.ctx, self.clip_id, self.stage, self.owner, self.lease_s = ctx, clip_id, stage, owner, lease_s
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        with working_on(self.clip_id, self.ctx.flow_run_id):  # a thread starts with no context of its own
            self._renew()

    def _renew(self) -> None:
        while not self.stopped.wait(self.lease_s / 3):
            try:
                with session_scope(self.ctx.engine) as s:
                    if not crud.renew_claim(
                        session=s,
                        clip_id=self.clip_id,
                        stage=self.stage,
                        owner=self.owner,
                        lease_s=self.lease_s,
                    ):
                        self.lost = True
                        log.error("%s of clip %s: claim lost to another attempt", self.stage, self.clip_id)
                        return
            except Exception:  # a database hiccup: the next renewal tries again before the lease ends
                log.warning("%s of clip %s: lease renewal failed", self.stage, self.clip_id, exc_info=True)


def known_failure(ctx: StageContext, clip_id: int, stage: str, cache_key: str) -> str | None:
    """The reason this stage failed for good on exactly these inputs before (a rerun would fail the same way)."""
    with session_scope(ctx.engine) as s:
        run = crud.stage_status(session=s, clip_id=clip_id, stage=stage)
        if run is None or run.status != "failed" or run.cache_key != cache_key:
            return None
        return run.error if (run.stats or {}).get("permanent") else None


@contextmanager
def recorded(
    ctx: StageContext, clip_id: int, stage: str, cache_key: str | None = None
) -> Iterator[dict[str, Any]]:
    """Claim a clip's stage, record it running, then done with the stats the body fills in, or failed.

    The claim makes sure two workers never process one clip at once; it is renewed while the body runs.
    Log lines inside carry the clip and flow run ids (:func:`dashcam.logs.working_on`).
    """
    with working_on(clip_id, ctx.flow_run_id), _recorded(ctx, clip_id, stage, cache_key) as out:
        yield out


@contextmanager
def _recorded(ctx: StageContext, clip_id: int, stage: str, cache_key: str | None) -> Iterator[dict[str, Any]]:
    owner = uuid.uuid4().hex
    began = time.monotonic()
    lease = ctx.config.global_config.global_.claim_lease_s
    with session_scope(ctx.engine) as s:
        won = crud.claim_stage(
            session=s,
            clip_id=clip_id,
            stage=stage,
            version=STAGE_VERSIONS[stage],
            owner=owner,
            lease_s=lease,
            device=ctx.device,
            flow_run_id=ctx.flow_run_id,
            cache_key=cache_key,
            process=process_identity(),
            process_dead=identity_dead,
        )
    if not won:
        with session_scope(ctx.engine) as s:
            run = crud.stage_status(session=s, clip_id=clip_id, stage=stage)
            who = describe_identity(run.owner_process) if run and run.owner_process else run and run.device
            flow = f", flow run {run.flow_run_id}" if run and run.flow_run_id else ""
        raise ClipBusy(f"clip {clip_id}: {stage} is already running ({who or '?'}{flow})")
    renewer = _LeaseRenewer(ctx, clip_id, stage, owner, lease)
    renewer.start()
    out: dict[str, Any] = {}
    try:
        yield out
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        # Ctrl-C, SIGTERM: the attempt is abandoned, and its clip free for the next run at once
        renewer.stopped.set()
        with session_scope(ctx.engine) as s:
            crud.stage_finished(
                session=s, clip_id=clip_id, stage=stage, status="failed", error="interrupted", owner=owner
            )
        raise
    except Exception as exc:
        renewer.stopped.set()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # bad input fails the same way every time: remember that, so a rerun does not redo it
        permanent = (
            {"permanent": True} if isinstance(exc, NotRetryable) and not isinstance(exc, ClipBusy) else None
        )
        with session_scope(ctx.engine) as s:
            crud.stage_finished(
                session=s,
                clip_id=clip_id,
                stage=stage,
                status="failed",
                error=reason,
                owner=owner,
                stats=permanent,
            )
        log.error("%s failed for clip %s: %s", stage, clip_id, reason)
        raise
    finally:
        renewer.stopped.set()
    status = out.pop("_status", "done")
    with session_scope(ctx.engine) as s:
        crud.stage_finished(
            session=s,
            clip_id=clip_id,
            stage=stage,
            status=status,
            error=out.pop("_error", None),
            output_key=out.pop("_output_key", None),
            stats=out or None,
            owner=owner,
        )
    log.info("%s of clip %s: %s in %.1f s", stage, clip_id, status, time.monotonic() - began)
