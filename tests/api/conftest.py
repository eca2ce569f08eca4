"""The real app (``dashcam ui`` on loopback, a subprocess) over a seeded SQLite database, for the REST API tests.

One server per test session: the schemathesis run comes last (tests/api/test_schema.py) because its
failed logins trip the login rate limit for 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from dashcam.procs import end_process, free_port

SECRET = "test-secret-0123456789abcdef-api"
DEVICE = "jetson-coral-1"
CONFIGURED = "rtx-4090-1"


@dataclass
class ApiServer:
    url: str
    db_url: str
    ids: dict[str, int]
    device_key: str
    revoked_key: str
    flow_run_id: str
    env: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None, *, source: str | None = None) -> httpx.Client:
        """A client; ``source`` picks the loopback address it connects from (127.0.0.0/8 all reach lo)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, transport=transport)


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log.read_text(errors="replace")
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s")


def _seed(env: dict[str, str], root: Path) -> tuple[str, dict[str, int], str, str, str]:
    from dashcam.config import load_config
    from dashcam.db.models import StageRun
    from dashcam.db.session import _cached_engine, ensure_schema, get_engine, session_scope
    from dashcam.settings import Settings
    from dashcam.storage import Storage
    from tests.search.seed import T0
    from tests.webui.seeding import seed_ui
    from webui.api.keys import create_key, revoke_key

    config = load_config(Settings.from_env(env))
    url = config.database_url()
    ensure_schema(url)
    engine = get_engine(url=url)
    flow_run_id = str(uuid.uuid4())
    with session_scope(engine) as session:
        ids = seed_ui(session, Storage(config), root)
        front, rear = ids["clip_front"], ids["clip_rear"]
        runs = [
            StageRun(clip_id=front, stage="ingest", version="1", status="done", attempts=1, device="nas-1",
                     started_at=T0, finished_at=T0 + timedelta(seconds=5), duration_s=5.0),
            StageRun(clip_id=front, stage="preprocess", version="2", status="done", attempts=1, device=DEVICE,
                     flow_run_id=flow_run_id, started_at=T0 + timedelta(minutes=1),
                     finished_at=T0 + timedelta(minutes=2), duration_s=60.0),
            StageRun(clip_id=front, stage="heavy", version="3", status="failed", attempts=3, device=CONFIGURED,
                     error="CUDA out of memory", started_at=T0 + timedelta(minutes=3),
                     finished_at=T0 + timedelta(minutes=4), duration_s=60.0),
            StageRun(clip_id=rear, stage="ingest", version="1", status="running", attempts=1, device="nas-1",
                     started_at=T0 + timedelta(days=2)),
            StageRun(clip_id=rear, stage="preprocess", version="2", status="queued", attempts=0),
        ]  # fmt: skip
        session.add_all(runs)
        _, device_key = create_key(session=session, device=DEVICE)
        old_id, revoked = create_key(session=session, device=DEVICE)
        revoke_key(session=session, key_id=old_id)
    engine.dispose()
    _cached_engine.cache_clear()
    return url, ids, device_key, revoked, flow_run_id


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The app on a free loopback port, seeded, with a user and device tokens ready."""
    from tests.webui.seeding import PASSWORD, USERNAME

    root = tmp_path_factory.mktemp("api")
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps({"devices": {CONFIGURED: {"device_type": "rtx_4090"}}})
    )
    # a real server, not NiceGUI's test mode (which it picks up from PYTEST_CURRENT_TEST)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))},
        "DASHCAM_DATA_DIR": str(root / "data"),
        "DASHCAM_CONFIG_DIR": str(config_dir),
        "DASHCAM_SECRET_KEY": SECRET,
        "DASHCAM_UI_TILE_URL": "none",
        "DASHCAM_DEVICE": "main-test",
    }
    env.pop("DASHCAM_DATABASE_URL", None)
    env.pop("PREFECT_API_URL", None)
    db_url, ids, device_key, revoked, flow_run_id = _seed(env, root)
    port = free_port()
    log = (root / "server.log").open(
        "wb"
    )  # a file, not a pipe nobody reads: a full pipe would stall the server
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dashcam.cli import main; main()", "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(f"{url}/api/v1/openapi.json", proc, root / "server.log")
        server = ApiServer(url, db_url, ids, device_key, revoked, flow_run_id, env=env, pid=proc.pid)
        with server.client() as c:
            r = c.post("/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
            assert r.status_code == 200, r.text
            server.tokens["user"] = r.json()["access_token"]
            r = c.post("/api/v1/auth/token", json={"api_key": device_key})
            assert r.status_code == 200, r.text
            server.tokens["device"] = r.json()["access_token"]
        yield server
    finally:
        end_process(proc, timeout=10)
        log.close()


@pytest.fixture
def user(api: ApiServer) -> Iterator[httpx.Client]:
    with api.client(api.tokens["user"]) as c:
        yield c


@pytest.fixture
def device(api: ApiServer) -> Iterator[httpx.Client]:
    with api.client(api.tokens["device"]) as c:
        yield c
