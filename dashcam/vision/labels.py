"""Class names of a model: from its embedded metadata, a metadata.yaml beside it, or COCO's 80 names."""

from __future__ import annotations

import ast
import logging
import re
import zipfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

_YAML_NAME = re.compile(r"""^\s+(\d+)\s*:\s*['"]?(.*?)['"]?\s*$""")


def coco_names() -> dict[int, str]:
    """The 80 COCO class names by index."""
    return dict(enumerate(COCO_NAMES))


def parse_names(value: Any) -> dict[int, str]:
    """Names from an ultralytics metadata value: a dict, a list, or their Python repr."""
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if isinstance(value, (list, tuple)):
        return {i: str(n) for i, n in enumerate(value)}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    raise ValueError(f"unreadable class names: {value!r:.80}")


def read_metadata_yaml(path: Path) -> dict[int, str]:
    """The ``names:`` block of an ultralytics metadata.yaml (read without a YAML library)."""
    names: dict[int, str] = {}
    in_names = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            in_names = line.split(":", 1)[0].strip() == "names"
            continue
        match = _YAML_NAME.match(line) if in_names else None
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


def tflite_metadata(path: Path) -> dict[str, Any]:
    """The ultralytics metadata dict zipped onto the end of an exported .tflite file ({} when none)."""
    if not zipfile.is_zipfile(path):
        return {}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            text = zf.read(member).decode("utf-8", errors="replace")
            try:
                meta = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(meta, dict):
                return meta
    return {}


def names_for_tflite(path: Path) -> dict[int, str]:
    """Names of a TFLite model: appended metadata, then metadata.yaml beside it, then COCO."""
    meta = tflite_metadata(path)
    if "names" in meta:
        return parse_names(meta["names"])
    beside = path.with_name("metadata.yaml")
    if beside.is_file():
        names = read_metadata_yaml(beside)
        if names:
            return names
    log.info("%s carries no class names: assuming the 80 COCO classes", path.name)
    return coco_names()


def names_for_onnx(custom_metadata: dict[str, str], path: Path) -> dict[int, str]:
    """Names of an ONNX model from its embedded ultralytics metadata, else COCO."""
    if "names" in custom_metadata:
        return parse_names(custom_metadata["names"])
    log.info("%s carries no class names: assuming the 80 COCO classes", path.name)
    return coco_names()
