"""Vehicles ahead of the camera: their rear-view sprites and where they are in every frame.

Positions are world coordinates relative to the camera: ``z`` metres ahead, ``x`` metres to the right.
Each vehicle follows a small behaviour (approach then hold then recede, overtake from behind, or stay
distant) integrated per frame; a vehicle never drives backwards, so its closing speed is limited by the
camera's own speed.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from dashcam.synth.plates import PlateSpec, render_plate
from dashcam.synth.route import Route

log = logging.getLogger(__name__)

Kind = Literal["approach", "overtake", "cutin", "distant"]
CUTIN_S = 2.0  # seconds a vehicle cutting in takes to change lanes

LANE_WIDTH = 3.5
PPM = 320  # sprite pixels per metre
PLATE_SCALE = 1.5  # plates are drawn larger than life so they stay legible at dashcam resolutions
PLATE_CENTRE_M = 0.56  # plate centre height above the road
SPAWN_Z, DESPAWN_Z, MIN_Z = 42.0, 85.0, 3.8
COLOURS = [
    (235, 235, 235),
    (190, 190, 185),
    (40, 40, 45),
    (35, 35, 170),
    (140, 70, 25),
    (95, 95, 95),
    (40, 80, 40),
    (60, 150, 200),
]
MIRROR_M = 0.12  # door mirrors stick out this far on each side
ROOF_INSET = {"sedan": 0.2, "suv": 0.15, "van": 0.08}  # roof edge, as a fraction of the body width
BODIES = {  # name: (width m, height m, beltline m)
    "sedan": (1.80, 1.45, 0.95),
    "suv": (1.88, 1.72, 1.05),
    "van": (1.98, 2.05, 1.10),
}


@dataclass
class Sprite:
    """A rear view at several resolutions (BGR + alpha mask), and where its plate sits (fractions)."""

    width_m: float
    height_m: float
    levels: list[tuple[float, np.ndarray, np.ndarray]]  # (pixels per metre, BGR, mask)
    plate_box_m: tuple[float, float, float, float]  # x1, y1 (from the top), x2, y2, in metres

    def at_scale(self, ppm: float) -> tuple[float, np.ndarray, np.ndarray]:
        """The smallest level still at least ``ppm`` pixels per metre (the largest if none is)."""
        best = self.levels[0]
        for level in self.levels:
            if level[0] >= ppm:
                best = level
        return best


def _gradient(h: int, top: float, bottom: float) -> np.ndarray:
    return np.linspace(top, bottom, h, dtype=np.float32)[:, None, None]


def draw_vehicle(body: str, colour: tuple[int, int, int], plate: PlateSpec) -> Sprite:
    """Paint a rear view: tyres, body with shoulders, mirrors, rear window, lights and the plate."""
    bwm, hm, belt = BODIES[body]
    roof = ROOF_INSET[body]
    wm = bwm + 2 * MIRROR_M
    w, h = int(wm * PPM), int(hm * PPM)
    m0, bw = MIRROR_M * PPM, bwm * PPM
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)

    def y(m: float) -> int:
        return int(round(h - m * PPM))

    def x(frac: float) -> int:
        return int(round(m0 + frac * bw))

    def poly(*pts: tuple[int, int]) -> np.ndarray:
        return np.array(pts, np.int32)

    dark = (22, 22, 24)
    for x0, x1 in ((0.05, 0.19), (0.81, 0.95)):  # tyres
        cv2.rectangle(img, (x(x0), y(0.38)), (x(x1), h - 1), dark, -1)
        cv2.rectangle(mask, (x(x0), y(0.38)), (x(x1), h - 1), 255, -1)
    lower = poly(
        (x(0.03), y(0.22)),
        (x(0.97), y(0.22)),
        (x(1.0), y(0.34)),
        (x(1.0), y(belt - 0.14)),
        (x(0.975), y(belt)),
        (x(0.025), y(belt)),
        (x(0.0), y(belt - 0.14)),
        (x(0.0), y(0.34)),
    )
    cabin = poly(
        (x(0.07), y(belt)),
        (x(0.93), y(belt)),
        (x(1 - roof + 0.03), y(hm - 0.09)),
        (x(1 - roof - 0.03), y(hm)),
        (x(roof + 0.03), y(hm)),
        (x(roof - 0.03), y(hm - 0.09)),
    )
    mirrors = [
        poly(
            (x(-0.065), y(belt + 0.06)),
            (x(0.06), y(belt + 0.02)),
            (x(0.06), y(belt + 0.2)),
            (x(-0.06), y(belt + 0.2)),
        ),
        poly(
            (x(1.065), y(belt + 0.06)),
            (x(0.94), y(belt + 0.02)),
            (x(0.94), y(belt + 0.2)),
            (x(1.06), y(belt + 0.2)),
        ),
    ]
    cv2.fillPoly(img, [lower, cabin, *mirrors], colour)
    cv2.fillPoly(mask, [lower, cabin, *mirrors], 255)
    # Light from above: the body darkens towards the road.
    img[:] = np.clip(img * _gradient(h, 1.12, 0.7), 0, 255).astype(np.uint8)
    cv2.fillPoly(img, mirrors, tuple(int(c * 0.7) for c in colour))
    bumper = poly((x(0.02), y(0.42)), (x(0.98), y(0.42)), (x(0.96), y(0.22)), (x(0.04), y(0.22)))
    cv2.fillPoly(img, [bumper], (45, 45, 48))
    cv2.line(
        img,
        (x(0.05), y(belt - 0.3)),
        (x(0.95), y(belt - 0.3)),
        (int(colour[0] * 0.55), int(colour[1] * 0.55), int(colour[2] * 0.55)),
        max(1, PPM // 120),
    )
    win_bottom, win_top = belt + 0.06, hm - 0.09
    window = poly(
        (x(0.12), y(win_bottom)),
        (x(0.88), y(win_bottom)),
        (x(1 - roof - 0.0), y(win_top)),
        (x(roof + 0.0), y(win_top)),
    )
    glass = np.zeros_like(mask)
    cv2.fillPoly(glass, [window], 255)
    tint = np.clip(np.array([70, 62, 58], np.float32) * _gradient(h, 1.4, 0.6), 0, 255).astype(np.uint8)
    tint = np.broadcast_to(tint, img.shape)
    img[glass > 0] = tint[glass > 0]
    streak = poly((x(0.55), y(win_bottom)), (x(0.66), y(win_bottom)), (x(0.52), y(win_top)))
    cv2.fillPoly(img, [streak], (120, 115, 110))  # a reflection on the glass
    light_y1, light_y2 = y(belt - 0.04), y(belt - 0.22)
    for x0, x1 in ((0.02, 0.22), (0.78, 0.98)):
        cv2.rectangle(img, (x(x0), light_y1), (x(x1), light_y2), (25, 25, 150), -1)
        cv2.rectangle(img, (x(x0 + 0.03), light_y1 + 6), (x(x1 - 0.03), light_y2 - 6), (70, 70, 235), -1)
    cv2.rectangle(img, (x(0.42), y(win_top) - 2), (x(0.58), y(win_top) + 8), (40, 40, 200), -1)
    pw, ph = plate.width_m * PLATE_SCALE, plate.height_m * PLATE_SCALE
    box = ((wm - pw) / 2, hm - PLATE_CENTRE_M - ph / 2, (wm + pw) / 2, hm - PLATE_CENTRE_M + ph / 2)
    px1, py1 = int(round(box[0] * PPM)), int(round(box[1] * PPM))
    plate_img = render_plate(plate, int(round(ph * PPM)))
    ph_px, pw_px = plate_img.shape[:2]
    cv2.rectangle(img, (px1 - 6, py1 - 6), (px1 + pw_px + 5, py1 + ph_px + 5), (30, 30, 32), -1)  # recess
    img[py1 : py1 + ph_px, px1 : px1 + pw_px] = plate_img
    levels = []
    ppm: float = PPM
    cur_img, cur_mask = img, mask
    while min(cur_img.shape[:2]) >= 8:
        levels.append((ppm, cur_img, cur_mask))
        cur_img = cv2.resize(cur_img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        cur_mask = cv2.resize(cur_mask, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        ppm /= 2
    return Sprite(wm, hm, levels, box)


@dataclass
class Vehicle:
    """One vehicle: what it looks like and its position in frames ``start .. start + len(z) - 1``."""

    id: int
    plate: PlateSpec
    kind: Kind
    lane: int
    body: str
    colour: tuple[int, int, int]
    start: int
    z: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    sprite: Sprite | None = field(default=None, repr=False)

    @property
    def end(self) -> int:
        """One past the last frame the vehicle exists in."""
        return self.start + len(self.z)

    def pose(self, frame: int) -> tuple[float, float] | None:
        """(x, z) in metres at ``frame``, None when the vehicle is not there."""
        if not self.start <= frame < self.end:
            return None
        i = frame - self.start
        return float(self.x[i]), float(self.z[i])

    def load_sprite(self) -> Sprite:
        """The sprite, drawn on first use."""
        if self.sprite is None:
            self.sprite = draw_vehicle(self.body, self.colour, self.plate)
        return self.sprite


def simulate(
    kind: Kind,
    lane: int,
    start: int,
    *,
    fps: float,
    frames: int,
    route: Route,
    rng: random.Random,
    z_near: float,
    z0: float | None = None,
    from_lane: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (z, x) of one vehicle from ``start`` until it leaves or the clip ends (``z0``: where it starts)."""
    dt = 1.0 / fps
    if kind == "overtake":
        z, phase = rng.uniform(1.2, 2.0), "recede"
        v_out = rng.uniform(1.6, 2.6)
    elif kind == "cutin":  # moves over from ``from_lane`` into ``lane`` ahead of us
        z, phase = rng.uniform(14.0, 18.0), "approach"
        v_out = rng.uniform(5.0, 9.0)
    elif kind == "distant":
        z, phase = rng.uniform(38.0, 52.0), "hold"
        v_out = rng.uniform(6.0, 9.0)
    else:
        z, phase = SPAWN_Z + rng.uniform(-5.0, 5.0), "approach"
        v_out = rng.uniform(5.0, 9.0)
    if z0 is not None:
        z = z0
    v_in = rng.uniform(5.5, 8.0)
    hold_left = rng.uniform(5.0, 9.0) if kind == "distant" else rng.uniform(2.5, 4.5)
    sway_f, sway_p = rng.uniform(0.05, 0.15), rng.uniform(0, 6.3)
    zs: list[float] = []
    xs: list[float] = []
    for i in range(start, frames):
        t = i * dt
        if phase == "approach":
            rel = -v_in * min(1.0, max(0.25, (z - z_near) / 8.0))  # ease in as it closes up
            if z <= z_near + 0.05:
                phase = "hold"
        elif phase == "hold":
            rel = 0.4 * np.sin(0.8 * t + sway_p)
            hold_left -= dt
            if hold_left <= 0:
                phase = "recede"
        else:
            rel = v_out * (1.0 + max(0.0, z - 12.0) / 10.0)  # speeds off once it is out of reading range
        rel = max(rel, -route.speed_at(t))  # it cannot drive backwards towards us
        z = max(z + rel * dt, MIN_Z if lane == 0 else 0.5)
        if z > DESPAWN_Z:
            break
        zs.append(z)
        u = min(1.0, (i - start) * dt / CUTIN_S) if kind == "cutin" else 1.0
        lane_x = (from_lane + (lane - from_lane) * u * u * (3 - 2 * u)) * LANE_WIDTH
        xs.append(lane_x + 0.18 * np.sin(2 * np.pi * sway_f * t + sway_p))
    return np.array(zs), np.array(xs)
