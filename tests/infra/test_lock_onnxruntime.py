"""uv.lock installs exactly one onnxruntime build in every environment of every extra.

onnxruntime and onnxruntime-gpu unpack into the same ``onnxruntime/`` folder: with both installed the one
written last wins, and the CPU build silently drops CUDAExecutionProvider. The lock is read as uv wrote it
and its markers evaluated for the platforms the project supports.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[2]
BUILDS = ("onnxruntime", "onnxruntime-gpu")
# (sys_platform, platform_machine, python_full_version) -> the build that belongs there (Python >= 3.11: the
# project's floor, and what onnxruntime-gpu >= 1.31 needs)
PLATFORMS = {
    ("linux", "x86_64", "3.11.9"): "onnxruntime-gpu",
    ("linux", "x86_64", "3.12.3"): "onnxruntime-gpu",
    ("win32", "AMD64", "3.11.9"): "onnxruntime-gpu",
    ("linux", "aarch64", "3.11.9"): "onnxruntime",  # the Jetson: NVIDIA's own builds, not PyPI's
    ("darwin", "arm64", "3.11.9"): "onnxruntime",
}


@functools.cache
def _lock() -> dict:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _project(lock: dict) -> dict:
    return next(p for p in lock["package"] if p["name"] == "dashcam-processor")


def _env(sys_platform: str, machine: str, python: str) -> dict[str, str]:
    return {
        "sys_platform": sys_platform,
        "platform_machine": machine,
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "platform_system": {"linux": "Linux", "win32": "Windows", "darwin": "Darwin"}[sys_platform],
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def _builds(entries: list[dict], env: dict[str, str]) -> list[str]:
    return [
        e["name"]
        for e in entries
        if e["name"] in BUILDS and ("marker" not in e or Marker(e["marker"]).evaluate(env))
    ]


@pytest.mark.parametrize("extra", ["ocr", "gpu", "all"])
@pytest.mark.parametrize("platform", list(PLATFORMS), ids=lambda p: "-".join(p))
def test_each_extra_installs_one_onnxruntime_build(extra: str, platform: tuple[str, str, str]) -> None:
    entries = _project(_lock())["optional-dependencies"][extra]
    assert _builds(entries, _env(*platform)) == [PLATFORMS[platform]]


def test_the_cpu_build_is_overridden_away_where_the_gpu_build_is_chosen() -> None:
    """The [tool.uv] override keeps any requirement (ours or a future dependency's) from adding the CPU
    build beside the GPU one."""
    override = next(o for o in _lock()["manifest"]["overrides"] if o["name"] == "onnxruntime")
    for platform, build in PLATFORMS.items():
        assert Marker(override["marker"]).evaluate(_env(*platform)) is (build == "onnxruntime"), platform


def test_no_locked_package_but_ours_asks_for_onnxruntime() -> None:
    """Only our extras name onnxruntime; a dependency that did would need the override above to hold."""
    askers = {
        p["name"]
        for p in _lock()["package"]
        for group in [p.get("dependencies", []), *p.get("optional-dependencies", {}).values()]
        for d in group
        if d["name"] in BUILDS
    }
    assert askers == {"dashcam-processor"}


def test_gpu_build_matches_the_cuda_of_torch() -> None:
    """onnxruntime-gpu's CUDA major must be torch's: the CUDA libraries come from the same nvidia-* wheels."""
    pkgs = {p["name"]: p for p in _lock()["package"]}
    ort_cuda = {d["name"] for d in pkgs["onnxruntime-gpu"]["optional-dependencies"]["cudnn"]}
    torch_deps = {d["name"] for p in _lock()["package"] if p["name"] == "torch" for d in p["dependencies"]}
    assert ort_cuda <= torch_deps, ort_cuda - torch_deps
