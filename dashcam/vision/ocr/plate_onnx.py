"""Plate recognisers with one output slot per character (fast-plate-ocr's ONNX models): the plate_onnx backend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashcam.vision.batching import run_batched
from dashcam.vision.config import PlateOnnxOcrConfig
from dashcam.vision.errors import ModelInvalid, ModelNotFound, VisionError
from dashcam.vision.models import find_model, resolve_model, search_dirs
from dashcam.vision.ocr.base import OcrBackend
from dashcam.vision.ocr.ctc import MIN_CHAR_PROB, PLATE_ALPHABET
from dashcam.vision.types import OcrResult

_INTERPOLATIONS = {"nearest": 0, "linear": 1, "cubic": 2, "area": 3, "lanczos4": 4}  # cv2.INTER_* values


@dataclass(frozen=True)
class PlateSlotsSpec:
    """A slot recogniser's plate_config.yaml: its alphabet, pad character, slot count and input image."""

    alphabet: str
    pad_char: str
    max_plate_slots: int
    img_height: int
    img_width: int
    image_color_mode: str = "grayscale"
    keep_aspect_ratio: bool = False
    interpolation: str = "linear"
    padding_color: tuple[int, int, int] = (114, 114, 114)
    plate_regions: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        """Colour channels of the model's input."""
        return 3 if self.image_color_mode == "rgb" else 1

    @classmethod
    def read(cls, path: Path) -> PlateSlotsSpec:
        """Parse and check a plate_config.yaml; ModelInvalid names the file and the problem."""
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ModelInvalid(
                f"{path}: not a readable plate config ({exc.__class__.__name__}: {exc})"
            ) from exc
        if not isinstance(raw, dict):
            raise ModelInvalid(f"{path}: a plate config is a YAML mapping")
        missing = [
            k for k in ("alphabet", "pad_char", "max_plate_slots", "img_height", "img_width") if k not in raw
        ]
        if missing:
            raise ModelInvalid(f"{path}: plate config lacks {', '.join(missing)}")
        alphabet, pad = str(raw["alphabet"]), str(raw["pad_char"])
        if len(set(alphabet)) != len(alphabet):
            raise ModelInvalid(f"{path}: alphabet has repeated characters")
        if len(pad) != 1 or pad not in alphabet:
            raise ModelInvalid(f"{path}: pad_char {pad!r} must be one character of the alphabet")
        mode = str(raw.get("image_color_mode", "grayscale"))
        if mode not in ("grayscale", "rgb"):
            raise ModelInvalid(f"{path}: image_color_mode {mode!r} is neither grayscale nor rgb")
        interp = str(raw.get("interpolation", "linear"))
        if interp not in _INTERPOLATIONS:
            raise ModelInvalid(f"{path}: interpolation {interp!r} is not one of {', '.join(_INTERPOLATIONS)}")
        pad_colour = raw.get("padding_color", (114, 114, 114))
        try:
            many = isinstance(pad_colour, (list, tuple))
            colour = tuple(int(c) for c in pad_colour) if many else (int(pad_colour),) * 3
        except (TypeError, ValueError) as exc:
            raise ModelInvalid(f"{path}: padding_color must be integers 0-255") from exc
        if len(colour) != 3:
            raise ModelInvalid(f"{path}: padding_color must be one value or three")
        try:
            sizes = [int(raw[k]) for k in ("max_plate_slots", "img_height", "img_width")]
        except (TypeError, ValueError) as exc:
            raise ModelInvalid(f"{path}: max_plate_slots, img_height and img_width must be integers") from exc
        if min(sizes) < 1:
            raise ModelInvalid(f"{path}: max_plate_slots, img_height and img_width must be positive")
        return cls(
            alphabet=alphabet,
            pad_char=pad,
            max_plate_slots=sizes[0],
            img_height=sizes[1],
            img_width=sizes[2],
            image_color_mode=mode,
            keep_aspect_ratio=bool(raw.get("keep_aspect_ratio", False)),
            interpolation=interp,
            padding_color=(colour[0], colour[1], colour[2]),
            plate_regions=tuple(str(r) for r in raw.get("plate_regions") or ()),
        )


def plate_config_names(model: str) -> list[str]:
    """The file names a slot recogniser's plate config is looked up by, from its model's name."""
    stem = Path(model).stem
    return [f"{stem}_plate_config.yaml", f"{stem}_config.yaml"]


class PlateOnnxOcrBackend(OcrBackend[PlateOnnxOcrConfig]):
    """A plate recogniser with a fixed number of character slots (fast-plate-ocr's ONNX export).

    Input: uint8 NHWC at the config's size, grayscale or RGB (the model scales pixels itself). Output
    ``plate`` (or the first): per slot, a probability for each alphabet character, pad included. The text is
    the most probable character of each slot with trailing pad slots dropped; ``char_probs`` gives each kept
    slot's plate characters (A-Z0-9) and their probabilities, so the vote and the format check work as with
    the CTC decoder.
    """

    backend = "plate_onnx"

    def __init__(self, cfg: PlateOnnxOcrConfig, *, models_dir: str | Path | None = None) -> None:
        super().__init__(cfg, models_dir=models_dir)
        self.crop_variants = tuple(cfg.variants)
        self.spec: PlateSlotsSpec | None = None

    def config_path(self, model: Path) -> Path:
        """The plate_config.yaml of a model: the configured one, else one named after the model."""
        if self.cfg.plate_config:
            found = find_model(self.cfg.plate_config, models_dir=self.models_dir)
            if found is None:
                raise ModelNotFound(f"plate config {self.cfg.plate_config!r} of the plate_onnx OCR not found")
            return found
        names = plate_config_names(model.name)
        for name in names:
            for d in (model.parent, *search_dirs(self.models_dir)):
                if (d / name).is_file():
                    return d / name
        raise ModelNotFound(
            f"no plate config for {model.name}: put {names[0]} beside it (`dashcam models pull fast-plate-ocr` "
            "fetches both) or set vision.ocr.plate_config"
        )

    def files(self) -> list[Path]:
        """The model and its plate config, found without loading them (for cache keys)."""
        model = resolve_model(self.cfg.model, models_dir=self.models_dir)
        return [model, self.config_path(model)]

    def load(self) -> None:
        """Open the session, read the plate config and check that they fit each other."""
        from dashcam.vision.detectors.onnx import open_session
        from dashcam.vision.providers import session_provider

        model, config = self.files()
        spec = PlateSlotsSpec.read(config)
        try:
            session = open_session(
                model,
                self.cfg.providers,
                num_threads=self.cfg.num_threads,
                kind="OCR backend",
                device_id=self.cfg.device_id,
                allow_cpu_fallback=self.cfg.allow_cpu_fallback,
            )
        except VisionError:
            raise
        except Exception as exc:  # onnxruntime raises its own types for a corrupt or foreign file
            raise ModelInvalid(f"{model}: not a loadable ONNX model ({exc})") from exc
        inp = session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or (isinstance(shape[3], int) and shape[3] != spec.channels):
            raise ModelInvalid(
                f"{model}: input {inp.name} {shape} is not NHWC with {spec.channels} channel(s) "
                f"({spec.image_color_mode} in its plate config)"
            )
        outputs = [o.name for o in session.get_outputs()]
        self._output = "plate" if "plate" in outputs else outputs[0]
        self._input = inp.name
        self._fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.provider = session_provider(session, self.cfg.device_id)
        self._session = session
        self.spec = spec
        # plate characters of the alphabet (a lower-case class counts as its capital)
        self._plate_cols = [
            (i, c.upper()) for i, c in enumerate(spec.alphabet) if c.upper() in PLATE_ALPHABET
        ]
        self.model_path = model
        self._loaded = True
        self.read([np.full((40, 160, 3), 255, dtype=np.uint8)])  # warm-up: buffers and kernels

    def _input_image(self, crop: np.ndarray) -> np.ndarray:
        """One BGR crop as the model's HWC uint8 input."""
        import cv2

        assert self.spec is not None
        spec = self.spec
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        img = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB if spec.channels == 3 else cv2.COLOR_BGR2GRAY)
        interp = _INTERPOLATIONS[spec.interpolation]
        if not spec.keep_aspect_ratio:
            img = cv2.resize(img, (spec.img_width, spec.img_height), interpolation=interp)
        else:
            h, w = img.shape[:2]
            r = min(spec.img_height / h, spec.img_width / w)
            nw, nh = max(1, round(w * r)), max(1, round(h * r))
            if (nw, nh) != (w, h):
                img = cv2.resize(img, (nw, nh), interpolation=interp)
            top = (spec.img_height - nh) // 2
            left = (spec.img_width - nw) // 2
            value = spec.padding_color if spec.channels == 3 else spec.padding_color[0]
            img = cv2.copyMakeBorder(
                img,
                top,
                spec.img_height - nh - top,
                left,
                spec.img_width - nw - left,
                cv2.BORDER_CONSTANT,
                value=value,
            )
        return img.reshape(spec.img_height, spec.img_width, spec.channels)

    def decode(self, probs: np.ndarray) -> OcrResult:
        """One crop's (slots, alphabet) probabilities as text, per-character probabilities and confidence."""
        assert self.spec is not None
        alphabet, pad = self.spec.alphabet, self.spec.pad_char
        best = probs.argmax(axis=1)
        slots = [int(k) for k in best]
        while slots and alphabet[slots[-1]] == pad:  # trailing pad slots: the plate is shorter
            slots.pop()
        text: list[str] = []
        chars: list[dict[str, float]] = []
        for pos, k in enumerate(slots):
            ch = alphabet[k].upper()
            if ch not in PLATE_ALPHABET:  # a pad or symbol inside the plate: no character there
                continue
            row = probs[pos]
            alts: dict[str, float] = defaultdict(float)
            for i, c in self._plate_cols:
                alts[c] += float(row[i])
            text.append(ch)
            chars.append({c: v for c, v in alts.items() if v >= MIN_CHAR_PROB or c == ch})
        confidence = float(np.mean([c[t] for t, c in zip(text, chars, strict=True)])) if text else 0.0
        raw = (("".join(alphabet[k] for k in best), confidence),)
        if not text or confidence < self.cfg.min_confidence:
            return OcrResult(text="", confidence=0.0, raw=raw)
        return OcrResult(text="".join(text), confidence=confidence, raw=raw, char_probs=tuple(chars))

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop; all crops go through the model as one batch."""
        if not self._loaded:
            self.load()
        if not crops:
            return []
        assert self.spec is not None
        batch = np.stack([self._input_image(c) for c in crops]).astype(np.uint8)
        out = run_batched(
            batch,
            lambda b: self._session.run([self._output], {self._input: b})[0],
            max_batch=self.cfg.max_batch,
            fixed=self._fixed_batch,
        )
        spec = self.spec
        probs = out.astype(np.float32).reshape(-1, spec.max_plate_slots, len(spec.alphabet))
        return [self.decode(p) for p in probs]

    def _read(self, crop: np.ndarray) -> OcrResult:
        return self.read([crop])[0]
