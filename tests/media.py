"""Small real videos for tests, encoded on the fly (H.264 via PyAV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dashcam.video.encode import write_mp4


def still_clip(
    path: Path,
    image: Path | np.ndarray,
    *,
    seconds: float,
    fps: float = 10,
    width: int = 640,
    noise: int = 2,
    gop: int = 10,
) -> Path:
    """A camera staring at a still scene: the same picture with a little sensor noise on every frame."""
    img = cv2.imread(str(image)) if isinstance(image, Path) else image
    assert img is not None, f"cannot read {image}"
    h = int(round(img.shape[0] * width / img.shape[1] / 2)) * 2
    img = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(7)
    noise_frames = [rng.integers(-noise, noise + 1, img.shape, dtype=np.int16) for _ in range(4)]

    def frames():
        for i in range(int(seconds * fps)):
            yield np.clip(img.astype(np.int16) + noise_frames[i % 4], 0, 255).astype(np.uint8)

    write_mp4(path, frames(), fps=fps, gop=gop)
    return path


def slideshow_clip(
    path: Path, images: list[Path], *, seconds_each: float, fps: float = 10, width: int = 640, gop: int = 10
) -> Path:
    """Each picture shown in turn (hard cuts): a scene change at every picture."""
    pics = []
    for p in images:
        img = cv2.imread(str(p))
        assert img is not None, f"cannot read {p}"
        h = int(round(img.shape[0] * width / img.shape[1] / 2)) * 2
        pics.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
    h = min(p.shape[0] for p in pics)

    def frames():
        for img in pics:
            for _ in range(int(seconds_each * fps)):
                yield img[:h]

    write_mp4(path, frames(), fps=fps, gop=gop)
    return path
