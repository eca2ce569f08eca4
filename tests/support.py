"""Shared test helpers: strict-mode skipping and paths to the real data beside the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STRICT = os.environ.get("DASHCAM_STRICT_TESTS", "") not in ("", "0", "false", "no")


def need(reason: str) -> None:
    """A test lacks its data, model or service: skip, or fail under DASHCAM_STRICT_TESTS=1."""
    if STRICT:
        pytest.fail(f"missing under DASHCAM_STRICT_TESTS=1: {reason}", pytrace=False)
    pytest.skip(reason)


def env_dir(var: str) -> Path:
    value = os.environ.get(var)
    if not value:
        need(f"{var} is not set")
    path = Path(value).absolute()
    if not path.is_dir():
        need(f"{var}={value} is not a directory")
    return path


def testdata_dir() -> Path:
    return env_dir("DASHCAM_TESTDATA")


def models_dir() -> Path:
    return env_dir("DASHCAM_MODELS_DIR")


def model_file(name: str) -> Path:
    path = models_dir() / name
    if not path.is_file():
        need(f"model {name} not found in DASHCAM_MODELS_DIR")
    return path


def testdata_file(rel: str) -> Path:
    path = testdata_dir() / rel
    if not path.exists():
        need(f"test data {rel} not found in DASHCAM_TESTDATA")
    return path


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        need(f"{name} is not installed")
    assert path
    return path


# Imported into test modules: keep pytest from collecting these helpers as tests.
testdata_dir.__test__ = False  # type: ignore[attr-defined]
testdata_file.__test__ = False  # type: ignore[attr-defined]


def dashcam_command() -> str:
    """The `dashcam` script installed beside this Python: what a user types."""
    script = Path(sys.executable).parent / "dashcam"
    if not script.is_file():
        need(f"the dashcam command is not installed beside {sys.executable} (uv sync)")
    return str(script)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell on a new machine: no PREFECT_* or DASHCAM_* variables and a fresh
    home (so no ~/.prefect, no model cache), plus ``extra``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
    }
    return {**env, **extra}


def run_dashcam(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`dashcam ARGS` as a fresh process, the way a user runs it (no harness, no test settings)."""
    return subprocess.run(
        [dashcam_command(), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
