"""OCR backends behind one interface: read the text of plate crops.

rapidocr is the default (its models ship in the wheel); easyocr is the GPU box's choice (weights from
`dashcam models pull`, never downloaded at run time); tesseract when pytesseract and tesseract-ocr exist;
plate_onnx runs a plate-specific recogniser with one output slot per character (fast-plate-ocr's models).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import string
import unicodedata
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from dashcam.vision.batching import run_batched
from dashcam.vision.config import EasyOcrConfig, PlateOnnxOcrConfig, RapidOcrConfig, TesseractOcrConfig
from dashcam.vision.errors import (
    BackendUnavailable,
    ModelInvalid,
    ModelNotFound,
    OcrWeightsMissing,
    VisionError,
    missing_runtime,
)
from dashcam.vision.models import find_model, resolve_model, search_dirs
from dashcam.vision.plate_text import SEPARATOR_CHARS
from dashcam.vision.types import OcrResult

log = logging.getLogger(__name__)

C = TypeVar("C")

EASYOCR_DETECTOR = "craft_mlt_25k.pth"
# Recognizer weights per language set EasyOCR would pick; other sets are checked by EasyOCR itself.
EASYOCR_RECOGNIZERS = {frozenset({"en"}): "english_g2.pth"}


# The characters of a normalised plate, in the order of the decoder's plate classes.
PLATE_ALPHABET = string.ascii_uppercase + string.digits
_BLANK, _SEPARATOR, _UPPER, _LOWER = 0, 1, 2, 2 + len(PLATE_ALPHABET)
_N_GROUPS = _LOWER + 26
# Alternatives below this probability are left out of OcrResult.char_probs.
_MIN_CHAR_PROB = 1e-4


def _plate_group(ch: str) -> int | None:
    """The decoder group of one recogniser class: separator, plate character (upper/lower), None = masked."""
    if ch == "|":  # a thin I, as normalise reads it
        return _UPPER + PLATE_ALPHABET.index("I")
    if ch.isspace() or ch in SEPARATOR_CHARS:
        return _SEPARATOR
    # Accented and full-width forms count as their base letter or digit (Č -> C, Ａ -> A, ² -> 2).
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if len(base) != 1 or not base.isascii() or not base.isalnum():
        return None
    if base.islower():
        return _LOWER + string.ascii_lowercase.index(base)
    return _UPPER + PLATE_ALPHABET.index(base)


class PlateCtcDecoder:
    """Greedy CTC decoding of a recogniser's per-step class probabilities, restricted to plate characters.

    ``characters`` is the recogniser's class list, index 0 the CTC blank. Classes are grouped: blank; separators
    (space, punctuation); the 36 plate characters, where the upper- and lower-case forms of a letter (and
    accented forms) add up; every other class (CJK, symbols) is masked and the rest renormalised. Each step
    takes its most probable group; repeats not split by a blank or separator are one character.
    """

    def __init__(self, characters: Sequence[str]) -> None:
        groups = [_BLANK] + [_plate_group(c) for c in characters[1:]]
        kept = sorted((g, i) for i, g in enumerate(groups) if g is not None)
        # Class columns ordered by group, where each group starts, and which groups have classes at all.
        self._cols = np.array([i for _, i in kept], dtype=np.int64)
        self._groups = np.array(sorted({g for g, _ in kept}), dtype=np.int64)
        self._starts = np.searchsorted([g for g, _ in kept], self._groups)

    def decode(self, probs: np.ndarray) -> tuple[str, tuple[dict[str, float], ...]]:
        """Text and per-character probabilities of one [T, C] softmax output.

        The text keeps case (a letter is lower case when its lower-case classes carry more mass) and a space
        for each run of separators, so that normalise() can drop small print; ``char_probs`` has one mapping
        per character of the text (plate character -> highest probability over the character's steps,
        ``{}`` for a space).
        """
        probs = np.asarray(probs, dtype=np.float32)
        grouped = np.zeros((probs.shape[0], _N_GROUPS), dtype=np.float32)
        # A sum per group without BLAS: its worker threads would fight onnxruntime's for the cores.
        grouped[:, self._groups] = np.add.reduceat(probs[:, self._cols], self._starts, axis=1)
        upper, lower = grouped[:, _UPPER:_LOWER], grouped[:, _LOWER:]
        plate = upper.copy()
        plate[:, :26] += lower
        scores = np.concatenate([grouped[:, :_UPPER], plate], axis=1)
        scores /= np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        best = scores.argmax(axis=1)

        text: list[str] = []
        chars: list[dict[str, float]] = []

        def emit(k: int, steps: list[int]) -> None:
            dist = scores[steps, _UPPER:].max(axis=0)
            ch = PLATE_ALPHABET[k]
            if k < 26 and lower[steps, k].sum() > upper[steps, k].sum():
                ch = ch.lower()
            text.append(ch)
            chars.append({PLATE_ALPHABET[j]: float(p) for j, p in enumerate(dist) if p >= _MIN_CHAR_PROB})

        run: list[int] = []  # steps of the character being read
        prev = _BLANK
        for t, g in enumerate(best.tolist()):
            if g >= _UPPER and g == prev and run:
                run.append(t)
                continue
            if run:
                emit(prev - _UPPER, run)
                run = []
            if g == _SEPARATOR and text and text[-1] != " ":
                text.append(" ")
                chars.append({})
            elif g >= _UPPER:
                run = [t]
            prev = g
        if run:
            emit(prev - _UPPER, run)
        while text and text[-1] == " ":
            text.pop()
            chars.pop()
        return "".join(text), tuple(chars)


def _join(pieces: Sequence[tuple[str, float]], min_confidence: float) -> OcrResult:
    """One result from (text, score) pieces: kept texts joined by spaces, the lowest kept score."""
    kept = [(t.strip(), float(s)) for t, s in pieces if t and t.strip() and float(s) >= min_confidence]
    if not kept:
        return OcrResult(text="", confidence=0.0, raw=tuple(pieces))
    return OcrResult(text=" ".join(t for t, _ in kept), confidence=min(s for _, s in kept), raw=tuple(pieces))


class OcrBackend(ABC, Generic[C]):
    """Load once, then read a batch of BGR crops (one result per crop, "" when nothing is read)."""

    backend: ClassVar[str]
    # The crop variants a plate reader should use with this recogniser; None: the reader's own (band cuts
    # for general text recognisers).
    crop_variants: tuple[str, ...] | None = None

    def __init__(self, cfg: C, *, models_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self.provider: str | None = None  # where the loaded models run ('cpu', 'cuda:0'), for `models check`
        self._loaded = False

    @abstractmethod
    def load(self) -> None:
        """Import the runtime and load the models."""

    @abstractmethod
    def _read(self, crop: np.ndarray) -> OcrResult:
        """Backend recognition of one crop."""

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop."""
        if not self._loaded:
            self.load()
        return [self._read(c) for c in crops]


class RapidOcrBackend(OcrBackend[RapidOcrConfig]):
    """RapidOCR's PP-OCR models through onnxruntime; recognition only unless ``detect`` is set.

    With ``constrained`` (and no ``detect``) the recognition session is run here and its output decoded by
    :class:`PlateCtcDecoder`: the text holds plate characters only, ``char_probs`` their probabilities and the
    confidence is their mean.
    """

    backend = "rapidocr"

    def load(self) -> None:
        """Create the engine and warm it up."""
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise missing_runtime("rapidocr", "rapidocr and onnxruntime", kind="OCR backend") from exc
        self._engine = RapidOCR(params=_rapidocr_params(self.cfg))
        self.provider = _rapidocr_provider(self._engine, self.cfg)
        self._decoder: PlateCtcDecoder | None = None
        self._loaded = True
        # The first call creates the onnxruntime sessions' buffers: do it before the first real crop.
        warm = np.full((48, 160, 3), 255, dtype=np.uint8)
        self._engine(warm, use_det=False, use_cls=False, use_rec=True)
        if self.cfg.constrained and not self.cfg.detect:
            rec: Any = getattr(self._engine, "text_rec", None)
            try:
                self._decoder = PlateCtcDecoder(rec.postprocess_op.character)
                self._rec = rec
                self._read(warm)
            except (AttributeError, TypeError, ValueError) as exc:  # another rapidocr layout: its own text
                log.warning("rapidocr: plate-constrained decoding unavailable (%s), using its text", exc)
                self._decoder = None

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop; with the constrained decoder, crops of a similar shape share one call."""
        if not self._loaded:
            self.load()
        if self._decoder is None:
            return [self._read(c) for c in crops]
        # pre-processed as RapidOCR does, each at least as wide as the model's own input
        _, in_h, in_w = self._rec.rec_image_shape
        imgs = [self._engine.preprocess_img(self._engine.load_img(c))[0] for c in crops]
        ratios = [max(in_w / in_h, i.shape[1] / i.shape[0]) for i in imgs]
        out: dict[int, OcrResult] = {}
        # groups of crops whose width (at the model's height) is within 10 %: padding a crop far wider
        # would add many blank steps and change what the recogniser sees
        order = sorted(range(len(crops)), key=lambda k: ratios[k])
        groups: list[list[int]] = []
        for k in order:
            if groups and ratios[k] <= ratios[groups[-1][0]] * 1.1:
                groups[-1].append(k)
            else:
                groups.append([k])
        for group in groups:
            widest = max(ratios[k] for k in group)
            batch = np.stack([self._rec.resize_norm_img(imgs[k], widest) for k in group]).astype(np.float32)
            probs = run_batched(batch, self._rec.session, max_batch=self.cfg.max_batch)
            for row, k in enumerate(group):
                out[k] = self._decoded(probs[row])
        return [out[k] for k in range(len(crops))]

    def _decoded(self, probs: np.ndarray) -> OcrResult:
        assert self._decoder is not None
        text, chars = self._decoder.decode(probs)
        probs_kept = [c[ch.upper()] for ch, c in zip(text, chars, strict=True) if c]
        confidence = float(np.mean(probs_kept)) if probs_kept else 0.0
        if not probs_kept or confidence < self.cfg.min_confidence:
            return OcrResult(text="", confidence=0.0, raw=((text, confidence),))
        return OcrResult(text=text, confidence=confidence, raw=((text, confidence),), char_probs=chars)

    def _read(self, crop: np.ndarray) -> OcrResult:
        if self._decoder is not None:
            return self.read([crop])[0]
        out = self._engine(crop, use_det=self.cfg.detect, use_cls=self.cfg.detect, use_rec=True)
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return _join(list(zip(texts, scores, strict=False)), self.cfg.min_confidence)


class EasyOcrBackend(OcrBackend[EasyOcrConfig]):
    """EasyOCR with downloads disabled: missing weights are an error that says how to get them."""

    backend = "easyocr"

    def required_files(self) -> list[str]:
        """The weight files this configuration needs that we know the names of."""
        files = [EASYOCR_DETECTOR] if self.cfg.detect else []
        rec = EASYOCR_RECOGNIZERS.get(frozenset(self.cfg.languages))
        return files + ([rec] if rec else [])

    def weights_dir(self) -> Path:
        """The folder that holds every required weight file (OcrWeightsMissing if none does)."""
        needed = self.required_files()
        if self.cfg.model_dir:
            candidates = [Path(self.cfg.model_dir).expanduser()]
        else:
            easyocr_home = os.environ.get("EASYOCR_MODULE_PATH") or str(Path.home() / ".EasyOCR")
            candidates = [*search_dirs(self.models_dir), Path(easyocr_home) / "model"]
        for d in candidates:
            if all((d / f).is_file() for f in needed):
                return d
        where = ", ".join(str(d) for d in candidates)
        missing = [f for f in needed if not any((d / f).is_file() for d in candidates)] or needed
        raise OcrWeightsMissing(
            f"EasyOCR weights {' / '.join(missing)} not found in {where}: run `dashcam models pull easyocr`"
        )

    def load(self) -> None:
        """Check the weights, then build the reader without downloads."""
        if importlib.util.find_spec("easyocr") is None:
            raise missing_runtime("easyocr", "easyocr", kind="OCR backend")
        weights = self.weights_dir()
        import easyocr

        try:
            self._reader = easyocr.Reader(
                self.cfg.languages,
                gpu=self.cfg.gpu,
                model_storage_directory=str(weights),
                download_enabled=False,
                detector=self.cfg.detect,
                verbose=False,
            )
        except FileNotFoundError as exc:
            raise OcrWeightsMissing(
                f"EasyOCR weights for {self.cfg.languages} not found in {weights}: run `dashcam models pull "
                f"easyocr` or copy them there ({exc})"
            ) from exc
        # easyocr quietly takes the CPU when torch sees no GPU: say which it got
        self.provider = (
            "cuda" if self.cfg.gpu and str(getattr(self._reader, "device", "cpu")) != "cpu" else "cpu"
        )
        log.info("OCR backend easyocr runs on %s", self.provider)
        self._loaded = True

    def _read(self, crop: np.ndarray) -> OcrResult:
        if self.cfg.detect:
            found = self._reader.readtext(crop, detail=1)
        else:  # the crop is the text box: recognise it whole
            h, w = crop.shape[:2]
            found = self._reader.recognize(crop, horizontal_list=[[0, w, 0, h]], free_list=[], detail=1)
        return _join([(str(t), float(s)) for _, t, s in found], self.cfg.min_confidence)


class TesseractOcrBackend(OcrBackend[TesseractOcrConfig]):
    """Tesseract on single-line crops (``psm`` 7 by default)."""

    backend = "tesseract"

    def load(self) -> None:
        """Check that pytesseract and the tesseract binary are there."""
        try:
            import pytesseract
        except ImportError as exc:
            raise BackendUnavailable(
                "the 'tesseract' OCR backend needs pytesseract and the tesseract-ocr program "
                "(pip install pytesseract; apt-get install tesseract-ocr): no extra ships them"
            ) from exc
        try:
            pytesseract.get_tesseract_version()
        except pytesseract.TesseractNotFoundError as exc:
            raise BackendUnavailable("the 'tesseract' OCR backend needs the tesseract-ocr program") from exc
        self._tess: Any = pytesseract
        self.provider = "cpu"
        self._loaded = True

    def _read(self, crop: np.ndarray) -> OcrResult:
        data = self._tess.image_to_data(
            crop[:, :, ::-1], lang=self.cfg.lang, config=f"--psm {self.cfg.psm}", output_type="dict"
        )
        pieces = [(t, c / 100.0) for t, c in zip(data["text"], data["conf"], strict=True) if float(c) >= 0]
        return _join(pieces, 0.0)


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


def _rapidocr_params(cfg: RapidOcrConfig) -> dict[str, Any]:
    """RapidOCR's engine config: its onnxruntime sessions on CUDA when the providers ask for a GPU."""
    from dashcam.vision.providers import load_gpu_libraries, wants_gpu

    params: dict[str, Any] = {"Global.log_level": "warning"}
    if wants_gpu(cfg.providers):
        load_gpu_libraries()
        params |= {
            "EngineConfig.onnxruntime.use_cuda": True,
            "EngineConfig.onnxruntime.cuda_ep_cfg.device_id": cfg.device_id,
        }
    return params


def _rapidocr_provider(engine: Any, cfg: RapidOcrConfig) -> str:
    """Where RapidOCR's recogniser session really runs (checked as every ONNX session is), logged once."""
    from dashcam.vision.providers import check_session, provider_name

    session = getattr(getattr(getattr(engine, "text_rec", None), "session", None), "session", None)
    got = session.get_providers() if session is not None else ["CPUExecutionProvider"]
    first = check_session(
        got, cfg.providers, allow_cpu_fallback=cfg.allow_cpu_fallback, what="OCR backend rapidocr"
    )
    where = provider_name(first, cfg.device_id)
    log.info("OCR backend rapidocr runs on %s", where)
    return where


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
        self._session = session
        self.provider = session_provider(session, self.cfg.device_id)
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
            chars.append({c: v for c, v in alts.items() if v >= _MIN_CHAR_PROB or c == ch})
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


OCR_BACKENDS: dict[str, type[OcrBackend]] = {
    "rapidocr": RapidOcrBackend,
    "easyocr": EasyOcrBackend,
    "tesseract": TesseractOcrBackend,
    "plate_onnx": PlateOnnxOcrBackend,
}


def build_ocr(
    cfg: RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig | PlateOnnxOcrConfig,
    *,
    models_dir: str | Path | None = None,
) -> OcrBackend:
    """The OCR backend a config describes, not loaded yet (read() loads it)."""
    try:
        cls = OCR_BACKENDS[cfg.type]
    except KeyError:
        raise ValueError(f"unknown OCR type {cfg.type!r} (known: {', '.join(OCR_BACKENDS)})") from None
    return cls(cfg, models_dir=models_dir)
