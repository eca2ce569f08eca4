"""Which model files a vision config needs, and whether each is present with the right checksum."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashcam.vision.config import EasyOcrConfig, LiteRTDetectorConfig, PlateOnnxOcrConfig, VisionConfig
from dashcam.vision.detectors.litert import is_edgetpu_model
from dashcam.vision.models import NOT_PINNED, file_digest, find_model, search_dirs, spec_for, verify
from dashcam.vision.ocr import EasyOcrBackend, plate_config_names

_DETECTOR_ROLES = ("coarse_detector", "vehicle_detector", "plate_detector")


@dataclass(frozen=True)
class ConfiguredModel:
    """A model file some part of the config needs: the config key and its model entry."""

    role: str
    ref: str
    folder: str | None = None  # a folder the config pins it to (EasyOCR's model_dir)


@dataclass(frozen=True)
class ModelStatus:
    """What `dashcam models check` reports for one configured model."""

    role: str
    ref: str
    name: str | None
    path: str | None
    present: bool
    sha256: str | None
    expected: str
    ok: bool
    source: str
    problem: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def _preferred(ref: str | list[str]) -> str:
    """Of alternatives, the one present (else the first): that is the one the stage will load."""
    if isinstance(ref, str):
        return ref
    return next((r for r in ref if find_model(r) is not None), ref[0])


def configured_models(vision_cfg: VisionConfig | None = None) -> list[ConfiguredModel]:
    """The model files a vision config needs (the defaults when None); OCR models inside wheels are left out."""
    cfg = vision_cfg or VisionConfig()
    out: list[ConfiguredModel] = []
    for role in _DETECTOR_ROLES:
        det = getattr(cfg, role)
        if det is None:
            continue
        out.append(ConfiguredModel(role, _preferred(det.model)))
        if isinstance(det, LiteRTDetectorConfig) and det.fallback_model and is_edgetpu_model(det.model):
            out.append(ConfiguredModel(f"{role}.fallback_model", det.fallback_model))
    if isinstance(cfg.ocr, EasyOcrConfig):
        for name in EasyOcrBackend(cfg.ocr).required_files():
            out.append(ConfiguredModel("ocr", name, cfg.ocr.model_dir))
    if isinstance(cfg.ocr, PlateOnnxOcrConfig):
        out.append(ConfiguredModel("ocr", cfg.ocr.model))
        config = cfg.ocr.plate_config or plate_config_names(cfg.ocr.model)[0]
        out.append(ConfiguredModel("ocr.plate_config", config))
    return out


def check_model(item: ConfiguredModel, *, models_dir: str | Path | None = None) -> ModelStatus:
    """Locate one configured model and verify its checksum where one is pinned."""
    spec = spec_for(item.ref)
    if item.folder:
        candidate = Path(item.folder).expanduser() / Path(item.ref).name
        path = candidate if candidate.is_file() else None
    else:
        path = find_model(item.ref, models_dir=models_dir)
    if spec is None:
        expected = NOT_PINNED
    elif spec.md5:
        expected = f"md5:{spec.md5}"
    else:
        expected = spec.sha256 or NOT_PINNED
    source = spec.source if spec else "not a known model: provided by the user"
    problem: str | None = None
    if path is None:
        where = item.folder or ", ".join(str(d) for d in search_dirs(models_dir))
        fix = f"`dashcam models pull {spec.name}`" if spec and spec.urls else "copy it there"
        problem = f"not found in {where}: {fix}"
    elif spec is not None:
        problem = verify(spec, path)
    return ModelStatus(
        role=item.role,
        ref=item.ref,
        name=spec.name if spec else None,
        path=str(path) if path else None,
        present=path is not None,
        sha256=file_digest(path) if path else None,
        expected=expected,
        ok=problem is None,
        source=source,
        problem=problem,
    )
