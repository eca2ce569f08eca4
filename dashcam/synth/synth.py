"""Synthesise a dashcam clip with known plates and route: video, embedded GPS and ground truth JSON.

The clip is encoded to a hidden temporary file, then :func:`dashcam.gps.write_gps` copies it to its final
name with the A129 freeGPS blocks (through a ``.part`` file and a rename, so nobody sees half a clip). The
ground truth ``<clip>.truth.json`` is written, atomically too, before the clip appears.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dashcam.gps import write_gps
from dashcam.synth.photos import PhotoRenderer, list_images, load_plate_boxes
from dashcam.synth.plates import normalize, random_plates
from dashcam.synth.route import DEFAULT_LAT, DEFAULT_LON, DEFAULT_START, Route, make_route
from dashcam.synth.scene import Camera, SceneRenderer
from dashcam.synth.traffic import NEAR_SECONDS, plan_passing, plan_traffic
from dashcam.synth.truth import Observation, TruthBuilder
from dashcam.video.encode import write_mp4

log = logging.getLogger(__name__)

TRUTH_VERSION = 1
DEFAULT_SECONDS = 30.0
PHOTO_SECONDS = 4.0
MIN_PLATE_PX = 14.0


class Renderer(Protocol):
    def render(self, frame: int) -> np.ndarray: ...

    def observe(self, frame: int) -> list[Observation]: ...


@dataclass
class SynthResult:
    """What :func:`synthesize` made: the clip, its ground truth, the plates (by first appearance), the route."""

    path: Path
    truth_path: Path
    plates: list[str]
    route: Route
    truth: dict[str, Any] = field(repr=False, default_factory=dict)


def viofo_clip_name(start_local: datetime, sequence: int = 1, channel: str = "F") -> str:
    """A Viofo A129-style clip name, e.g. ``2023_0815_123456_000120F.MP4``."""
    if not 0 <= sequence <= 999_999:
        raise ValueError(f"sequence {sequence} does not fit six digits")
    return f"{start_local:%Y_%m%d_%H%M%S}_{sequence:06d}{channel}.MP4"


def truth_path_for(clip: str | os.PathLike[str]) -> Path:
    """Where the ground truth of a clip lives: ``<clip>.truth.json``."""
    return Path(f"{os.fspath(clip)}.truth.json")


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); even sizes only (H.264 4:2:0)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT") from None
    if w < 64 or h < 64 or w % 2 or h % 2 or w > 7680 or h > 4320:
        raise ValueError(f"size {text!r}: width and height must be even, 64..7680 x 64..4320")
    return w, h


def _check_plates(plates: list[str] | None) -> list[str] | None:
    if plates is None:
        return None
    out = [normalize(p) for p in plates]
    dupes = sorted({p for p in out if out.count(p) > 1})
    if dupes:
        raise ValueError(f"plates repeat: {', '.join(dupes)}")
    return out


def _write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def synthesize(
    out_path: str | os.PathLike[str],
    *,
    seconds: float | None = None,
    fps: float = 30.0,
    size: tuple[int, int] = (1920, 1080),
    plates: list[str] | None = None,
    seed: int = 0,
    start_utc: datetime = DEFAULT_START,
    start_lat: float = DEFAULT_LAT,
    start_lon: float = DEFAULT_LON,
    images_dir: str | os.PathLike[str] | None = None,
    photo_seconds: float = PHOTO_SECONDS,
    viofo_name: bool = False,
    sequence: int = 1,
    utc_offset_hours: float = 0.0,
    min_plate_px: float = MIN_PLATE_PX,
    crf: int = 20,
    preset: str = "veryfast",
    parked: bool = False,
    passing_at: list[float] | None = None,
    sensor_noise: float | None = None,
    far_blur: float = 0.0,
    gop_s: float = 1.0,
    on_frame: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Render, encode and GPS-tag a synthetic clip, and write its ground truth beside it.

    With ``viofo_name`` the file name is chosen from the camera-local start time and ``sequence``;
    ``out_path`` may then be a directory. The same arguments give the same frames and the same truth.
    ``parked``: the camera stands still (parking mode); the only traffic is one vehicle driving past at
    each of ``passing_at`` (seconds). ``sensor_noise``: the standard deviation of per-frame pixel noise
    (default 2 when parked, else none). ``far_blur``: a Gaussian sigma in pixels that blurs each vehicle
    while it is far (fully beyond 9 m, none within 6 m), so that its plate is small and soft early and
    sharp once near. ``gop_s``: seconds between keyframes (cameras write about one a second; some far fewer).
    """
    if fps <= 0 or fps > 240:
        raise ValueError(f"fps {fps} is out of range (0, 240]")
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    plates = _check_plates(plates)
    images = list_images(Path(images_dir)) if images_dir is not None else None
    if seconds is None:
        seconds = len(images) * photo_seconds if images else DEFAULT_SECONDS
    if seconds <= 0 or seconds > 3600:
        raise ValueError(f"seconds {seconds} is out of range (0, 3600]")
    start_utc = start_utc.astimezone(timezone.utc).replace(microsecond=0)
    offset = timedelta(hours=utc_offset_hours)
    start_local = (start_utc + offset).replace(tzinfo=None)
    out = Path(out_path)
    if viofo_name:
        as_dir = out.is_dir() or not out.suffix or os.fspath(out_path).endswith(("/", os.sep))
        folder = out if as_dir else out.parent
        out = folder / viofo_clip_name(start_local, sequence)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = int(round(seconds * fps))
    if not 0.0 <= far_blur <= 20.0:
        raise ValueError(f"far_blur {far_blur} is out of range [0, 20] px")
    if passing_at and not parked:
        raise ValueError("passing_at is for a parked camera (parked=True)")
    route = make_route(
        seconds, seed=seed, start_utc=start_utc, start_lat=start_lat, start_lon=start_lon, parked=parked
    )

    renderer: Renderer
    extra: dict[int, dict[str, object]] = {}
    if images is not None:
        if plates:
            raise ValueError("--plates and --images do not mix: the photos carry their own plates")
        if far_blur:
            raise ValueError("--far-blur is for drawn drives: the photos of --images keep their own focus")
        boxes = load_plate_boxes(Path(images_dir))  # type: ignore[arg-type]
        renderer = PhotoRenderer(
            images,
            size=size,
            fps=fps,
            frames=frames,
            photo_seconds=photo_seconds,
            seed=seed,
            min_plate_px=min_plate_px,
            boxes=boxes,
        )
        mode = "photos"
    else:
        if parked:
            vehicles = plan_passing(
                route, times=list(passing_at or []), frames=frames, fps=fps, seed=seed, plates=plates
            )
        else:
            vehicles = plan_traffic(
                route,
                frames=frames,
                fps=fps,
                seed=seed,
                plates=plates,
                focal_px=Camera(*size).focal,
                min_plate_px=min_plate_px,
            )
        renderer = SceneRenderer(
            route,
            vehicles,
            size=size,
            fps=fps,
            frames=frames,
            seed=seed,
            min_plate_px=min_plate_px,
            sensor_noise=(2.0 if parked else 0.0) if sensor_noise is None else sensor_noise,
            far_blur=far_blur,
        )
        extra = {
            v.id: {"kind": v.kind, "lane": v.lane, "body": v.body, "plate_style": v.plate.style}
            for v in vehicles
        }
        mode = "scene"

    truth = TruthBuilder(fps=fps, frames=frames, route=route)

    def frames_iter() -> Iterator[np.ndarray]:
        for i in range(frames):
            truth.add(i, renderer.observe(i))
            yield renderer.render(i)
            if on_frame is not None:
                on_frame(i + 1, frames)

    enc = out.with_name(f".{out.name}.{os.getpid()}.encoding.mp4")
    try:
        write_mp4(enc, frames_iter(), fps=fps, crf=crf, preset=preset, gop=max(1, int(round(fps * gop_s))))
        plates_doc = truth.plates_doc()
        if plates is not None:
            missing = [p["text"] for p in plates_doc if p["text"] in plates and not p["ever_legible"]]
            missing += [p for p in plates if p not in {d["text"] for d in plates_doc}]
            if missing:
                raise ValueError(
                    f"{len(plates)} plates do not fit in {seconds:g} s (never legible: {', '.join(missing)}); "
                    f"allow about {NEAR_SECONDS + 4 * len(plates):.0f} s"
                )
        doc = {
            "version": TRUTH_VERSION,
            "generator": "dashcam synth",
            "mode": mode,
            "parked": parked,
            "file": out.name,
            "seed": seed,
            "fps": fps,
            "frames": frames,
            "seconds": frames / fps,
            "size": list(size),
            "start_utc": start_utc.isoformat().replace("+00:00", "Z"),
            "start_local": start_local.isoformat(),
            "utc_offset_s": int(offset.total_seconds()),
            "min_plate_px": min_plate_px,
            "far_blur": far_blur,
            "route": route.as_dicts(),
            "plates": plates_doc,
            "vehicles": truth.vehicles_doc(extra),
        }
        if isinstance(renderer, PhotoRenderer):
            doc["photos"] = [
                {"image": p.path.name, "plates": [pl.text for pl in p.plates]} for p in renderer.photos
            ]
        truth_path = truth_path_for(out)
        _write_json_atomic(truth_path, doc)
        write_gps(enc, out, route.fixes)
    finally:
        enc.unlink(missing_ok=True)
    names = [str(p["text"]) for p in plates_doc]
    log.info("synthesised %s: %d frames, %d plates", out, frames, len(names))
    return SynthResult(out, truth_path, names, route, doc)


def default_plates(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random plates for callers that want to know them before synthesising."""
    return random_plates(n, random.Random(f"plates:{seed}"))


def expected_seconds(n_plates: int) -> float:
    """A clip length that fits ``n_plates`` readable plates comfortably."""
    return math.ceil(NEAR_SECONDS + 4 * n_plates)
