"""OCR backends on real plate crops (the ground-truth boxes of the OpenALPR benchmark photos)."""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashcam.vision.config import EasyOcrConfig, RapidOcrConfig, TesseractOcrConfig
from dashcam.vision.errors import BackendUnavailable, OcrWeightsMissing
from dashcam.vision.ocr import EasyOcrBackend, build_ocr
from tests.vision.conftest import gt_box, sample

# rapidocr (recognition only) on the fixed 20-per-set sample of ground-truth crops, RapidOCR's own text: exact
# 28/40 = 0.70, within one edit 35/40 = 0.88; on all 330 crops: exact 254 (0.77), within one edit 310 (0.94).
# Plate-constrained decoding on the same sample: the same 0.70 exact and 0.88 within one edit.
EXACT_FLOOR = 0.60
NEAR_FLOOR = 0.80


def _plate_text(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@pytest.mark.parametrize("constrained", [True, False], ids=["constrained", "rapidocr-text"])
def test_rapidocr_reads_real_plates(plates: list[dict[str, str]], constrained: bool) -> None:
    ocr = build_ocr(RapidOcrConfig(constrained=constrained))
    ocr.load()
    rows = sample(plates, 20)
    crops = []
    for row in rows:
        x1, y1, x2, y2 = gt_box(row)
        crops.append(cv2.imread(row["path"])[y1:y2, x1:x2])
    start = time.perf_counter()
    results = ocr.read(crops)
    ms = (time.perf_counter() - start) * 1000 / len(crops)
    read = [_plate_text(r.text) for r in results]
    exact = sum(t == row["plate"] for t, row in zip(read, rows, strict=True)) / len(rows)
    near = sum(_edits(t, row["plate"]) <= 1 for t, row in zip(read, rows, strict=True)) / len(rows)
    print(
        f"\nrapidocr ({'constrained' if constrained else 'own text'}) on {len(rows)} plate crops: exact {exact:.2f}, "
        f"within one edit {near:.2f}, {ms:.0f} ms per crop"
    )
    assert exact >= EXACT_FLOOR and near >= NEAR_FLOOR
    assert all(0.0 <= r.confidence <= 1.0 for r in results)
    assert ocr.read([np.full((40, 120, 3), 255, np.uint8)])[0].text == ""
    if not constrained:
        assert all(r.char_probs == () for r in results)
        return
    # crops of a similar width share one recogniser call: the same reads as one crop at a time
    singles = [ocr._read(c) for c in crops]  # type: ignore[attr-defined]
    assert [r.text for r in results] == [r.text for r in singles]
    assert all(abs(a.confidence - b.confidence) < 0.05 for a, b in zip(results, singles, strict=True))
    for r in results:
        # Plate characters and spaces only, one probability mapping per character (empty for a space).
        assert re.fullmatch(r"[A-Za-z0-9 ]*", r.text), r.text
        assert len(r.char_probs) == len(r.text)
        for ch, probs in zip(r.text, r.char_probs, strict=True):
            assert (probs == {}) == (ch == " ")
            assert not probs or max(probs, key=probs.__getitem__) == ch.upper()
            assert all(0.0 < p <= 1.0 for p in probs.values())


def test_easyocr_without_weights_says_pull(tmp_path: Path) -> None:
    if importlib.util.find_spec("easyocr") is None:
        pytest.skip("easyocr is not installed (the [gpu] extra)")
    ocr = build_ocr(EasyOcrConfig(model_dir=str(tmp_path), detect=True))
    assert isinstance(ocr, EasyOcrBackend)
    with pytest.raises(OcrWeightsMissing) as err:
        ocr.load()
    assert str(err.value) == (
        f"EasyOCR weights craft_mlt_25k.pth / english_g2.pth not found in {tmp_path}: "
        "run `dashcam models pull easyocr`"
    )
    (tmp_path / "craft_mlt_25k.pth").write_bytes(b"")
    with pytest.raises(OcrWeightsMissing, match=r"weights english_g2\.pth not found"):
        build_ocr(EasyOcrConfig(model_dir=str(tmp_path), detect=True)).load()


def test_easyocr_searches_the_models_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(tmp_path / "env"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "english_g2.pth").write_bytes(b"x")
    found = EasyOcrBackend(EasyOcrConfig(), models_dir=tmp_path / "mine").weights_dir()
    assert found == (tmp_path / "mine").absolute()
    with pytest.raises(OcrWeightsMissing, match=str(tmp_path / "env")):
        EasyOcrBackend(EasyOcrConfig()).weights_dir()


def test_tesseract_backend() -> None:
    ocr = build_ocr(TesseractOcrConfig())
    if importlib.util.find_spec("pytesseract") is None:
        with pytest.raises(BackendUnavailable, match="needs pytesseract and the tesseract-ocr program"):
            ocr.load()
        return
    img = np.full((60, 260, 3), 255, np.uint8)
    cv2.putText(img, "AB12CDE", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    assert _plate_text(ocr.read([img])[0].text) in {"AB12CDE", "AB12C0E"}
