"""Model resolution and `pull` against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from dashcam.vision import models
from dashcam.vision.errors import ChecksumMismatch, ModelDownloadError, ModelInvalid, ModelNotFound
from dashcam.vision.models import ModelSpec, find_model, pull, resolve_any, resolve_model
from tests.vision.httpserver import Route, serve

BODY = b"weights " * 20_000


def _spec(**kw: object) -> ModelSpec:
    base = {
        "name": "test-model",
        "filename": "test_model.bin",
        "description": "test",
        "licence": "MIT",
        "urls": ("https://example.invalid/releases/v1/test_model.bin",),
    }
    return ModelSpec(**{**base, **kw})  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured, env, cache = (
        tmp_path / "configured",
        tmp_path / "env",
        tmp_path / "xdg-cache" / "dashcam" / "models",
    )
    for d in (configured, env, cache):
        d.mkdir(parents=True)
        (d / "yolov8n.pt").write_bytes(d.name.encode())
    (cache / "only_cached.onnx").write_bytes(b"c")
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(env))
    given = tmp_path / "given.pt"
    given.write_bytes(b"g")
    assert resolve_model(str(given), models_dir=configured) == given
    assert find_model("yolov8n.pt", models_dir=configured) == configured / "yolov8n.pt"
    assert find_model("yolov8n", models_dir=configured) == configured / "yolov8n.pt"  # a known name
    assert find_model("yolov8n.pt") == env / "yolov8n.pt"
    assert resolve_model("only_cached.onnx", models_dir=configured) == cache / "only_cached.onnx"
    assert find_model("./models/yolov8n.pt", models_dir=configured) == configured / "yolov8n.pt"
    with pytest.raises(ModelNotFound) as err:
        resolve_model("yolo11n.pt", models_dir=configured)
    assert "run `dashcam models pull yolo11n`" in str(err.value) and str(configured) in str(err.value)
    assert "\n" not in str(err.value)


def test_registry_is_complete() -> None:
    for spec in models.KNOWN_MODELS.values():
        assert spec.urls or spec.note, spec.name
        assert spec.sha256 is None or len(spec.sha256) == 64
        assert not spec.urls or spec.sha256 or spec.md5, f"{spec.name} can be downloaded but is not pinned"
        assert all(u.startswith("https://") for u in spec.urls)
    assert set(models.STANDARD) <= set(models.KNOWN_MODELS)
    assert [s.name for s in models.expand_names(["easyocr", "easyocr-craft"])] == [
        "easyocr-craft",
        "easyocr-english",
    ]


def test_pull_checks_sha256_and_renames_into_place(tmp_path: Path) -> None:
    spec = _spec(sha256=hashlib.sha256(BODY).hexdigest())
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY)
        path = pull(spec, tmp_path, base_url=srv.url, timeout=5)
        assert path == tmp_path / "test_model.bin" and path.read_bytes() == BODY
        assert _leftovers(tmp_path) == ["test_model.bin"]
        pull(spec, tmp_path, base_url=srv.url, timeout=5)  # present and good: no second download
        assert srv.hits == ["/test_model.bin"]


@pytest.mark.parametrize(
    "name", ["yolov8n", "yolo11n", "fast-plate-ocr-cct-s-v2", "fast-plate-ocr-cct-s-v2-config"]
)
def test_a_mirror_cannot_swap_a_registry_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A mirror (DASHCAM_MODELS_URL) serving another file: refused, nothing left behind."""
    spec = models.KNOWN_MODELS[name]
    with serve() as srv:
        srv.routes[f"/{spec.filename}"] = Route(BODY)
        monkeypatch.setenv("DASHCAM_MODELS_URL", srv.url)
        with pytest.raises(ChecksumMismatch, match=f"not the pinned {spec.sha256}"):
            pull(name, tmp_path / "new", timeout=5)
    assert _leftovers(tmp_path / "new") == []


def test_a_mirror_serving_the_published_file_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(sha256=hashlib.sha256(BODY).hexdigest())
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY)
        monkeypatch.setenv("DASHCAM_MODELS_URL", srv.url)
        assert pull(spec, tmp_path, timeout=5).read_bytes() == BODY


def test_an_unpinned_download_is_refused_until_the_config_pins_it(tmp_path: Path) -> None:
    spec = _spec()
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY)
        with pytest.raises(ModelDownloadError, match="no published checksum for test_model.bin"):
            pull(spec, tmp_path, base_url=srv.url, timeout=5)
        assert srv.hits == []  # refused before any download
        pins = {"test-model": hashlib.sha256(BODY).hexdigest()}
        assert pull(spec, tmp_path, base_url=srv.url, timeout=5, pins=pins).read_bytes() == BODY
        with pytest.raises(ChecksumMismatch):
            pull(spec, tmp_path / "other", base_url=srv.url, timeout=5, pins={"test_model.bin": "0" * 64})


def test_a_known_model_found_by_name_must_be_the_published_file(tmp_path: Path) -> None:
    """A swapped yolov8n.pt in a models folder is refused before ultralytics unpickles it."""
    (tmp_path / "yolov8n.pt").write_bytes(b"not the published weights")
    with pytest.raises(
        ModelInvalid, match=r"model file .*yolov8n\.pt refused: sha256 of .* is not the pinned f59b3d83"
    ) as err:
        resolve_model("yolov8n.pt", models_dir=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelInvalid):
        resolve_any(["yolov8n.pt", "yolo11n.pt"], models_dir=tmp_path)
    # the user's own file, named by its path in the config, is theirs to trust
    assert resolve_model(str(tmp_path / "yolov8n.pt")) == tmp_path / "yolov8n.pt"
    # a file whose name is no known download is the user's own too
    (tmp_path / "my_detector.pt").write_bytes(b"mine")
    assert resolve_model("my_detector.pt", models_dir=tmp_path) == tmp_path / "my_detector.pt"


def test_checksum_mismatch_leaves_no_file(tmp_path: Path) -> None:
    spec = _spec(sha256="0" * 64)
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY)
        with pytest.raises(ChecksumMismatch, match="not the pinned 0000"):
            pull(spec, tmp_path, base_url=srv.url, timeout=5)
    assert _leftovers(tmp_path) == []


def test_http_404_is_a_clear_error(tmp_path: Path) -> None:
    with (
        serve() as srv,
        pytest.raises(ModelDownloadError, match=r"HTTP 404 from http://127\.0\.0\.1:\d+/test_model\.bin"),
    ):
        pull(_spec(sha256="0" * 64), tmp_path, base_url=srv.url, timeout=5)
    assert _leftovers(tmp_path) == []


def test_stalled_download_times_out_without_a_partial_file(tmp_path: Path) -> None:
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY, stall_after=len(BODY) // 2)
        with pytest.raises(ModelDownloadError, match=r"timed out after 0\.5 s"):
            pull(_spec(sha256=hashlib.sha256(BODY).hexdigest()), tmp_path, base_url=srv.url, timeout=0.5)
    assert _leftovers(tmp_path) == []


def test_truncated_download_leaves_no_file(tmp_path: Path) -> None:
    with serve() as srv:
        srv.routes["/test_model.bin"] = Route(BODY, truncate_after=1000)
        with pytest.raises(ModelDownloadError, match="could not download"):
            pull(_spec(sha256=hashlib.sha256(BODY).hexdigest()), tmp_path, base_url=srv.url, timeout=5)
    assert _leftovers(tmp_path) == []


def test_zipped_weights_are_unpacked_and_md5_checked(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("english_g2.pth", BODY)
    spec = _spec(
        filename="english_g2.pth",
        urls=("https://example.invalid/v1.3/english_g2.zip",),
        archive_member="english_g2.pth",
        md5=hashlib.md5(BODY).hexdigest(),
    )
    with serve() as srv:
        srv.routes["/english_g2.zip"] = Route(buf.getvalue())
        path = pull(spec, tmp_path, base_url=srv.url, timeout=5)
        assert path.read_bytes() == BODY and _leftovers(tmp_path) == ["english_g2.pth"]
        with pytest.raises(ChecksumMismatch, match="md5"):
            pull(_spec(**{**spec.__dict__, "md5": "0" * 32}), tmp_path / "other", base_url=srv.url, timeout=5)
    assert _leftovers(tmp_path / "other") == []


def test_model_without_public_url(tmp_path: Path) -> None:
    with pytest.raises(ModelDownloadError, match="no public download for license_plate_detector_int8.onnx"):
        pull("plate-int8-onnx", tmp_path)
