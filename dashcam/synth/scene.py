"""Procedural drive rendering: sky, road with moving lane markings, roadside objects and vehicles.

The static parts (sky, hills, grass, asphalt, road edges) are drawn once; each frame copies them and draws
what moves with the camera's speed. Every frame also yields observations (where each plate and vehicle
is, and whether the plate is legible) from the same geometry the drawing uses, so the ground truth and
the pixels cannot disagree.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import cv2
import numpy as np

from dashcam.synth.route import Route
from dashcam.synth.truth import Observation
from dashcam.synth.vehicles import LANE_WIDTH, Vehicle

log = logging.getLogger(__name__)

ROAD_HALF = 1.5 * LANE_WIDTH + 0.5
# With far_blur, a vehicle is sharp up to BLUR_NEAR_M ahead and blurred with the full sigma from BLUR_FAR_M:
# its plate is small and soft while it approaches and sharp once near (the legibility threshold of a
# 1080p frame is reached at about 10 m).
BLUR_NEAR_M, BLUR_FAR_M = 6.0, 9.0
DASH_LEN, DASH_PERIOD = 3.0, 12.0
NEAR_CLIP, FAR_CLIP = 1.0, 160.0


@dataclass(frozen=True)
class Camera:
    """A forward camera 1.35 m above a flat road, about 67 degrees wide."""

    width: int
    height: int
    mount_m: float = 1.35

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return 0.75 * self.width

    @property
    def horizon(self) -> float:
        """Row of the horizon."""
        return 0.46 * self.height

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Pixel of the world point x right, y up (from the road), z ahead, in metres."""
        return self.width / 2 + self.focal * x / z, self.horizon + self.focal * (self.mount_m - y) / z


@dataclass(frozen=True)
class Roadside:
    """A tree, a marker post or a sign, ``s`` metres along the road from the start."""

    s: float
    x: float
    kind: str
    colour: tuple[int, int, int]
    size: float


def _background(cam: Camera, rng: random.Random) -> np.ndarray:
    """Sky, hills, grass and the asphalt with its solid edge lines."""
    w, h = cam.width, cam.height
    hz = int(cam.horizon)
    img = np.empty((h, w, 3), np.uint8)
    top, low = np.array([185, 120, 70], np.float32), np.array([235, 215, 195], np.float32)
    ramp = np.linspace(0.0, 1.0, hz, dtype=np.float32)[:, None]
    img[:hz] = (top * (1 - ramp) + low * ramp)[:, None, :].astype(np.uint8)
    far, near = np.array([95, 140, 110], np.float32), np.array([50, 115, 60], np.float32)
    ramp = np.linspace(0.0, 1.0, h - hz, dtype=np.float32)[:, None]
    img[hz:] = (far * (1 - ramp) + near * ramp)[:, None, :].astype(np.uint8)
    xs = np.arange(w, dtype=np.float32)
    phase = [rng.uniform(0, 6.3) for _ in range(3)]
    ridge = (
        0.035 * np.sin(xs / w * 5.0 + phase[0])
        + 0.02 * np.sin(xs / w * 13.0 + phase[1])
        + 0.008 * np.sin(xs / w * 41.0 + phase[2])
    )
    hills = (hz - (0.045 + ridge) * h).astype(np.int32)
    pts = np.concatenate([np.stack([xs.astype(np.int32), hills], 1), [[w - 1, hz], [0, hz]]]).astype(np.int32)
    cv2.fillPoly(img, [pts], (95, 120, 105))
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 6, (h - hz, w)).astype(np.float32)
    asphalt = np.full((h - hz, w, 3), (92, 94, 98), np.float32) + noise[..., None]
    mask = np.zeros((h, w), np.uint8)
    (xl, yb), (xr, _) = (
        cam.project(-ROAD_HALF, 0, NEAR_CLIP * 0.3),
        cam.project(ROAD_HALF, 0, NEAR_CLIP * 0.3),
    )
    (xl2, yt), (xr2, _) = cam.project(-ROAD_HALF, 0, 400), cam.project(ROAD_HALF, 0, 400)
    cv2.fillPoly(mask, [np.array([[xl, yb], [xr, yb], [xr2, yt], [xl2, yt]], np.int32)], 255)
    road = mask[hz:] > 0
    img[hz:][road] = np.clip(asphalt[road], 0, 255).astype(np.uint8)
    for edge in (-ROAD_HALF + 0.3, ROAD_HALF - 0.3):
        quad = [
            cam.project(edge - 0.08, 0, 0.4),
            cam.project(edge + 0.08, 0, 0.4),
            cam.project(edge + 0.08, 0, 400),
            cam.project(edge - 0.08, 0, 400),
        ]
        cv2.fillConvexPoly(img, np.array(quad, np.int32), (225, 228, 228), cv2.LINE_AA)
    return img


def _roadside(rng: random.Random, length: float) -> list[Roadside]:
    items: list[Roadside] = []
    s = 0.0
    while s < length + FAR_CLIP:
        items.append(Roadside(s, -(ROAD_HALF + 1.0), "post", (235, 235, 235), 1.0))
        items.append(Roadside(s + 12.5, ROAD_HALF + 1.0, "post", (235, 235, 235), 1.0))
        s += 25.0
    s = rng.uniform(0, 10)
    while s < length + FAR_CLIP:
        side = rng.choice([-1, 1])
        green = (rng.randint(30, 60), rng.randint(90, 140), rng.randint(40, 70))
        items.append(
            Roadside(
                s, side * rng.uniform(ROAD_HALF + 3, ROAD_HALF + 12), "tree", green, rng.uniform(1.6, 3.2)
            )
        )
        if rng.random() < 0.08:
            items.append(Roadside(s + 3, side * (ROAD_HALF + 1.8), "sign", (150, 80, 20), 1.0))
        s += rng.uniform(4.0, 14.0)
    return sorted(items, key=lambda r: r.s)


class SceneRenderer:
    """Frames and observations of a procedural drive."""

    def __init__(
        self,
        route: Route,
        vehicles: list[Vehicle],
        *,
        size: tuple[int, int],
        fps: float,
        frames: int,
        seed: int,
        min_plate_px: float,
        sensor_noise: float = 0.0,
        far_blur: float = 0.0,
    ) -> None:
        self.cam = Camera(*size)
        self.sensor_noise, self.seed = sensor_noise, seed
        self.far_blur = far_blur
        self.route, self.vehicles, self.fps, self.frames = route, vehicles, fps, frames
        self.min_plate_px = min_plate_px
        rng = random.Random(f"scene:{seed}")
        self.background = _background(self.cam, rng)
        self.roadside = _roadside(rng, float(route.distance[-1]))
        self._s = np.array([r.s for r in self.roadside])

    def _placements(self, frame: int) -> list[tuple[Vehicle, float, int, int, int, int]]:
        """(vehicle, z, left, top, width, height) of every vehicle in the frame, farthest first."""
        out = []
        cam = self.cam
        for v in self.vehicles:
            pose = v.pose(frame)
            if pose is None or pose[1] < 0.3:
                continue
            x, z = pose
            wm, hm = v.load_sprite().width_m, v.sprite.height_m  # type: ignore[union-attr]
            ppm = cam.focal / z
            left, bottom = cam.project(x - wm / 2, 0.0, z)
            w, h = max(1, int(round(wm * ppm))), max(1, int(round(hm * ppm)))
            out.append((v, z, int(round(left)), int(round(bottom)) - h, w, h))
        out.sort(key=lambda p: -p[1])
        return out

    def observe(self, frame: int) -> list[Observation]:
        """Where each vehicle and plate is in ``frame``, and whether the plate is legible."""
        W, H = self.cam.width, self.cam.height
        placed = self._placements(frame)
        out = []
        for k, (v, _z, left, top, w, h) in enumerate(placed):
            sp = v.sprite
            assert sp is not None
            bx1, by1, bx2, by2 = sp.plate_box_m
            sx, sy = w / sp.width_m, h / sp.height_m
            plate = (left + bx1 * sx, top + by1 * sy, left + bx2 * sx, top + by2 * sy)
            body = (float(left), float(top), float(left + w), float(top + h))
            in_view = body[2] > 0 and body[0] < W and body[3] > 0 and body[1] < H
            inside = plate[0] >= 0 and plate[1] >= 0 and plate[2] <= W and plate[3] <= H
            hidden = any(_overlap(plate, (o[2], o[3], o[2] + o[4], o[3] + o[5])) for o in placed[k + 1 :])
            height = plate[3] - plate[1]
            out.append(
                Observation(
                    plate=v.plate.text,
                    style=v.plate.style,
                    source=f"vehicle:{v.id}",
                    box=plate if in_view else None,
                    height_px=height,
                    legible=in_view and inside and not hidden and height >= self.min_plate_px,
                    vehicle_id=v.id,
                    vehicle_box=body if in_view else None,
                )
            )
        return out

    def render(self, frame: int) -> np.ndarray:
        """The BGR image of ``frame``."""
        cam = self.cam
        t = frame / self.fps
        img = self.background.copy()
        d = self.route.distance_at(t)
        phase = d % DASH_PERIOD
        for lane_x in (-LANE_WIDTH / 2, LANE_WIDTH / 2):
            z0 = DASH_PERIOD - phase
            while z0 - DASH_PERIOD < 90:
                a, b = max(z0 - DASH_PERIOD, NEAR_CLIP * 0.6), z0 - DASH_PERIOD + DASH_LEN
                if b > a:
                    quad = [
                        cam.project(lane_x - 0.07, 0, a),
                        cam.project(lane_x + 0.07, 0, a),
                        cam.project(lane_x + 0.07, 0, b),
                        cam.project(lane_x - 0.07, 0, b),
                    ]
                    cv2.fillConvexPoly(img, np.array(quad, np.int32), (220, 222, 222), cv2.LINE_AA)
                z0 += DASH_PERIOD
        lo, hi = np.searchsorted(self._s, [d + NEAR_CLIP, d + FAR_CLIP])
        for item in reversed(self.roadside[lo:hi]):
            self._draw_roadside(img, item, item.s - d)
        for v, z, left, top, w, h in self._placements(frame):
            self._draw_vehicle(img, v, z, left, top, w, h)
        if self.sensor_noise > 0:
            # a real sensor never gives the same picture twice, even of a still scene: the encoder's
            # frames of a parked car are small, not empty
            cv2.setRNGSeed(self.seed * 1_000_003 + frame)
            noise = np.empty(img.shape, np.int16)
            cv2.randn(noise, 0, self.sensor_noise)
            img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return img

    def _draw_roadside(self, img: np.ndarray, item: Roadside, z: float) -> None:
        cam = self.cam
        if item.kind == "tree":
            (x1, y1), (x2, y2) = cam.project(item.x - 0.15, 2.6, z), cam.project(item.x + 0.15, 0, z)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (30, 50, 70), -1)
            cx, cy = cam.project(item.x, 2.6 + item.size * 0.8, z)
            r = int(cam.focal * item.size / z)
            if -r < cx < cam.width + r:
                cv2.circle(img, (int(cx), int(cy)), max(1, r), item.colour, -1, cv2.LINE_AA)
                cv2.circle(
                    img, (int(cx - r * 0.3), int(cy - r * 0.3)), max(1, r // 2), _lighter(item.colour), -1
                )
        elif item.kind == "post":
            (x1, y1), (x2, y2) = cam.project(item.x - 0.06, 1.0, z), cam.project(item.x + 0.06, 0, z)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), item.colour, -1)
            ry = int(y1 + (y2 - y1) * 0.15)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), ry), (20, 20, 20), -1)
        else:
            (x1, y1), (x2, y2) = cam.project(item.x - 0.04, 2.2, z), cam.project(item.x + 0.04, 0, z)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (120, 120, 120), -1)
            (x1, y1), (x2, y2) = cam.project(item.x - 0.5, 2.9, z), cam.project(item.x + 0.5, 2.1, z)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), item.colour, -1)

    def _draw_vehicle(
        self, img: np.ndarray, v: Vehicle, z: float, left: int, top: int, w: int, h: int
    ) -> None:
        W, H = self.cam.width, self.cam.height
        if left >= W or left + w <= 0 or top >= H or top + h <= 0:
            return
        cv2.ellipse(
            img, (left + w // 2, top + h), (int(w * 0.58), max(1, h // 14)), 0, 0, 360, (45, 47, 50), -1
        )
        sp = v.load_sprite()
        ppm_level, level_img, level_mask = sp.at_scale(self.cam.focal / z)
        interp = cv2.INTER_AREA if w < level_img.shape[1] else cv2.INTER_LINEAR
        src = cv2.resize(level_img, (w, h), interpolation=interp)
        mask = cv2.resize(level_mask, (w, h), interpolation=interp)
        sigma = self.far_blur * min(1.0, max(0.0, (z - BLUR_NEAR_M) / (BLUR_FAR_M - BLUR_NEAR_M)))
        if sigma > 0.05:
            src = cv2.GaussianBlur(src, (0, 0), sigma)
        x0, y0 = max(0, -left), max(0, -top)
        x1, y1 = min(w, W - left), min(h, H - top)
        dst = img[top + y0 : top + y1, left + x0 : left + x1]
        np.copyto(dst, src[y0:y1, x0:x1], where=mask[y0:y1, x0:x1, None] > 127)


def _lighter(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return (min(255, c[0] + 25), min(255, c[1] + 35), min(255, c[2] + 25))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
