"""Heavy stage for one clip: sightings, plate reads and web media, written in one transaction per clip."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from dashcam.db.models import GpsPoint, Media, PlateRead, Sighting, SightingTrack, utcnow
from dashcam.db.session import session_scope
from dashcam.files import file_digest
from dashcam.gps import Fix, Track
from dashcam.localtime import local_iso
from dashcam.search import index_plates, refresh_plates
from dashcam.stages.context import NotRetryable, StageContext, already_done, known_failure, recorded
from dashcam.stages.heavy import analysis as heavy
from dashcam.stages.heavy.links import link_neighbours
from dashcam.stages.heavy.votes import label_shares, sighting_plate
from dashcam.stages.keys import config_hash, model_checksum, model_files, stage_key
from dashcam.stages.preprocess.analysis import Manifest
from dashcam.stages.preprocess.record import MANIFEST_NAME
from dashcam.storage import clip_key
from dashcam.video.decode import VideoError
from dashcam.vision import lanecrop
from dashcam.vision.config import EasyOcrConfig, PlateOnnxOcrConfig, UltralyticsDetectorConfig
from dashcam.vision.defaults import plate_detector as default_plate
from dashcam.vision.defaults import vehicle_detector
from dashcam.vision.errors import VisionError
from dashcam.vision.plate_text import plate_key

log = logging.getLogger(__name__)
STAGE = "heavy"
MEDIA_PREFIX = "sighting-"


@dataclass
class HeavyResult:
    clip_id: int
    skipped: bool
    sightings: int
    plates: int
    frames: int
    error: str | None = None
    timings: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def vehicle_detector_config(ctx: StageContext) -> Any:
    """The configured vehicle detector; a device file's gpu section makes it the GPU box's. It keeps boxes
    down to the tracker's low threshold: the tracker's second pass (weak boxes that keep a track going)
    needs them, and a detector that drops them first leaves it nothing to do."""
    g = ctx.config.global_config
    cfg = g.vision.vehicle_detector
    low = g.detection.vehicle_low_conf
    gpu = ctx.config.device.gpu
    if gpu is not None:
        return UltralyticsDetectorConfig.for_gpu(
            device_id=gpu.device_id, max_batch_size=gpu.max_batch_size, model=gpu.yolo_model_path
        ).model_copy(update={"conf": low})
    if cfg is None:
        raise NotRetryable("vision.vehicle_detector is disabled: the heavy stage needs one")
    chosen = vehicle_detector(g.vision, models_dir=ctx.models_dir)
    return chosen.model_copy(update={"conf": min(chosen.conf, low)}) if chosen is not None else None


def vehicle_model(ctx: StageContext) -> Any:
    """The vehicle detector the stage uses, loaded once per process."""
    return ctx.detector("vehicle", vehicle_detector_config(ctx))


def on_device(ctx: StageContext, cfg: Any) -> Any:
    """A plate detector or OCR config as this device runs it: a gpu section puts its ONNX sessions on CUDA
    (TensorRT where installed), in batches of gpu.max_batch_size."""
    gpu = ctx.config.device.gpu
    if gpu is None or cfg is None:
        return cfg
    from dashcam.vision.providers import on_gpu

    return on_gpu(
        cfg,
        device_id=gpu.device_id,
        max_batch_size=gpu.max_batch_size,
        allow_cpu_fallback=gpu.allow_cpu_fallback,
    )


# video: the reader's own three crops (two on the character line, one fixed band). On OpenALPR's photos
# downscaled to 0.7, blurred and saved as JPEG 60 (plates as small as a dashcam's), us 0.617 / eu 0.778 exact
# against 0.559 / 0.741 for the fixed bands used before (band, band_narrow, band_clahe; docs/BENCHMARKS.md).
VIDEO_VARIANTS = ("line", "line_clahe", "band")


def plate_reader(ctx: StageContext) -> Any:
    """The plate reader, in video mode: vehicle crops are searched closely, the full frame now and then."""
    g = ctx.config.global_config
    det_cfg = on_device(ctx, default_plate(g.vision, models_dir=ctx.models_dir))
    if det_cfg is None:
        return None
    ocr_cfgs = [on_device(ctx, o) for o in g.vision.ocrs]
    from dashcam.vision.plate_text import PlateRules

    def make() -> Any:
        return VideoPlateReader.load(
            det_cfg, ocr_cfgs, PlateRules.from_section(g.plates), models_dir=ctx.models_dir
        )

    ocrs = ",".join(o.model_dump_json() for o in ocr_cfgs)
    key = f"plates:{det_cfg.model_dump_json()}:[{ocrs}]:{g.plates.model_dump_json()}"
    return ctx.cached(key, make)


class VideoPlateReader:
    """Plates inside the given vehicle boxes, or on the whole frame when none are given (with ``tiles``,
    searched tile by tile when the whole frame at the detector's size shows none)."""

    def __init__(self, crops: Any, whole: Any):
        self.crops, self.whole = crops, whole

    @classmethod
    def load(cls, det_cfg: Any, ocr_cfgs: Any, rules: Any, *, models_dir: Any) -> VideoPlateReader:
        """Both readers, loaded, sharing one plate detector and one set of recognisers."""
        from dashcam.vision.plates import PlateReader, PlateReaderOptions

        crops = PlateReader.from_config(
            det_cfg,
            ocr_cfgs,
            rules,
            PlateReaderOptions(full_frame_with_vehicles=False, tile_fallback=False, variants=VIDEO_VARIANTS),
            models_dir=models_dir,
        )
        crops.load()
        # the whole-frame pass (plates whose vehicle was missed) tiles the frame: far plates are a few
        # pixels at the detector's 320 px input otherwise; it shares the loaded models
        whole = PlateReader(
            crops.detector,
            crops.ocrs,
            crops.rules,
            # most frames have no plate to read: no second search in small tiles on each of them
            PlateReaderOptions(tile_fallback=True, variants=VIDEO_VARIANTS, unread_tiles=None),
            min_score=crops.min_score,
        )
        return cls(crops, whole)

    def read_image(
        self, frame: Any, vehicle_boxes: Any = None, skip_inside: Any = (), tiles: bool | None = None
    ) -> Any:
        if vehicle_boxes:
            return self.crops.read_image(frame, vehicle_boxes)
        return self.whole.read_image(frame, [], skip_inside=skip_inside, tiles=tiles)


def heavy_key(ctx: StageContext, clip_hash: str) -> str:
    """The cache key, computed from the model files without loading them."""
    g = ctx.config.global_config
    vcfg = vehicle_detector_config(ctx)
    paths = model_files(vcfg, ctx.models_dir)
    plate_cfg = default_plate(g.vision, models_dir=ctx.models_dir)
    if plate_cfg is not None:
        paths += model_files(plate_cfg, ctx.models_dir)
    for ocr in g.vision.ocrs:  # recognisers read from files: part of the key too
        if isinstance(ocr, PlateOnnxOcrConfig):
            from dashcam.vision.ocr.plate_onnx import PlateOnnxOcrBackend

            paths += PlateOnnxOcrBackend(ocr, models_dir=ctx.models_dir).files()
        elif isinstance(ocr, EasyOcrConfig):
            from dashcam.vision.ocr.easyocr import EasyOcrBackend

            paths += EasyOcrBackend(ocr, models_dir=ctx.models_dir).files()
    gpu = ctx.config.device.gpu
    cfg = config_hash(g.detection, g.plates, g.vision, vcfg, {"gpu": gpu.model_dump() if gpu else None})
    return stage_key(STAGE, clip_hash, models=[model_checksum(p) for p in paths], config=cfg)


def _track_of(ctx: StageContext, clip_id: int) -> Track:
    with session_scope(ctx.engine) as s:
        rows = (
            s.execute(select(GpsPoint).where(GpsPoint.clip_id == clip_id).order_by(GpsPoint.t))
            .scalars()
            .all()
        )
        return Track(points=[Fix(r.t, r.time_utc, r.lat, r.lon, r.speed_kmh, r.heading) for r in rows])


def _share_done(
    windows: list[tuple[float, float]], report: Callable[[float], None]
) -> Callable[[float], None]:
    """``report(share of the windows' seconds decoded)``, called with each decoded frame's time."""
    total = sum(end - start for start, end in windows) or 1.0

    def on_frame(t: float) -> None:
        done = sum(min(max(t - start, 0.0), end - start) for start, end in windows)
        report(done / total)

    return on_frame


def run_heavy(
    clip_id: int, ctx: StageContext, *, on_progress: Callable[[float], None] | None = None
) -> HeavyResult:
    """Run (or skip, when done with the same key) the heavy stage for one clip; ``on_progress`` hears the
    share of its windows done as it goes."""
    clip = ctx.clip(clip_id)
    try:
        key = heavy_key(ctx, clip.content_hash)
    except VisionError as exc:
        with recorded(ctx, clip_id, STAGE):
            raise NotRetryable(str(exc)) from exc
    if (reason := known_failure(ctx, clip_id, STAGE, key)) is not None:
        raise NotRetryable(reason)
    if already_done(ctx, clip_id, STAGE, key):
        with session_scope(ctx.engine) as s:
            rows = s.execute(select(Sighting).where(Sighting.clip_id == clip_id)).scalars().all()
            return HeavyResult(clip_id, True, len(rows), sum(1 for r in rows if r.plate_text), 0)
    mkey = clip_key(clip.content_hash, MANIFEST_NAME)
    pre = ctx.storage["preproc"]
    with recorded(ctx, clip_id, STAGE, key) as out:
        if not pre.exists(mkey):
            raise NotRetryable(f"{clip.file_name}: no preprocess manifest (run the preprocess stage first)")
        manifest = Manifest.from_json(pre.open(mkey).read())
        det = vehicle_model(ctx)
        reader = plate_reader(ctx)
        g = ctx.config.global_config
        batch = (
            ctx.config.device.gpu.max_batch_size
            if ctx.config.device.gpu
            else getattr(det.cfg, "batch_size", 1)
        )
        path = ctx.raw_path(clip)
        # the windows as the stage looks at them (those close together as one), for its progress too
        windows = heavy.bridge([(w.start, w.end) for w in manifest.windows], g.detection.window_bridge_s)
        on_gpu = ctx.config.device.gpu is not None
        heavy.share_cores(on_gpu)
        try:
            side = lanecrop.input_side(det) if g.detection.lane_crop else None
            res = heavy.process_clip(
                path,
                windows,
                detect=lanecrop.detector(det.detect, side) if side else det.detect,
                read_plates=reader.read_image if reader is not None else None,
                fps=g.detection.heavy_fps,
                batch_size=batch,
                conf=g.detection.vehicle_conf,
                low_conf=g.detection.vehicle_low_conf,
                bridge_s=g.detection.window_bridge_s,
                decode=heavy.decode_setup(on_gpu),
                on_frame=_share_done(windows, on_progress) if on_progress else None,
            )
        except VideoError as exc:
            raise NotRetryable(f"{clip.file_name}: {str(exc).split(': ', 1)[-1]}") from exc
        n_plates = _store(ctx, clip, res)
        with session_scope(ctx.engine) as sess:
            link_neighbours(sess, clip_id, res.edges)
        out.update(
            sightings=len(res.sightings),
            plates=n_plates,
            frames=res.frames,
            timings=res.timings,
            edges=res.edges,
        )
        if res.error:
            out["_error"] = res.error
    return HeavyResult(clip_id, False, len(res.sightings), n_plates, res.frames, res.error, res.timings)


def _store(ctx: StageContext, clip: Any, res: heavy.HeavyOutput) -> int:
    """Write media atomically, then replace the clip's sightings, reads and media rows in one transaction."""
    area = ctx.storage["heavy_output"]
    g = ctx.config.global_config
    track = _track_of(ctx, clip.id)
    start_utc = track.start_utc or clip.recorded_at
    rows: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = []
    keep_keys: set[str] = set()
    scratch = Path(tempfile.mkdtemp(dir=ctx.storage.scratch_dir))
    n_plates = 0
    try:
        for s in res.sightings:
            base = f"{MEDIA_PREFIX}{s.track_id:04d}"
            smedia: list[dict[str, Any]] = []
            if s.thumbnail_jpeg:
                smedia.append(
                    _put(
                        area,
                        clip.content_hash,
                        f"{base}-thumb.jpg",
                        s.thumbnail_jpeg,
                        "thumbnail",
                        "image/jpeg",
                    )
                )
            plate = sighting_plate(s.reads, g.plates.confusions) if s.reads else None
            # the crop shown is the best evidence of the plate the sighting carries
            shows = [r for r in s.reads if plate is not None and r.text == plate.text] or s.reads
            best_read = max(shows, key=lambda r: r.evidence, default=None)
            if best_read is not None and best_read.crop_jpeg:
                smedia.append(
                    _put(
                        area,
                        clip.content_hash,
                        f"{base}-plate.jpg",
                        best_read.crop_jpeg,
                        "plate_crop",
                        "image/jpeg",
                    )
                )
            tmp = scratch / f"{base}.mp4"
            if heavy.encode_clip(s.clip_frames, tmp):
                smedia.append(
                    _put_file(area, clip.content_hash, f"{base}-clip.mp4", tmp, "sighting_clip", "video/mp4")
                )
            keep_keys |= {m["key"] for m in smedia}
            fix = track.at(s.best_s)
            if plate is not None and plate.text:
                n_plates += 1
            srow = {
                "clip_id": clip.id,
                "track_id": s.track_id,
                "label": s.label,
                "score": s.score,
                "first_s": s.first_s,
                "last_s": s.last_s,
                "best_s": s.best_s,
                "best_box": s.best_box,
                "frames": len(s.boxes),
                "time_utc": (
                    when := (
                        fix.time_utc
                        if fix and fix.time_utc
                        else (start_utc + timedelta(seconds=s.best_s) if start_utc else None)
                    )
                ),
                "time_local": local_iso(when, clip.utc_offset_s),
                "lat": fix.lat if fix else None,
                "lon": fix.lon if fix else None,
                "speed_kmh": fix.speed_kmh if fix else None,
                "heading": fix.heading if fix else None,
                "plate_text": plate.text if plate and plate.text else None,
                "plate_key": plate_key(plate.text, g.plates.confusions) if plate and plate.text else None,
                "plate_confidence": plate.confidence if plate and plate.text else None,
                "plate_alternatives": plate.alternatives if plate else None,
                "merged_from": s.merged_from,
                "parts": s.parts or None,
                "label_scores": label_shares(s.class_votes) or None,
            }
            reads = []
            for r in s.reads:
                rf = track.at(r.t)
                reads.append(
                    {
                        "clip_id": clip.id,
                        "t": r.t,
                        "text_raw": r.raw_text[:32],
                        "text": r.text[:16],
                        "plate_key": plate_key(r.text, g.plates.confusions)[:16],
                        "confidence": r.confidence,
                        "evidence": r.evidence,
                        "box": r.box,
                        "time_utc": rf.time_utc
                        if rf and rf.time_utc
                        else (start_utc + timedelta(seconds=r.t) if start_utc else None),
                        "lat": rf.lat if rf else None,
                        "lon": rf.lon if rf else None,
                    }
                )
            rows.append((srow, {"boxes": s.boxes, "signature": s.signature}, reads, smedia))
    finally:
        for p in scratch.glob("*"):
            p.unlink(missing_ok=True)
        scratch.rmdir()
    now = utcnow()
    with session_scope(ctx.engine) as sess:
        old = sess.execute(
            select(
                Sighting.track_id,
                Sighting.first_s,
                Sighting.last_s,
                Sighting.plate_text,
                Sighting.plate_corrected,
            ).where(Sighting.clip_id == clip.id)
        ).all()
        sess.execute(delete(Media).where(Media.clip_id == clip.id, Media.sighting_id.is_not(None)))  # type: ignore[union-attr]
        sess.execute(delete(Sighting).where(Sighting.clip_id == clip.id))
        new_ids = []
        for srow, strack, reads, smedia in rows:
            # a user's correction survives a rerun: same track, overlapping in time
            srow["plate_corrected"] = next(
                (
                    o.plate_corrected
                    for o in old
                    if o.plate_corrected
                    and o.track_id == srow["track_id"]
                    and o.first_s <= srow["last_s"]
                    and srow["first_s"] <= o.last_s
                ),
                None,
            )
            sid = sess.execute(
                Sighting.__table__.insert().values(**srow).returning(Sighting.__table__.c.id)
            ).scalar_one()  # type: ignore[attr-defined]
            sess.execute(SightingTrack.__table__.insert().values(**strack, sighting_id=sid))  # type: ignore[attr-defined]
            if reads:
                sess.execute(PlateRead.__table__.insert(), [{**r, "sighting_id": sid} for r in reads])  # type: ignore[attr-defined]
            for m in smedia:
                sess.execute(
                    Media.__table__.insert().values(
                        **m, clip_id=clip.id, sighting_id=sid, area="heavy_output", created_at=now
                    )
                )  # type: ignore[attr-defined]
            new_ids.append(sid)
        # keep the fuzzy plate index current, for plates that came and went
        index_plates(session=sess, sighting_ids=new_ids, confusions=g.plates.confusions)
        gone = {t for o in old for t in (o.plate_text, o.plate_corrected) if t}
        kept = {t for srow, _, _, _ in rows for t in (srow["plate_text"], srow["plate_corrected"]) if t}
        if gone - kept:
            refresh_plates(session=sess, texts=gone - kept, confusions=g.plates.confusions)
    # media of sightings that no longer exist (a rerun that found fewer) go too
    for k in list(area.keys(clip_key(clip.content_hash, "x").rsplit("/", 1)[0])):
        if k.rsplit("/", 1)[-1].startswith(MEDIA_PREFIX) and k not in keep_keys:
            area.delete(k)
    return n_plates


def _put(area: Any, h: str, name: str, data: bytes, kind: str, mime: str) -> dict[str, Any]:
    import hashlib

    key = clip_key(h, name)
    area.write_bytes(key, data)
    return _media_row(key, kind, mime, len(data), hashlib.sha256(data).hexdigest())


def _put_file(area: Any, h: str, name: str, src: Path, kind: str, mime: str) -> dict[str, Any]:
    key = clip_key(h, name)
    area.put_file(key, src)
    return _media_row(key, kind, mime, src.stat().st_size, file_digest(src))


def _media_row(key: str, kind: str, mime: str, size: int, sha256: str) -> dict[str, Any]:
    return {"kind": kind, "key": key, "mime": mime, "size_bytes": size, "sha256": sha256}
