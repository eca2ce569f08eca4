"""``--images`` mode: a drive built from real photos, each shown a while with a slow zoom and pan.

Each photo is letterboxed to the output size and moved by an affine map (Ken Burns); when the photos come
with plate boxes (the OpenALPR layout: ``groundtruth.csv`` beside or above the folder, or one ``.txt`` per
image), each box goes through the same map, so the ground truth says where every plate is in each frame
and whether it is legible.
"""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dashcam.synth.truth import Observation

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MAX_ZOOM = 1.25


def video_like(img: np.ndarray, scale: float, sigma: float = 0.8, quality: int = 60) -> np.ndarray:
    """A photo as a dashcam's video would show it: downscaled by ``scale``, blurred (Gaussian, ``sigma`` px)
    and compressed (JPEG at ``quality``)."""
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError(f"could not JPEG-encode and decode a {small.shape} image")
    return np.asarray(decoded)


@dataclass(frozen=True)
class PhotoPlate:
    """A plate in a photo: its text and box (x, y, width, height) in photo pixels."""

    text: str
    box: tuple[float, float, float, float]


@dataclass
class Photo:
    """A loaded photo, its plates, and its zoom/pan from the start to the end of its showing."""

    path: Path
    image: np.ndarray
    scale: float  # photo pixels were resized by this on loading (boxes too)
    plates: list[PhotoPlate]
    zoom: tuple[float, float]
    centre: tuple[tuple[float, float], tuple[float, float]]  # fractions of the free pan range


def list_images(directory: Path) -> list[Path]:
    """The photos in a folder, sorted by name."""
    found = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise ValueError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return found


def load_plate_boxes(directory: Path) -> dict[str, list[PhotoPlate]]:
    """Plate boxes per image name from ``groundtruth.csv`` (here or one level up) or per-image .txt files."""
    out: dict[str, list[PhotoPlate]] = {}
    for csv_path in (directory / "groundtruth.csv", directory.parent / "groundtruth.csv"):
        if not csv_path.is_file():
            continue
        with csv_path.open(newline="") as f:
            for row in csv.DictReader(f):
                if "set" in row and csv_path.parent != directory and row["set"] != directory.name:
                    continue
                box = tuple(float(row[k]) for k in ("x", "y", "width", "height"))
                out.setdefault(row["image"], []).append(PhotoPlate(row["plate"].upper(), box))  # type: ignore[arg-type]
        if out:
            return out
    for txt in directory.glob("*.txt"):
        parts = txt.read_text(errors="replace").split()
        if len(parts) >= 6:
            try:
                box = tuple(float(v) for v in parts[1:5])
            except ValueError:
                continue
            out.setdefault(parts[0], []).append(PhotoPlate(parts[5].upper(), box))  # type: ignore[arg-type]
    return out


class PhotoRenderer:
    """Frames and observations of a slideshow drive through real photos."""

    def __init__(
        self,
        images: list[Path],
        *,
        size: tuple[int, int],
        fps: float,
        frames: int,
        photo_seconds: float,
        seed: int,
        min_plate_px: float,
        boxes: dict[str, list[PhotoPlate]] | None = None,
    ) -> None:
        self.size, self.fps, self.frames, self.min_plate_px = size, fps, frames, min_plate_px
        self.per_photo = max(1, int(round(photo_seconds * fps)))
        rng = random.Random(f"photos:{seed}")
        shown = min(len(images), -(-frames // self.per_photo))
        self.photos = [self._load(p, (boxes or {}).get(p.name, []), rng) for p in images[:shown]]
        log.info("photo drive: %d photos, %d frames each", len(self.photos), self.per_photo)

    def _load(self, path: Path, plates: list[PhotoPlate], rng: random.Random) -> Photo:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        w, h = self.size
        fit = min(w / image.shape[1], h / image.shape[0]) * MAX_ZOOM
        scale = 1.0
        if fit < 0.5:  # much larger than the output: shrink once, so each frame does not alias
            scale = fit
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        plates = [PhotoPlate(p.text, tuple(v * scale for v in p.box)) for p in plates]  # type: ignore[misc]
        zoom = (1.0, rng.uniform(1.12, MAX_ZOOM))
        if rng.random() < 0.5:
            zoom = (zoom[1], zoom[0])
        centre = ((rng.random(), rng.random()), (rng.random(), rng.random()))
        if plates:  # drift towards the plate, as a viewer's eye would
            px, py, pw, ph = plates[0].box
            target = ((px + pw / 2) / image.shape[1], (py + ph / 2) / image.shape[0])
            centre = (centre[0], target)
        return Photo(path, image, scale, plates, zoom, centre)

    def _which(self, frame: int) -> tuple[Photo, float]:
        k = frame // self.per_photo
        return self.photos[k % len(self.photos)], (frame % self.per_photo) / max(1, self.per_photo - 1)

    def _transform(self, photo: Photo, u: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The 2x3 map photo -> output at progress ``u`` and the letterbox rectangle it fills."""
        w, h = self.size
        ih, iw = photo.image.shape[:2]
        ease = u * u * (3 - 2 * u)
        z = photo.zoom[0] + (photo.zoom[1] - photo.zoom[0]) * ease
        s0 = min(w / iw, h / ih)
        bw, bh = iw * s0, ih * s0
        ox, oy = (w - bw) / 2, (h - bh) / 2
        cw, ch = iw / z, ih / z
        fx = photo.centre[0][0] + (photo.centre[1][0] - photo.centre[0][0]) * ease
        fy = photo.centre[0][1] + (photo.centre[1][1] - photo.centre[0][1]) * ease
        cx = cw / 2 + (iw - cw) * fx
        cy = ch / 2 + (ih - ch) * fy
        s = s0 * z
        m = np.array([[s, 0.0, ox - (cx - cw / 2) * s], [0.0, s, oy - (cy - ch / 2) * s]])
        rect = (int(np.ceil(ox)), int(np.ceil(oy)), int(np.floor(ox + bw)), int(np.floor(oy + bh)))
        return m, rect

    def render(self, frame: int) -> np.ndarray:
        """The BGR image of ``frame``."""
        photo, u = self._which(frame)
        m, (x1, y1, x2, y2) = self._transform(photo, u)
        w, h = self.size
        out = cv2.warpAffine(photo.image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        out[:y1] = 0
        out[y2:] = 0
        out[:, :x1] = 0
        out[:, x2:] = 0
        return out

    def observe(self, frame: int) -> list[Observation]:
        """Where each plate of the photo on screen is, and whether it is legible."""
        photo, u = self._which(frame)
        m, (x1, y1, x2, y2) = self._transform(photo, u)
        out = []
        for p in photo.plates:
            px, py, pw, ph = p.box
            a = m @ np.array([px, py, 1.0])
            b = m @ np.array([px + pw, py + ph, 1.0])
            box = (float(a[0]), float(a[1]), float(b[0]), float(b[1]))
            inside = box[0] >= x1 and box[1] >= y1 and box[2] <= x2 and box[3] <= y2
            visible = box[2] > x1 and box[0] < x2 and box[3] > y1 and box[1] < y2
            height = box[3] - box[1]
            out.append(
                Observation(
                    plate=p.text,
                    style="photo",
                    source=f"photo:{photo.path.name}",
                    box=box if visible else None,
                    height_px=height,
                    legible=inside and height >= self.min_plate_px,
                )
            )
        return out
