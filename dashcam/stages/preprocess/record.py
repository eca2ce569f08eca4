"""Preprocess stage for one clip: cheap pass -> manifest in ``preproc/`` + windows in the database."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dashcam.db import crud
from dashcam.db.session import session_scope
from dashcam.stages.context import NotRetryable, StageContext, already_done, known_failure, recorded
from dashcam.stages.keys import config_hash, model_checksum, model_files, stage_key
from dashcam.stages.preprocess.analysis import Manifest, preprocess_clip
from dashcam.storage import clip_key
from dashcam.video.decode import VideoError
from dashcam.vision.defaults import coarse_detector as default_coarse
from dashcam.vision.errors import VisionError

log = logging.getLogger(__name__)
STAGE = "preprocess"
MANIFEST_NAME = "preprocess.json"


@dataclass
class PreprocessResult:
    clip_id: int
    skipped: bool
    windows: int
    seconds_passed: float
    duration_s: float
    manifest_key: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def coarse_config(ctx: StageContext) -> Any:
    """The configured coarse detector, refined by this device's coral section."""
    coral = ctx.config.device.coral
    cfg = default_coarse(ctx.config.global_config.vision, coral=coral is not None, models_dir=ctx.models_dir)
    if cfg is None:
        raise NotRetryable("vision.coarse_detector is disabled: the preprocess stage needs one")
    if cfg.type == "litert" and coral is not None and coral.device_path and cfg.edgetpu_device is None:
        cfg = cfg.model_copy(update={"edgetpu_device": coral.device_path})
    return cfg


def coarse_detector(ctx: StageContext) -> Any:
    """The coarse detector, loaded once per process."""
    return ctx.detector("coarse", coarse_config(ctx))


def preprocess_key(ctx: StageContext, clip_hash: str) -> str:
    """The cache key, computed from the model files without loading them."""
    cfg = coarse_config(ctx)
    g = ctx.config.global_config
    models = [model_checksum(p) for p in model_files(cfg, ctx.models_dir)]
    return stage_key(STAGE, clip_hash, models=models, config=config_hash(g.detection, cfg))


def run_preprocess(clip_id: int, ctx: StageContext) -> PreprocessResult:
    """Run (or skip, when done with the same key) the preprocess stage for one clip."""
    clip = ctx.clip(clip_id)
    try:
        key = preprocess_key(ctx, clip.content_hash)
    except VisionError as exc:
        with recorded(ctx, clip_id, STAGE):
            raise NotRetryable(str(exc)) from exc
    mkey = clip_key(clip.content_hash, MANIFEST_NAME)
    area = ctx.storage["preproc"]
    if (reason := known_failure(ctx, clip_id, STAGE, key)) is not None:
        raise NotRetryable(reason)
    if already_done(ctx, clip_id, STAGE, key) and area.exists(mkey):
        m = Manifest.from_json(area.open(mkey).read())
        return PreprocessResult(clip_id, True, len(m.windows), m.seconds_passed, m.duration_s, mkey, m.error)
    det = coarse_detector(ctx)
    g = ctx.config.global_config
    with recorded(ctx, clip_id, STAGE, key) as out:
        path = ctx.raw_path(clip)
        try:
            manifest = preprocess_clip(
                path,
                detector=det,
                cfg=g.detection,
                clip_hash=clip.content_hash,
                model=det.model_path.name if det.model_path else "?",
                config_hash=key.rsplit("-", 1)[-1],
            )
        except VideoError as exc:
            raise NotRetryable(f"{clip.file_name}: {str(exc).split(': ', 1)[-1]}") from exc
        area.write_bytes(mkey, manifest.to_json())
        with session_scope(ctx.engine) as s:
            crud.replace_windows(
                session=s,
                clip_id=clip_id,
                windows=[
                    {"start_s": w.start, "end_s": w.end, "score": w.score, "labels": w.labels}
                    for w in manifest.windows
                ],
            )
            if manifest.duration_s and not clip.duration_s:
                crud.update_clip(session=s, clip_id=clip_id, duration_s=manifest.duration_s)
        out.update(
            _output_key=mkey,
            windows=len(manifest.windows),
            seconds_passed=manifest.seconds_passed,
            samples=manifest.samples,
            static_samples=manifest.static_samples,
            sample_mode=manifest.sample_mode,
        )
        if manifest.error:
            out["_error"] = manifest.error
    return PreprocessResult(
        clip_id,
        False,
        len(manifest.windows),
        manifest.seconds_passed,
        manifest.duration_s,
        mkey,
        manifest.error,
    )
