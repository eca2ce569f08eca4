"""The guide's config files are accepted verbatim; broken ones give one line per problem."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.config import ConfigError, load_config, validate_dir
from dashcam.settings import Settings

REPO = Path(__file__).resolve().parents[2]
GUIDE_CONFIG = REPO / "config"

# Step 4 of the guide: the Jetson file as the user edits it, without device_type/hostname.
JETSON_STEP4 = """{
  "storage": {
    "local_scratch": "/tmp/jetson_scratch",
    "max_concurrent_tasks": 1
  },
  "coral": {
    "device_path": "/dev/bus/usb/001/003"
  }
}"""
RTX_STEP5 = r"""{
  "gpu": {
    "device_id": 0,
    "max_batch_size": 2,
    "yolo_model_path": "./models/yolov8n.pt",
    "ocr_model": "en"
  },
  "storage": {
    "local_scratch": "D:\\dashcam_temp",
    "max_concurrent_tasks": 1
  }
}"""


def settings(config_dir: Path, device: str = "jetson-coral-1", data: Path | None = None) -> Settings:
    env = {"DASHCAM_CONFIG_DIR": str(config_dir), "DASHCAM_DEVICE": device}
    if data:
        env["DASHCAM_DATA_DIR"] = str(data)
    return Settings.from_env(env)


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    d = tmp_path / "etc"
    shutil.copytree(GUIDE_CONFIG, d)
    return d


def problems(d: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        validate_dir(d, settings(d))
    return exc.value.problems


def test_guide_examples_verbatim(cfg_dir: Path) -> None:
    cfg = validate_dir(cfg_dir, settings(cfg_dir))
    assert set(cfg.devices) == {"jetson-coral-1", "rtx-4090-1"}
    g = cfg.global_config
    assert g.global_.task_retry_delay_seconds == 300
    assert g.global_.storage_retention_days.heavy_output == 7
    assert g.storage_paths.indoor_nas.base == "//nas-1/videos/"
    assert cfg.device.coral is not None and cfg.device.coral.device_path == "/dev/bus/usb/001/003"
    rtx = cfg.devices["rtx-4090-1"]
    assert rtx.gpu is not None and rtx.gpu.max_batch_size == 2
    assert rtx.storage.local_scratch == "D:\\dashcam_temp"
    assert cfg.warnings == []


def test_step4_and_step5_snippets_are_accepted(cfg_dir: Path) -> None:
    (cfg_dir / "devices" / "jetson-coral-1.json").write_text(JETSON_STEP4)
    (cfg_dir / "devices" / "rtx-4090-1.json").write_text(RTX_STEP5)
    cfg = validate_dir(cfg_dir, settings(cfg_dir, device="rtx-4090-1"))
    assert cfg.device.gpu is not None and cfg.device.gpu.yolo_model_path == "./models/yolov8n.pt"
    assert cfg.devices["jetson-coral-1"].device_type is None


def test_exact_message_for_out_of_range_value(cfg_dir: Path) -> None:
    p = cfg_dir / "devices" / "jetson-coral-1.json"
    doc = json.loads(p.read_text())
    doc["gpu"] = {"max_batch_size": 0}
    p.write_text(json.dumps(doc))
    assert problems(cfg_dir) == ["devices/jetson-coral-1.json: gpu.max_batch_size: must be >= 1, got 0"]


def test_every_problem_is_listed_once_per_line(cfg_dir: Path) -> None:
    g = json.loads((cfg_dir / "config.json").read_text())
    g["global"]["task_retry_delay_seconds"] = "soon"
    g["global"]["storage_retention_days"]["raw_video"] = 90  # typo
    g["storage_paths"]["indoor_nas"]["bsae"] = "x"
    (cfg_dir / "config.json").write_text(json.dumps(g))
    (cfg_dir / "devices" / "rtx-4090-1.json").write_text(
        '{"device_type": "toaster", "gpu": {"device_id": -1}}'
    )
    (cfg_dir / "devices" / "broken.json").write_text('{"storage": {"local_scratch": "/x",}}')
    got = problems(cfg_dir)
    assert "config.json: global.task_retry_delay_seconds: must be an integer, got 'soon'" in got
    assert (
        "config.json: global.storage_retention_days.raw_video: unknown key (did you mean 'raw_videos'?)"
        in got
    )
    assert "config.json: storage_paths.indoor_nas.bsae: unknown key (did you mean 'base'?)" in got
    assert any(
        p.startswith("devices/rtx-4090-1.json: device_type: must be one of") and "'toaster'" in p for p in got
    )
    assert "devices/rtx-4090-1.json: gpu.device_id: must be >= 0, got -1" in got
    assert any(p.startswith("devices/broken.json: invalid JSON at line 1") for p in got)
    assert all("\n" not in p and "Traceback" not in p for p in got)
    assert len(got) == 6


def test_missing_global_file_and_missing_dir(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert problems(tmp_path / "empty") == [
        "config.json: missing (the global configuration file is required)"
    ]
    with pytest.raises(ConfigError, match="does not exist"):
        validate_dir(tmp_path / "nope", settings(tmp_path / "nope"))


def test_top_level_must_be_object(cfg_dir: Path) -> None:
    (cfg_dir / "config.json").write_text("[1, 2]")
    assert problems(cfg_dir) == ["config.json: (top level): must be an object, got list"]


def test_plate_lengths_cross_check(cfg_dir: Path) -> None:
    g = json.loads((cfg_dir / "config.json").read_text())
    g["plates"] = {"min_length": 9, "max_length": 5}
    (cfg_dir / "config.json").write_text(json.dumps(g))
    assert problems(cfg_dir) == ["config.json: plates: min_length (9) must be <= max_length (5)"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_warns_when_a_secret_is_readable_by_others(cfg_dir: Path) -> None:
    g = json.loads((cfg_dir / "config.json").read_text())
    g["database"] = {"url": "postgresql+psycopg://dashcam:hunter2@db/dashcam"}
    p = cfg_dir / "config.json"
    p.write_text(json.dumps(g))
    p.chmod(0o644)
    cfg = validate_dir(cfg_dir, settings(cfg_dir))
    assert len(cfg.warnings) == 1 and "chmod 600" in cfg.warnings[0] and "hunter2" not in cfg.warnings[0]
    p.chmod(0o600)
    assert validate_dir(cfg_dir, settings(cfg_dir)).warnings == []


def test_embedded_default_without_config_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"DASHCAM_DATA_DIR": str(tmp_path / "d")})
    s = Settings(**{**s.__dict__, "config_dir": tmp_path / "absent"})
    cfg = load_config(s)
    assert cfg.embedded
    assert cfg.database_url() == f"sqlite:///{tmp_path / 'd' / 'dashcam.db'}"


def test_explicit_missing_config_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing directory"):
        load_config(Settings.from_env({"DASHCAM_CONFIG_DIR": str(tmp_path / "absent")}))


runner = CliRunner()


def test_cli_validate_exit_codes(cfg_dir: Path) -> None:
    ok = runner.invoke(app, ["config", "validate", str(cfg_dir)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    (cfg_dir / "devices" / "jetson-coral-1.json").write_text(
        '{"gpu": {"max_batch_size": 0}, "colour": "red"}'
    )
    bad = runner.invoke(app, ["config", "validate", str(cfg_dir), "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.stdout)
    assert doc["valid"] is False
    assert sorted(doc["problems"]) == sorted(
        [
            "devices/jetson-coral-1.json: gpu.max_batch_size: must be >= 1, got 0",
            "devices/jetson-coral-1.json: colour: unknown key (known keys: device_type, hostname, storage, coral, gpu, work_pool)",
        ]
    )
