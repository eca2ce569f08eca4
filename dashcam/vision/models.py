"""Known model weights, where a configured model file is found, and downloading the standard ones.

Search order for a model named in the config: the path as given, the configured models directory,
``DASHCAM_MODELS_DIR``, then the user cache ``~/.cache/dashcam/models`` (where ``pull`` writes).

Trust: ultralytics unpickles ``.pt`` files (``weights_only=False``), so a swapped file runs code. Every
model that can be downloaded has a pinned checksum, taken from a published source (see each entry);
``pull`` refuses a download that does not match it, and one with no pinned checksum unless the user pins
one in the config (``model_sha256``). A known model file found by its name in the searched folders is
checked against its pin before it is loaded (:func:`resolve_model`); a user's own file is trusted only
when the config names it by its path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from dashcam.files import file_digest
from dashcam.settings import read_env
from dashcam.vision.errors import ChecksumMismatch, ModelDownloadError, ModelInvalid, ModelNotFound

log = logging.getLogger(__name__)

NOT_PINNED = "not pinned"
_ULTRALYTICS = "https://github.com/ultralytics/assets/releases/download"
_EASYOCR = "https://github.com/JaidedAI/EasyOCR/releases/download"
_PLATE_REPO = "https://huggingface.co/Koushim/yolov8-license-plate-detection/resolve"
# fast-plate-ocr's release files (the same names under its older repository name as a second source)
_FAST_PLATE_OCR = (
    "https://github.com/ankandrew/fast-plate-ocr/releases/download/arg-plates",
    "https://github.com/ankandrew/cnn-ocr-lp/releases/download/arg-plates",
)


@dataclass(frozen=True)
class ModelSpec:
    """One known model: its file name, where it comes from and the checksum that proves it."""

    name: str
    filename: str
    description: str
    licence: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None  # of the downloaded file (the zip for zipped weights)
    archive_member: str | None = None  # the file to take out of a downloaded zip
    md5: str | None = None  # of the final file, where upstream publishes only an md5 (EasyOCR)
    note: str = ""  # how to obtain a model with no public URL

    @property
    def source(self) -> str:
        """Where the file comes from, in words."""
        return self.urls[0] if self.urls else (self.note or "no public download")


KNOWN_MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        # Ultralytics publishes no checksums: these are the sha256 other projects pin for the same release
        # assets (6,549,796 and 5,613,764 bytes), each found in several unrelated public repositories.
        ModelSpec(
            name="yolov8n",
            filename="yolov8n.pt",
            description="Ultralytics YOLOv8n, COCO 80 classes (PyTorch)",
            licence="AGPL-3.0",
            urls=(f"{_ULTRALYTICS}/v8.4.0/yolov8n.pt", f"{_ULTRALYTICS}/v8.3.0/yolov8n.pt"),
            sha256="f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36",
        ),
        ModelSpec(
            name="yolo11n",
            filename="yolo11n.pt",
            description="Ultralytics YOLO11n, COCO 80 classes (PyTorch)",
            licence="AGPL-3.0",
            urls=(f"{_ULTRALYTICS}/v8.3.0/yolo11n.pt", f"{_ULTRALYTICS}/v8.4.0/yolo11n.pt"),
            sha256="0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1",
        ),
        ModelSpec(
            name="plate-yolov8n",
            filename="license_plate_detector.pt",
            description="YOLOv8n licence plate detector, 1 class (PyTorch, Koushim/yolov8-license-plate-detection)",
            licence="MIT",
            urls=(f"{_PLATE_REPO}/83c98fbe7412fe8b3950adb5637cfd08b0f04809/best.pt",),
            sha256="2d95861825bb4184404344c9cf809f40fd31dba785fe54e8ba5b9a3583789822",
        ),
        ModelSpec(
            name="easyocr-craft",
            filename="craft_mlt_25k.pth",
            description="EasyOCR CRAFT text detector",
            licence="Apache-2.0",
            urls=(f"{_EASYOCR}/pre-v1.1.6/craft_mlt_25k.zip",),
            archive_member="craft_mlt_25k.pth",
            md5="2f8227d2def4037cdb3b34389dcf9ec1",
        ),
        ModelSpec(
            name="easyocr-english",
            filename="english_g2.pth",
            description="EasyOCR English recognizer (generation 2)",
            licence="Apache-2.0",
            urls=(f"{_EASYOCR}/v1.3/english_g2.zip",),
            archive_member="english_g2.pth",
            md5="5864788e1821be9e454ec108d61b887d",
        ),
        # fast-plate-ocr's release notes give no checksums: the sha256 several projects pin for these
        # release files (5,262,230 and 1,725 bytes)
        *(
            ModelSpec(
                name=name,
                filename=file,
                description=text,
                licence="MIT",
                urls=tuple(f"{u}/{file}" for u in _FAST_PLATE_OCR),
                sha256=digest,
            )
            for name, file, text, digest in (
                (
                    "fast-plate-ocr-cct-s-v2",
                    "cct_s_v2_global.onnx",
                    "fast-plate-ocr CCT-S v2 global plate recogniser (ONNX, 10 slots, 65+ countries)",
                    "384bbbd2cea3ef54761d3df70822ef3a349ee1a112aeafddbe0e3ba06bc6e47b",
                ),
                (
                    "fast-plate-ocr-cct-s-v2-config",
                    "cct_s_v2_global_plate_config.yaml",
                    "plate_config.yaml of the CCT-S v2 recogniser (alphabet, slots, input size)",
                    "0335c74a305173bb6f393efed0fde03cadeaa0b649ed8e19f431016d8232d0a6",
                ),
            )
        ),
        ModelSpec(
            name="yolov8n-int8-tflite",
            filename="yolov8n_full_integer_quant.tflite",
            description="YOLOv8n COCO, full-int8 TFLite (CPU twin of the Edge TPU model)",
            licence="AGPL-3.0",
            sha256="3c2fd2847f70c21c4589435027d4f29173ce74085696f23ca77a48e026efd869",
            note="export with `yolo export model=yolov8n.pt format=tflite int8=True`",
        ),
        ModelSpec(
            name="yolov8n-edgetpu",
            filename="yolov8n_full_integer_quant_edgetpu.tflite",
            description="YOLOv8n COCO compiled for the Coral Edge TPU",
            licence="AGPL-3.0",
            sha256="6a6b4e293eaec2dcf1d04a9e45a8508c158a6c322cf6e5978ec734a8e6849333",
            note="export with `yolo export model=yolov8n.pt format=edgetpu` (needs edgetpu_compiler)",
        ),
        ModelSpec(
            name="plate-int8-onnx",
            filename="license_plate_detector_int8.onnx",
            description="YOLOv8n licence plate detector, dynamic-int8 ONNX, 320x320",
            licence="AGPL-3.0",
            sha256="020181cf783cb79dfb500ca298cef81df6806299a352ba5390df7c17c465d4fe",
            note="export a plate model with `yolo export format=onnx imgsz=320`, then quantize_dynamic",
        ),
    )
}

# Names `pull` accepts for a set of models, and what `pull` with no name downloads.
GROUPS: dict[str, tuple[str, ...]] = {
    "easyocr": ("easyocr-craft", "easyocr-english"),
    "fast-plate-ocr": ("fast-plate-ocr-cct-s-v2", "fast-plate-ocr-cct-s-v2-config"),
}
STANDARD = ("yolov8n", "yolo11n", "plate-yolov8n", "easyocr-craft", "easyocr-english")


def user_cache_dir() -> Path:
    """Where `pull` writes by default: $XDG_CACHE_HOME/dashcam/models or ~/.cache/dashcam/models."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dashcam" / "models"


def search_dirs(models_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for a bare model file name, in order, without duplicates."""
    dirs: list[Path] = []
    env = read_env().models_dir
    for d in (models_dir, env, user_cache_dir()):
        if d and Path(d).expanduser().absolute() not in dirs:
            dirs.append(Path(d).expanduser().absolute())
    return dirs


def spec_for(name_or_file: str) -> ModelSpec | None:
    """The known model with this name or file name, if any."""
    if name_or_file in KNOWN_MODELS:
        return KNOWN_MODELS[name_or_file]
    base = Path(name_or_file).name
    return next((s for s in KNOWN_MODELS.values() if s.filename == base), None)


def expand_names(names: Iterable[str]) -> list[ModelSpec]:
    """Known models for names, file names and group names; unknown ones raise ModelNotFound."""
    specs: list[ModelSpec] = []
    for name in names:
        for member in GROUPS.get(name, (name,)):
            spec = spec_for(member)
            if spec is None:
                raise ModelNotFound(f"unknown model {member!r}: `dashcam models list` shows the known ones")
            if spec not in specs:
                specs.append(spec)
    return specs


def find_model(name_or_path: str | Path, *, models_dir: str | Path | None = None) -> Path | None:
    """The file a config's model entry points at, or None when it is nowhere."""
    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given.absolute()
    if given.is_absolute():  # an explicit path that is not there: never substitute another file
        return None
    spec = spec_for(str(name_or_path))
    # "./models/yolov8n.pt" in a guide's config: try it under each folder, then by its bare name.
    candidates = dict.fromkeys([str(given), given.name, *([spec.filename] if spec else [])])
    for d in search_dirs(models_dir):
        for rel in candidates:
            if (d / rel).is_file():
                return d / rel
    return None


def named_by_path(name_or_path: str | Path, found: Path) -> bool:
    """The config names this very file by its path (not a bare file name found in the searched folders)."""
    given = Path(name_or_path).expanduser()
    return given.name != str(name_or_path) and given.is_file() and given.absolute() == found


def check_trusted(name_or_path: str | Path, found: Path) -> None:
    """Refuse a known model file found by its name unless it matches its pinned checksum (before loading).

    A user's own file is trusted when the config names it by its path, and so is a file whose name is no
    known download; a known file name found in a searched folder must be the published file.
    """
    spec = spec_for(found.name)
    if spec is None or spec.filename != found.name or named_by_path(name_or_path, found):
        return
    if not (spec.sha256 or spec.md5):
        raise ModelInvalid(
            f"model file {found}: {spec.filename} has no pinned checksum; name your own file by its path in "
            "the config to use it"
        )
    problem = _verify_cached(spec, found)
    if problem:
        raise ModelInvalid(
            f"model file {found} refused: {problem}; delete it and run `dashcam models pull {spec.name}`, "
            "or name your own file by its path in the config"
        )


def _verify_cached(spec: ModelSpec, path: Path) -> str | None:
    st = path.stat()
    return _verify_once(spec, str(path), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=64)
def _verify_once(spec: ModelSpec, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
    """:func:`verify`, once per version of the file (a model is resolved for every clip)."""
    return verify(spec, Path(path))


def resolve_model(
    name_or_path: str | Path, *, models_dir: str | Path | None = None, trusted_only: bool = True
) -> Path:
    """The model file for a config entry, checked (:func:`check_trusted`); ModelNotFound says how to get it."""
    found = find_model(name_or_path, models_dir=models_dir)
    if found:
        if trusted_only:
            check_trusted(name_or_path, found)
        return found
    spec = spec_for(str(name_or_path))
    where = ", ".join(str(d) for d in search_dirs(models_dir))
    if spec and spec.urls:
        todo = f"run `dashcam models pull {spec.name}`, or put {spec.filename} in one of them"
    elif spec:
        todo = f"{spec.note}, and put {spec.filename} in one of them or set DASHCAM_MODELS_DIR"
    else:
        todo = "put it in one of them or set DASHCAM_MODELS_DIR to the folder that holds it"
    raise ModelNotFound(f"model {str(name_or_path)!r} not found (looked in {where}): {todo}")


def verify(spec: ModelSpec, path: Path) -> str | None:
    """None when the file matches the pinned checksum (or none is pinned), else what is wrong."""
    if spec.md5 and file_digest(path, "md5") != spec.md5:
        return f"md5 of {path} is not the pinned {spec.md5}"
    if spec.sha256 and not spec.archive_member and file_digest(path) != spec.sha256:
        return f"sha256 of {path} is not the pinned {spec.sha256}"
    return None


def _download(url: str, part: Path, timeout: float) -> str:
    """Stream ``url`` into ``part``; returns its sha256."""
    import httpx

    h = hashlib.sha256()
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise ModelDownloadError(f"HTTP {resp.status_code} from {url}")
            with part.open("wb") as f:
                for chunk in resp.iter_bytes(1 << 16):
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
    except httpx.TimeoutException as exc:
        raise ModelDownloadError(f"timed out after {timeout:g} s downloading {url}") from exc
    except httpx.HTTPError as exc:
        raise ModelDownloadError(f"could not download {url}: {exc}") from exc
    return h.hexdigest()


def _extract(spec: ModelSpec, archive: Path, dest: Path) -> None:
    """Write the archive member of a downloaded zip to ``dest``."""
    member = spec.archive_member
    assert member
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if Path(n).name == member]
            if not names:
                raise ModelDownloadError(f"{member} is not inside the downloaded {archive.name}")
            with zf.open(names[0]) as src, dest.open("wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
    except zipfile.BadZipFile as exc:
        raise ModelDownloadError(f"the download for {spec.name} is not a zip file") from exc


def pull(
    model: str | ModelSpec,
    dest_dir: str | Path | None = None,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    force: bool = False,
    pins: Mapping[str, str] | None = None,
) -> Path:
    """Download a known model into ``dest_dir`` (default: the user cache), checked and renamed into place.

    ``base_url`` (or ``DASHCAM_MODELS_URL``) replaces the upstream folder, e.g. a local mirror: the file
    must still match the pinned checksum. ``pins`` (the config's ``model_sha256``, by model or file name)
    supplies a sha256 for a model this project has none for; without any, the download is refused.
    """
    spec = model if isinstance(model, ModelSpec) else expand_names([model])[0]
    pinned = (pins or {}).get(spec.name) or (pins or {}).get(spec.filename)
    if pinned and not spec.sha256 and not spec.md5 and not spec.archive_member:
        spec = replace(spec, sha256=pinned.lower())
    if spec.urls and not (spec.sha256 or spec.md5):
        raise ModelDownloadError(
            f"no published checksum for {spec.filename}: download refused; pin its sha256 in the config "
            f'("model_sha256": {{"{spec.name}": "<sha256>"}}) once you have checked the file'
        )
    dest = Path(dest_dir).expanduser() if dest_dir else user_cache_dir()
    final = dest / spec.filename
    if final.is_file() and not force and verify(spec, final) is None:
        log.info("%s already present at %s", spec.name, final)
        return final
    if not spec.urls:
        raise ModelDownloadError(f"no public download for {spec.filename}: {spec.note}")
    base_url = base_url or read_env().models_url
    urls = (
        [f"{base_url.rstrip('/')}/{u.rsplit('/', 1)[1]}" for u in spec.urls] if base_url else list(spec.urls)
    )
    dest.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for url in dict.fromkeys(urls):
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{spec.filename}.", suffix=".part")
        os.close(fd)
        part = Path(tmp)
        unpacked = part.with_suffix(".unpacked")
        try:
            digest = _download(url, part, timeout)
            if spec.sha256 and digest != spec.sha256:
                raise ChecksumMismatch(
                    f"sha256 of {url} is {digest}, not the pinned {spec.sha256}: file discarded"
                )
            ready = part
            if spec.archive_member:
                _extract(spec, part, unpacked)
                ready = unpacked
            if spec.md5 and file_digest(ready, "md5") != spec.md5:
                raise ChecksumMismatch(f"md5 of {spec.filename} from {url} is not the pinned {spec.md5}")
            os.replace(ready, final)
            log.info("downloaded %s to %s", url, final)
            return final
        except ChecksumMismatch:
            raise
        except ModelDownloadError as exc:
            errors.append(str(exc))
            log.warning("%s", exc)
        finally:
            part.unlink(missing_ok=True)
            unpacked.unlink(missing_ok=True)
    raise ModelDownloadError(f"could not download {spec.name}: " + "; ".join(errors))


def resolve_any(refs: str | Path | Sequence[str], *, models_dir: str | Path | None = None) -> Path:
    """The first model found among alternatives (in order of preference); ModelNotFound names the first."""
    if isinstance(refs, (str, Path)):
        return resolve_model(refs, models_dir=models_dir)
    for ref in refs:
        found = find_model(ref, models_dir=models_dir)
        if found:
            check_trusted(ref, found)
            return found
    try:
        return resolve_model(refs[0], models_dir=models_dir)
    except ModelNotFound as exc:
        others = ", ".join(repr(r) for r in refs[1:])
        raise ModelNotFound(f"{exc}{' (nor any alternative: ' + others + ')' if others else ''}") from None
