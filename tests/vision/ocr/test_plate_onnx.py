"""The plate_onnx OCR backend: a slot recogniser (fast-plate-ocr's ONNX format) built here as a tiny graph.

The real recognisers (fast-plate-ocr's CCT models) cannot be fetched on this machine, so the graph below
stands in for one with the same contract: uint8 NHWC input named ``input``, a ``plate`` output of per-slot
probabilities over the config's alphabet, and a ``region`` output listed first. Its answer depends on the
mean of the input's first channel, so a test can tell which crop, colour order and resize the backend fed it:
mean 0 gives table A ("AB1C234", with I as the runner-up of the "1"), mean 255 table B ("XY7Z"), in between a
blend.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.vision.config import OnnxDetectorConfig, PlateOnnxOcrConfig
from dashcam.vision.errors import ModelInvalid, ModelNotFound
from dashcam.vision.ocr.plate_onnx import PlateOnnxOcrBackend
from dashcam.vision.ocr.registry import build_ocr
from dashcam.vision.plate_text import PlateRules
from dashcam.vision.plates import PlateReader, PlateReaderOptions
from tests.support import model_file, models_dir

onnx = pytest.importorskip("onnx")
runner = CliRunner()

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
SLOTS, HEIGHT, WIDTH = 10, 64, 128


def _table(text: str, runner_up: dict[int, tuple[str, float]] | None = None) -> np.ndarray:
    """Per-slot probabilities spelling ``text`` then pad slots; ``runner_up`` moves mass to a second char."""
    table = np.full((SLOTS, len(ALPHABET)), 0.0, dtype=np.float32)
    for slot, ch in enumerate(text.ljust(SLOTS, "_")):
        table[slot, ALPHABET.index(ch)] = 0.97
        if runner_up and slot in runner_up:
            other, p = runner_up[slot]
            table[slot, ALPHABET.index(ch)] = 0.97 - p
            table[slot, ALPHABET.index(other)] = p
    table += 0.03 / len(ALPHABET)
    return table / table.sum(axis=1, keepdims=True)


TABLE_A = _table("AB1C234", {2: ("I", 0.3)})
TABLE_B = _table("XY7Z")


def _model(path: Path, channels: int, batch: int | str = "N") -> Path:
    """An ONNX graph: plate = A + (B - A) * mean(first channel) / 255; region = [m, 1 - m]."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))

    nodes = [
        const("a", TABLE_A[None]),
        const("b_minus_a", (TABLE_B - TABLE_A)[None]),
        const("starts", np.array([0], dtype=np.int64)),
        const("ends", np.array([1], dtype=np.int64)),
        const("axis3", np.array([3], dtype=np.int64)),
        const("scale", np.array(255.0, dtype=np.float32)),
        const("one", np.array(1.0, dtype=np.float32)),
        const("axes12", np.array([1, 2], dtype=np.int64)),
        const("axes1", np.array([1], dtype=np.int64)),
        helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["x", "starts", "ends", "axis3"], ["first"]),
        helper.make_node("ReduceMean", ["first"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Div", ["mean", "scale"], ["m"]),
        helper.make_node("Unsqueeze", ["m", "axes12"], ["m3"]),
        helper.make_node("Mul", ["b_minus_a", "m3"], ["delta"]),
        helper.make_node("Add", ["a", "delta"], ["plate"]),
        helper.make_node("Unsqueeze", ["m", "axes1"], ["m1"]),
        helper.make_node("Sub", ["one", "m1"], ["not_m"]),
        helper.make_node("Concat", ["m1", "not_m"], ["region"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_plate_ocr",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [batch, HEIGHT, WIDTH, channels])],
        [
            helper.make_tensor_value_info("region", TensorProto.FLOAT, [batch, 2]),
            helper.make_tensor_value_info("plate", TensorProto.FLOAT, [batch, SLOTS, len(ALPHABET)]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _config(path: Path, **over: object) -> Path:
    cfg: dict[str, object] = {
        "max_plate_slots": SLOTS,
        "alphabet": ALPHABET,
        "pad_char": "_",
        "img_height": HEIGHT,
        "img_width": WIDTH,
        "image_color_mode": "rgb",
        "keep_aspect_ratio": False,
        "interpolation": "linear",
        "plate_regions": ["Here", "There"],
    }
    cfg.update(over)
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in cfg.items() if v is not None) + "\n")
    return path


@pytest.fixture
def rgb_model(tmp_path: Path) -> Path:
    model = _model(tmp_path / "tiny_plate.onnx", 3)
    _config(tmp_path / "tiny_plate_plate_config.yaml")
    return model


def _crop(bgr: tuple[int, int, int], size: tuple[int, int] = (40, 160)) -> np.ndarray:
    return np.full((*size, 3), bgr, dtype=np.uint8)


def test_reads_a_batch_in_order_with_per_character_probabilities(rgb_model: Path) -> None:
    ocr = build_ocr(PlateOnnxOcrConfig(model=str(rgb_model)))
    ocr.load()
    # red in BGR is R=255 in the model's RGB: table B; blue has R=0: table A (a BGR feed would swap them)
    red, blue = _crop((0, 0, 255)), _crop((255, 0, 0))
    got = ocr.read([red, blue, red])
    assert [r.text for r in got] == ["XY7Z", "AB1C234", "XY7Z"]  # trailing pad slots dropped
    a = got[1]
    assert len(a.char_probs) == len(a.text)
    assert a.char_probs[2]["1"] == pytest.approx(TABLE_A[2, ALPHABET.index("1")], abs=1e-5)
    assert a.char_probs[2]["I"] == pytest.approx(TABLE_A[2, ALPHABET.index("I")], abs=1e-5)
    assert a.char_probs[2]["I"] > 0.29
    assert "_" not in a.char_probs[2]  # the pad is no plate character
    assert a.confidence == pytest.approx(
        np.mean([p[c] for c, p in zip(a.text, a.char_probs, strict=True)]), abs=1e-6
    )
    assert ocr.read([]) == []


def test_grayscale_model_and_letterbox(tmp_path: Path) -> None:
    model = _model(tmp_path / "gray.onnx", 1)
    _config(tmp_path / "gray_plate_config.yaml", image_color_mode="grayscale")
    ocr = build_ocr(PlateOnnxOcrConfig(model=str(model)))
    assert [r.text for r in ocr.read([_crop((255, 255, 255)), _crop((0, 0, 0))])] == ["XY7Z", "AB1C234"]

    # a black strip 10 px tall: stretched it stays black (A); letterboxed into 64x128 with white padding
    # it is mostly padding (B): the backend follows the config's keep_aspect_ratio and padding_color
    strip = _crop((0, 0, 0), size=(10, 160))
    assert ocr.read([strip])[0].text == "AB1C234"
    _config(tmp_path / "gray_plate_config.yaml", image_color_mode="grayscale", keep_aspect_ratio=True,
            padding_color=[255, 255, 255])  # fmt: skip
    boxed = build_ocr(PlateOnnxOcrConfig(model=str(model)))
    assert boxed.read([strip])[0].text == "XY7Z"


def test_a_model_exported_for_batch_one_reads_many_crops(tmp_path: Path) -> None:
    model = _model(tmp_path / "one.onnx", 3, batch=1)
    _config(tmp_path / "one_plate_config.yaml")
    ocr = build_ocr(PlateOnnxOcrConfig(model=str(model)))
    red, blue = _crop((0, 0, 255)), _crop((255, 0, 0))
    assert [r.text for r in ocr.read([blue, red, blue])] == ["AB1C234", "XY7Z", "AB1C234"]


def test_lower_case_classes_count_as_capitals(tmp_path: Path) -> None:
    """An alphabet with small letters: they fold into the plate's capitals, probabilities summed."""
    model = _model(tmp_path / "low.onnx", 3)
    _config(tmp_path / "low_plate_config.yaml", alphabet=ALPHABET.replace("I", "i").replace("X", "x"))
    got = build_ocr(PlateOnnxOcrConfig(model=str(model))).read([_crop((0, 0, 255)), _crop((255, 0, 0))])
    assert [r.text for r in got] == ["XY7Z", "AB1C234"]
    assert got[1].char_probs[2]["I"] == pytest.approx(TABLE_A[2, ALPHABET.index("I")], abs=1e-5)


def test_min_confidence_drops_weak_reads(rgb_model: Path) -> None:
    # a blend halfway: every slot's best character has about half the mass
    grey = _crop((0, 0, 128))
    assert build_ocr(PlateOnnxOcrConfig(model=str(rgb_model))).read([grey])[0].text
    strict = build_ocr(PlateOnnxOcrConfig(model=str(rgb_model), min_confidence=0.9))
    assert strict.read([grey])[0].text == "" and strict.read([_crop((0, 0, 255))])[0].text == "XY7Z"


def test_plate_config_errors_name_the_file(tmp_path: Path) -> None:
    model = _model(tmp_path / "m.onnx", 3)
    cases = {
        "lacks img_height": {"img_height": None},
        "pad_char '#' must be one character of the alphabet": {"pad_char": "#"},
        "image_color_mode 'bgr' is neither grayscale nor rgb": {"image_color_mode": "bgr"},
        "alphabet has repeated characters": {"alphabet": "AAB_"},
    }
    for message, over in cases.items():
        cfg = _config(tmp_path / "m_plate_config.yaml", **over)
        with pytest.raises(ModelInvalid) as err:
            build_ocr(PlateOnnxOcrConfig(model=str(model))).load()
        assert str(cfg) in str(err.value) and message in str(err.value)

    # an RGB config on a one-channel model: the parts do not fit
    _model(tmp_path / "m.onnx", 1)
    _config(tmp_path / "m_plate_config.yaml")
    with pytest.raises(ModelInvalid, match="not NHWC with 3 channel"):
        build_ocr(PlateOnnxOcrConfig(model=str(model))).load()


def test_missing_config_and_corrupt_model_are_one_line_errors(tmp_path: Path) -> None:
    model = _model(tmp_path / "alone.onnx", 3)
    with pytest.raises(ModelNotFound, match="dashcam models pull fast-plate-ocr"):
        build_ocr(PlateOnnxOcrConfig(model=str(model))).load()
    # an explicitly configured plate_config, found under another name
    cfg = _config(tmp_path / "elsewhere.yaml")
    ocr = build_ocr(PlateOnnxOcrConfig(model=str(model), plate_config=str(cfg)))
    assert ocr.read([_crop((0, 0, 255))])[0].text == "XY7Z"

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not an onnx model" * 8)
    _config(tmp_path / "broken_plate_config.yaml")
    with pytest.raises(ModelInvalid, match="broken.onnx: not a loadable ONNX model") as err:
        build_ocr(PlateOnnxOcrConfig(model=str(broken))).load()
    assert "\n" not in str(err.value).split(" (", 1)[0]


def test_files_are_found_without_loading(rgb_model: Path) -> None:
    files = PlateOnnxOcrBackend(PlateOnnxOcrConfig(model=str(rgb_model))).files()
    assert files == [rgb_model, rgb_model.with_name("tiny_plate_plate_config.yaml")]


@pytest.fixture
def plate_detector() -> OnnxDetectorConfig:
    model_file("license_plate_detector_int8.onnx")
    return OnnxDetectorConfig(num_threads=2)


def test_reader_reads_whole_boxes_with_a_plate_recogniser(
    rgb_model: Path, plate_detector: OnnxDetectorConfig, plates: list[dict[str, str]]
) -> None:
    """The band cuts made for general text recognisers are replaced by the recogniser's own variants."""
    reader = PlateReader.from_config(
        plate_detector,
        PlateOnnxOcrConfig(model=str(rgb_model)),
        PlateRules(),
        PlateReaderOptions(variants=("band", "band_narrow", "band_clahe")),
        models_dir=models_dir(),
    )
    assert reader.variants_of(reader.ocr) == ("tight", "plate")
    reader.load()
    seen: list[tuple[int, int]] = []
    read = reader.ocr.read

    def spy(crops: list[np.ndarray]) -> list:
        seen.extend(c.shape[:2] for c in crops)
        return read(crops)

    reader.ocr.read = spy  # type: ignore[method-assign]
    row = next(r for r in plates if r["set"] == "eu")
    reads = reader.read_image(cv2.imread(row["path"]))
    assert reads, "the plate detector found the real plate"
    x1, y1, x2, y2 = reads[0].box
    # two crops per box, neither cut into the box vertically nor upscaled
    assert len(seen) == 2 * len(reads)
    assert abs(seen[0][0] - (y2 - y1)) <= 1 and abs(seen[0][1] - (x2 - x1)) <= 1  # tight: the box as is
    assert seen[1][0] > seen[0][0] and seen[1][1] > seen[0][1]  # plate: the box and a margin
    assert reads[0].text  # whatever the tiny model spells for this crop's brightness


def test_cli_plates_with_a_configured_plate_recogniser(
    rgb_model: Path, plates: list[dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vision.ocr: {type: plate_onnx, ...}` in the config is all `dashcam plates` needs."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.json").write_text(
        json.dumps({"vision": {"ocr": {"type": "plate_onnx", "model": rgb_model.name}}})
    )
    monkeypatch.setenv("DASHCAM_CONFIG_DIR", str(conf))
    models = tmp_path / "models"
    models.mkdir()
    for f in (rgb_model, rgb_model.with_name("tiny_plate_plate_config.yaml")):
        (models / f.name).symlink_to(f)
    (models / "license_plate_detector_int8.onnx").symlink_to(model_file("license_plate_detector_int8.onnx"))
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(models))
    row = next(r for r in plates if r["set"] == "eu")
    result = runner.invoke(app, ["plates", row["path"], "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)[0]["plates"]
    assert found and set(found[0]["text"]) <= set(ALPHABET) - {"_"}

    # the same config without the recogniser's files: one line saying how to get them
    (models / rgb_model.name).unlink()
    result = runner.invoke(app, ["plates", row["path"]])
    assert result.exit_code != 0
    assert "tiny_plate.onnx" in result.stderr and "not found" in result.stderr


def test_every_configurable_crop_variant_exists() -> None:
    from typing import get_args

    from dashcam.vision.config import CropVariant
    from dashcam.vision.plates import PlateCrops

    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    for name in get_args(CropVariant):
        assert PlateCrops(48).variant(name, frame, (50.0, 40.0, 150.0, 60.0)).size > 0, name
