"""Errors of the vision package: each message says what to do about it, in one line."""

from __future__ import annotations


class VisionError(RuntimeError):
    """Base of every vision error."""


class BackendUnavailable(VisionError):
    """The configured backend's runtime is not installed (or its device is absent)."""


class EdgeTpuUnavailable(BackendUnavailable):
    """An _edgetpu model was configured but no Edge TPU runtime or device is usable."""


class ModelNotFound(VisionError, FileNotFoundError):
    """A configured model file is in none of the searched folders."""


class ModelInvalid(VisionError, ValueError):
    """A model file or its config is there but unusable (corrupt, foreign format, parts that do not fit)."""


class OcrWeightsMissing(ModelNotFound):
    """An OCR backend's weights are not on disk (they are never downloaded at run time)."""


class ModelDownloadError(VisionError):
    """A model could not be downloaded (HTTP error, timeout, no public URL)."""


class ChecksumMismatch(ModelDownloadError):
    """A model file's sha256/md5 differs from the pinned one."""


# Which extra installs each backend's runtime (pyproject.toml [project.optional-dependencies]).
EXTRAS: dict[str, str] = {
    "ultralytics": "[gpu]",
    "litert": "[edge]",
    "onnxruntime": "[ocr] or [gpu]",
    "rapidocr": "[ocr]",
    "easyocr": "[gpu]",
}


def missing_runtime(backend: str, package: str, kind: str = "detector") -> BackendUnavailable:
    """The one-line error for a backend whose Python package is not installed."""
    extra = EXTRAS.get(backend, "")
    first = extra.split(" ")[0].strip("[]")
    return BackendUnavailable(
        f"the {backend!r} {kind} needs {package}: install the {extra} extra (uv sync --extra {first})"
    )
