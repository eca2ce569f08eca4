"""Web UI fixtures: a seeded data dir copied per test, and NiceGUI's simulated ``user`` on webui/main.py.

The ``user`` fixture here is NiceGUI's own (nicegui.testing.user_simulation), run on the project's one
entry point, so the suite needs neither ``-p nicegui.testing.user_plugin`` nor pytest-asyncio: async
tests run on anyio's pytest plugin.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

MAIN = Path(__file__).resolve().parents[2] / "webui" / "main.py"
SECRET = "test-secret-0123456789abcdef-webui"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One seeded data dir (migrations, rows, media files), built once and copied by each test."""
    import os

    from dashcam.config import load_config
    from dashcam.db.session import _cached_engine, ensure_schema, get_engine, session_scope
    from dashcam.settings import Settings
    from dashcam.storage import Storage
    from tests.webui.seeding import seed_ui

    root = tmp_path_factory.mktemp("webui-template")
    data = root / "data"
    env = {**os.environ, "DASHCAM_DATA_DIR": str(data)}
    env.pop("DASHCAM_CONFIG_DIR", None)
    env.pop("DASHCAM_DATABASE_URL", None)
    config = load_config(Settings.from_env(env))
    url = config.database_url()
    ensure_schema(url)
    engine = get_engine(url=url)
    with session_scope(engine) as session:
        ids = seed_ui(session, Storage(config), root)
    engine.dispose()
    _cached_engine.cache_clear()
    return data, ids


@pytest.fixture
def webui_env(
    seeded_template: tuple[Path, dict[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, int]]]:
    """A private copy of the seeded data dir, and the environment the web UI reads."""
    template, ids = seeded_template
    data = tmp_path / "data"
    shutil.copytree(template, data)
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(data))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)
    monkeypatch.delenv("DASHCAM_DATABASE_URL", raising=False)
    monkeypatch.setenv("DASHCAM_SECRET_KEY", SECRET)
    monkeypatch.setenv("DASHCAM_UI_TILE_URL", "none")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    yield data, ids
    from dashcam.db.session import _cached_engine

    _cached_engine.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _nicegui_storage() -> Iterator[None]:
    """NiceGUI's per-browser storage in a temporary folder (what its pytest plugin does)."""
    from nicegui import app
    from nicegui.storage import Storage

    path = Path(tempfile.mkdtemp(prefix="nicegui-test-storage-"))
    Storage.path = path
    app.storage = Storage()
    yield
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def user(webui_env: tuple[Path, dict[str, int]], anyio_backend: str) -> AsyncIterator[object]:
    from nicegui.testing.user_simulation import user_simulation

    async with user_simulation(main_file=MAIN) as u:
        yield u


@pytest.fixture
def ids(webui_env: tuple[Path, dict[str, int]]) -> dict[str, int]:
    return webui_env[1]
