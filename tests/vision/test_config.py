"""The config classes: discriminated unions, extra keys refused, a description on every field."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from dashcam.vision import config as vc


def test_detector_union_picks_the_backend_by_type() -> None:
    ta = TypeAdapter(vc.DetectorConfig)
    assert isinstance(
        ta.validate_python({"type": "litert", "edgetpu_device": "usb:0"}), vc.LiteRTDetectorConfig
    )
    onnx = ta.validate_python(
        {"type": "onnxruntime", "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    )
    assert isinstance(onnx, vc.OnnxDetectorConfig) and onnx.providers[0] == "CUDAExecutionProvider"
    with pytest.raises(ValidationError, match="union_tag_invalid|does not match any of the expected tags"):
        ta.validate_python({"type": "tensorflow"})
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        ta.validate_python({"type": "ultralytics", "modle": "yolov8n.pt"})
    with pytest.raises(ValidationError):
        ta.validate_python({"type": "ultralytics", "device": "gpu0"})
    assert isinstance(TypeAdapter(vc.OcrConfig).validate_python({"type": "easyocr"}), vc.EasyOcrConfig)
    plate = TypeAdapter(vc.OcrConfig).validate_python({"type": "plate_onnx"})
    assert isinstance(plate, vc.PlateOnnxOcrConfig) and plate.model == "cct_s_v2_global.onnx"
    with pytest.raises(ValidationError):
        TypeAdapter(vc.OcrConfig).validate_python({"type": "plate_onnx", "variants": []})
    with pytest.raises(ValidationError, match="band_narow"):
        TypeAdapter(vc.OcrConfig).validate_python({"type": "plate_onnx", "variants": ["band_narow"]})


def test_gpu_section_maps_to_device_and_batch() -> None:
    cfg = vc.UltralyticsDetectorConfig.for_gpu(device_id=1, max_batch_size=2)
    assert (cfg.device, cfg.batch_size, cfg.model) == ("cuda:1", 2, "yolov8n.pt")


def test_vision_section_round_trips_through_json() -> None:
    cfg = vc.VisionConfig.model_validate(
        {
            "vehicle_detector": {"type": "litert", "model": "yolov8n_full_integer_quant.tflite"},
            "ocr": {"type": "easyocr"},
        }
    )
    again = vc.VisionConfig.model_validate_json(cfg.model_dump_json())
    assert again == cfg and isinstance(again.vehicle_detector, vc.LiteRTDetectorConfig)


@pytest.mark.parametrize(
    "cls",
    [
        vc.UltralyticsDetectorConfig,
        vc.LiteRTDetectorConfig,
        vc.OnnxDetectorConfig,
        vc.RapidOcrConfig,
        vc.EasyOcrConfig,
        vc.TesseractOcrConfig,
        vc.PlateOnnxOcrConfig,
        vc.VisionConfig,
    ],
)
def test_every_field_is_described_and_extra_forbidden(cls: type[BaseModel]) -> None:
    assert cls.model_config.get("extra") == "forbid"
    assert [n for n, f in cls.model_fields.items() if not f.description] == []


def test_importing_the_vision_package_loads_no_runtime() -> None:
    code = (
        "import sys, dashcam.vision, dashcam.vision.detectors, dashcam.vision.ocr.registry,"
        " dashcam.vision.inventory;"
        "print(sorted(m for m in ('torch','ultralytics','onnxruntime','ai_edge_litert','rapidocr','easyocr')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_default_vehicle_detector_runs_a_tflite_file_through_litert(tmp_path) -> None:  # noqa: ANN001
    """The heavy stage's default names yolov8n.pt first, then the int8 TFLite files: with only a TFLite
    file present it runs through ai-edge-litert (no torch to import); a .pt file, or a detector the config
    names itself, stays as configured."""
    from dashcam.vision.defaults import vehicle_detector

    (tmp_path / "yolov8n_full_integer_quant.tflite").write_bytes(b"tflite")
    picked = vehicle_detector(vc.VisionConfig(), models_dir=tmp_path)
    assert isinstance(picked, vc.LiteRTDetectorConfig)
    assert picked.model == "yolov8n_full_integer_quant.tflite" and picked.fallback_model is None
    assert picked.conf == vc.UltralyticsDetectorConfig().conf

    (tmp_path / "yolov8n.pt").write_bytes(b"pt")
    assert isinstance(vehicle_detector(vc.VisionConfig(), models_dir=tmp_path), vc.UltralyticsDetectorConfig)

    (tmp_path / "yolov8n.pt").unlink()
    named = vc.VisionConfig.model_validate(
        {"vehicle_detector": {"type": "ultralytics", "model": "yolov8n_full_integer_quant.tflite"}}
    )
    assert isinstance(vehicle_detector(named, models_dir=tmp_path), vc.UltralyticsDetectorConfig)


def test_ocr_may_list_several_recognisers() -> None:
    one = vc.VisionConfig()
    assert [o.type for o in one.ocrs] == ["rapidocr"]
    both = vc.VisionConfig.model_validate(
        {"ocr": [{"type": "rapidocr"}, {"type": "easyocr", "num_threads": 2}]}
    )
    assert [o.type for o in both.ocrs] == ["rapidocr", "easyocr"]
    assert vc.VisionConfig.model_validate_json(both.model_dump_json()) == both
    with pytest.raises(ValidationError):
        vc.VisionConfig.model_validate({"ocr": []})
    with pytest.raises(ValidationError, match="rapidoc"):
        vc.VisionConfig.model_validate({"ocr": [{"type": "rapidoc"}]})
