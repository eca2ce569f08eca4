"""Ground truth of a synthetic clip: per-frame observations folded into intervals and samples.

Frame ``i`` covers clip time ``[i / fps, (i + 1) / fps)``; an interval ``[t0, t1]`` runs from the start of
its first frame to the end of its last one, so it always lies inside ``[0, duration]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dashcam.synth.route import Route

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Observation:
    """One plate (and the vehicle carrying it, if drawn) in one frame."""

    plate: str
    style: str
    source: str  # "vehicle:3" or "photo:eu1.jpg"
    box: Box | None  # plate box x1, y1, x2, y2 in output pixels; None when out of view
    height_px: float
    legible: bool
    vehicle_id: int | None = None
    vehicle_box: Box | None = None


def intervals(frames: list[int], fps: float) -> list[list[float]]:
    """Runs of consecutive frame numbers as ``[t_start, t_end]`` pairs in seconds."""
    out: list[list[float]] = []
    start = prev = None
    for i in frames:
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None and prev is not None:
            out.append([round(start / fps, 4), round((prev + 1) / fps, 4)])
        start = prev = i
    if start is not None and prev is not None:
        out.append([round(start / fps, 4), round((prev + 1) / fps, 4)])
    return out


def _box(b: Box) -> list[float]:
    return [round(v, 1) for v in b]


@dataclass
class _PlateLog:
    style: str
    sources: list[str] = field(default_factory=list)
    first_frame: int = 0
    legible: list[int] = field(default_factory=list)
    samples: list[dict[str, object]] = field(default_factory=list)
    best: tuple[float, int, Box] | None = None


@dataclass
class _VehicleLog:
    plate: str
    in_view: list[int] = field(default_factory=list)
    samples: list[dict[str, object]] = field(default_factory=list)


class TruthBuilder:
    """Collects observations frame by frame and writes the plates and vehicles sections."""

    def __init__(self, *, fps: float, frames: int, route: Route) -> None:
        self.fps, self.frames, self.route = fps, frames, route
        self._every = max(1, int(round(fps)))
        self.plates: dict[str, _PlateLog] = {}
        self.vehicles: dict[int, _VehicleLog] = {}

    def add(self, frame: int, observations: list[Observation]) -> None:
        """Record what ``frame`` shows."""
        sample_now = frame % self._every == 0
        t = frame / self.fps
        for ob in observations:
            log_ = self.plates.get(ob.plate)
            if log_ is None:
                log_ = self.plates[ob.plate] = _PlateLog(ob.style, first_frame=frame)
            if ob.source not in log_.sources:
                log_.sources.append(ob.source)
            if ob.legible and ob.box is not None:
                log_.legible.append(frame)
                if log_.best is None or ob.height_px > log_.best[0]:
                    log_.best = (ob.height_px, frame, ob.box)
                if sample_now:
                    log_.samples.append(self._sample(frame, ob.box, ob.height_px))
            if ob.vehicle_id is not None:
                vlog = self.vehicles.setdefault(ob.vehicle_id, _VehicleLog(ob.plate))
                if ob.vehicle_box is not None:
                    vlog.in_view.append(frame)
                    if sample_now:
                        vlog.samples.append({"t": round(t, 4), "frame": frame, "box": _box(ob.vehicle_box)})

    def _sample(self, frame: int, box: Box, height: float) -> dict[str, object]:
        t = frame / self.fps
        lat, lon = self.route.position(t)
        return {
            "t": round(t, 4),
            "frame": frame,
            "box": _box(box),
            "height_px": round(height, 1),
            "lat": round(lat, 7),
            "lon": round(lon, 7),
        }

    def plates_doc(self) -> list[dict[str, object]]:
        """Every plate in the clip, by first appearance, with the intervals when it can be read."""
        out = []
        for text, p in sorted(self.plates.items(), key=lambda kv: kv[1].first_frame):
            spans = intervals(sorted(set(p.legible)), self.fps)
            out.append(
                {
                    "text": text,
                    "style": p.style,
                    "sources": p.sources,
                    "legible": spans,
                    "legible_s": round(len(set(p.legible)) / self.fps, 3),
                    "ever_legible": bool(spans),
                    "max_height_px": round(p.best[0], 1) if p.best else None,
                    "best": self._sample(p.best[1], p.best[2], p.best[0]) if p.best else None,
                    "samples": p.samples,
                }
            )
        return out

    def vehicles_doc(self, extra: dict[int, dict[str, object]] | None = None) -> list[dict[str, object]]:
        """Every drawn vehicle with the intervals when some of it is in view."""
        out = []
        for vid, v in sorted(self.vehicles.items()):
            doc: dict[str, object] = {"id": vid, "plate": v.plate}
            doc.update((extra or {}).get(vid, {}))
            doc["in_view"] = intervals(v.in_view, self.fps)
            doc["samples"] = v.samples
            out.append(doc)
        return out
