"""Fixtures of the vision tests: real frames and plate photos from DASHCAM_TESTDATA."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashcam.vision.config import OnnxDetectorConfig, RapidOcrConfig
from dashcam.vision.plates import PlateReader
from tests.support import model_file, models_dir, testdata_file


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the user's ~/.cache/dashcam/models or ~/.EasyOCR from a test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("EASYOCR_MODULE_PATH", str(tmp_path / "easyocr-home"))
    monkeypatch.delenv("DASHCAM_MODELS_URL", raising=False)


@pytest.fixture(scope="session")
def highway() -> dict[str, np.ndarray]:
    """The six highway stills by stem (test2 has no car on the road)."""
    folder = testdata_file("video/highway/test_images")
    frames = {p.stem: cv2.imread(str(p)) for p in sorted(folder.glob("test*.jpg"))}
    assert len(frames) == 6 and all(f is not None for f in frames.values())
    return frames


@pytest.fixture(scope="session")
def plates() -> list[dict[str, str]]:
    """groundtruth.csv rows with an absolute ``path`` added."""
    gt = testdata_file("plates/groundtruth.csv")
    with gt.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["path"] = str(gt.parent / r["set"] / r["image"])
    return rows


def sample(rows: list[dict[str, str]], per_set: int) -> list[dict[str, str]]:
    """An evenly spaced, fixed sample of ``per_set`` photos from each set (sorted by file name)."""
    out: list[dict[str, str]] = []
    for name in sorted({r["set"] for r in rows}):
        in_set = sorted((r for r in rows if r["set"] == name), key=lambda r: r["image"])
        idx = sorted(set(np.linspace(0, len(in_set) - 1, min(per_set, len(in_set))).round().astype(int)))
        out += [in_set[i] for i in idx]
    return out


def gt_box(row: dict[str, str]) -> tuple[int, int, int, int]:
    """The ground-truth plate box as x1, y1, x2, y2."""
    x, y, w, h = (int(row[k]) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    """The real plate detector and RapidOCR with the reader's default crops, one per test module (tests set
    its rules)."""
    model_file("license_plate_detector_int8.onnx")
    r = PlateReader.from_config(OnnxDetectorConfig(num_threads=2), RapidOcrConfig(), models_dir=models_dir())
    r.load()
    return r
