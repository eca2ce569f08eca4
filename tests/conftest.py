"""Session-wide isolation: every test session gets its own data dir, Prefect home and result storage."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# the fake camera and real MP4 fixtures serve the flow tests too
from tests.camera.conftest import (  # noqa: F401
    fake_camera,
    highway_mp4,
    lanes_mp4,
    recorded_mp4,
    stocked_camera,
)

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="dashcam-tests-"))
# Set before anything imports prefect, so no test ever touches the user's ~/.prefect.
os.environ["PREFECT_HOME"] = str(_SESSION_ROOT / "prefect-home")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_SESSION_ROOT / "prefect-results")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_CONFIG_DIR", str(_SESSION_ROOT / "ultralytics"))
os.environ["DASHCAM_DATA_DIR"] = str(_SESSION_ROOT / "data")
os.environ.pop("DASHCAM_CONFIG_DIR", None)
os.environ.pop("DASHCAM_DATABASE_URL", None)


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION_ROOT


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded-default data dir for one test."""
    d = tmp_path / "data"
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(d))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)
    monkeypatch.delenv("DASHCAM_DATABASE_URL", raising=False)
    return d


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL cluster shared by the session (skips, or fails when strict)."""
    from dashcam.testing.cluster import find_pg_bin, throwaway_postgres
    from tests.support import need

    if find_pg_bin() is None:
        need("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same database test on SQLite and on PostgreSQL (a fresh database each time)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    base = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        from dashcam.db.session import _cached_engine

        _cached_engine.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it takes ~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config directory of our own (retries without delay), data under tmp, the real models."""
    import json

    from tests.support import models_dir

    models = models_dir()
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "devices").mkdir(parents=True)
    data = tmp_path / "data"
    (cfg_dir / "config.json").write_text(
        json.dumps(
            {
                "global": {"task_retry_delay_seconds": 0, "task_retries": 1},
                "storage_paths": {
                    "indoor_nas": {"base": str(data)},
                    "shed_nas": {"archive_base": str(data / "archive")},
                },
            }
        )
    )
    monkeypatch.setenv("DASHCAM_CONFIG_DIR", str(cfg_dir))
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(data))
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(models))
    monkeypatch.delenv("DASHCAM_DATABASE_URL", raising=False)
    from flows.common import reset_context

    reset_context()
    yield cfg_dir
    reset_context()
