"""Licence plates for synthetic footage: valid-looking random texts and plate images that read like plates.

Styles: ``uk`` (520 x 111 mm, yellow rear plate, "AB12 CDE"), ``eu`` (520 x 110 mm, white with a blue band)
and ``us`` (12 x 6 in, white, small state name above large characters). Characters are dark on a light
background, drawn with a Hershey font and stretched to the tall, condensed shape of plate lettering.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

log = logging.getLogger(__name__)

Style = Literal["uk", "eu", "us"]

UK_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$")
US_RE = re.compile(r"^[0-9][A-Z]{3}[0-9]{3}$")
PLATE_RE = re.compile(r"^[A-Z0-9]{2,10}$")
# Letters real issuers avoid because they read like digits.
_UK_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
_US_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_STATES = ("CALIFORNIA", "NEVADA", "OREGON", "ARIZONA", "TEXAS")


@dataclass(frozen=True)
class PlateSpec:
    """A plate's text (A-Z0-9), its style and physical size in metres."""

    text: str
    style: Style
    width_m: float
    height_m: float

    @property
    def aspect(self) -> float:
        """Width over height (4.7 for UK/EU, 2.0 for US)."""
        return self.width_m / self.height_m


SIZES: dict[Style, tuple[float, float]] = {"uk": (0.520, 0.111), "eu": (0.520, 0.110), "us": (0.305, 0.152)}


def normalize(text: str) -> str:
    """Upper case without separators; a ValueError when it cannot be a plate."""
    out = re.sub(r"[\s\-._]", "", text.upper())
    if not PLATE_RE.match(out):
        raise ValueError(f"{text!r} is no plate text (2-10 characters A-Z, 0-9)")
    return out


def style_for(text: str) -> Style:
    """The style a plate text suggests: UK format, US (7 characters starting with a digit), else EU."""
    if UK_RE.match(text):
        return "uk"
    if US_RE.match(text) or len(text) <= 6:
        return "us"
    return "eu"


def spec_for(text: str, style: Style | None = None) -> PlateSpec:
    """A plate spec for a (normalised) text."""
    style = style or style_for(text)
    w, h = SIZES[style]
    return PlateSpec(text, style, w, h)


def random_plate(rng: random.Random, style: Style | None = None) -> str:
    """One random valid-looking plate: UK ``AB12CDE`` or US (California) ``7ABC123``."""
    style = style or rng.choice(["uk", "us"])
    if style == "us":
        return (
            str(rng.randint(1, 9))
            + "".join(rng.choice(_US_LETTERS) for _ in range(3))
            + "".join(str(rng.randint(0, 9)) for _ in range(3))
        )
    return (
        "".join(rng.choice(_UK_LETTERS) for _ in range(2))
        + f"{rng.randint(2, 73):02d}"
        + "".join(rng.choice(_UK_LETTERS) for _ in range(3))
    )


def random_plates(n: int, rng: random.Random, *, avoid: Iterable[str] = ()) -> list[str]:
    """``n`` distinct random plates, none of them in ``avoid``."""
    seen = set(avoid)
    out: list[str] = []
    while len(out) < n:
        p = random_plate(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _display_text(spec: PlateSpec) -> str:
    t = spec.text
    if spec.style == "uk":
        return f"{t[:4]} {t[4:]}"
    return t


@lru_cache(maxsize=256)
def _glyphs(text: str, height: int, width: int, thickness_ratio: float) -> np.ndarray:
    """White-on-black text mask stretched to exactly ``width`` x ``height`` pixels."""
    scale = 4.0
    thick = max(2, int(round(scale * 10 * thickness_ratio)))
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    canvas = np.zeros((th + base + 2 * thick, tw + 2 * thick), np.uint8)
    cv2.putText(canvas, text, (thick, th + thick), font, scale, 255, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    crop = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def render_plate(spec: PlateSpec, height_px: int = 120) -> np.ndarray:
    """A BGR image of the plate, ``height_px`` tall, at the style's aspect ratio."""
    h = int(height_px)
    w = int(round(h * spec.aspect))
    text = _display_text(spec)
    ink = (25, 20, 20)
    if spec.style == "us":
        img = np.full((h, w, 3), (245, 245, 240), np.uint8)
        rng = random.Random(spec.text)
        state = rng.choice(_STATES)
        sh, sw = int(h * 0.13), int(w * 0.42)
        mask = _glyphs(state, sh, sw, 0.08)
        x0, y0 = (w - sw) // 2, int(h * 0.07)
        img[y0 : y0 + sh, x0 : x0 + sw][mask > 96] = (40, 40, 190)  # red state name
        ch, cw = int(h * 0.50), int(w * 0.84)
        mask = _glyphs(text, ch, cw, 0.12)
        x0, y0 = (w - cw) // 2, int(h * 0.30)
        ink = (90, 40, 20)  # dark blue, as on California plates
        region = img[y0 : y0 + ch, x0 : x0 + cw]
    else:
        bg = (20, 200, 250) if spec.style == "uk" else (245, 245, 245)
        img = np.full((h, w, 3), bg, np.uint8)
        left = int(w * 0.02)
        if spec.style == "eu":
            band = int(w * 0.075)
            img[:, :band] = (150, 50, 0)  # the blue EU band
            cv2.circle(img, (band // 2, int(h * 0.32)), max(1, int(h * 0.17)), (0, 200, 255), max(1, h // 40))
            left = band
        ch, cw = int(h * 0.68), int((w - left) * 0.88)
        mask = _glyphs(text, ch, cw, 0.11)
        x0, y0 = left + (w - left - cw) // 2, (h - ch) // 2
        region = img[y0 : y0 + ch, x0 : x0 + cw]
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    region[:] = (region * (1 - alpha) + np.array(ink, np.float32) * alpha).astype(np.uint8)
    border = max(1, h // 25)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), (30, 30, 30), border)
    return img
