"""The multi-device deployment, for real, on loopback: PostgreSQL, `prefect server start`, `dashcam setup`,
and five `prefect worker start --pool ...` processes (two for `gpu`) standing in for the devices.

Clips fed to the ingest deployment reach the database through every stage, each on its own pool; a `gpu`
worker killed with SIGKILL in the middle of a clip ends with that clip processed exactly once (the same
rows as a clean run of the same frames); re-sending the same clips changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from dashcam.db.models import Clip, Sighting, StageRun
from tests.camera.fake_camera import mp4_variant
from tests.support import models_dir, testdata_file

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEVICES = {"nas-1": "nas", "jetson-1": "edge", "gpu-1": "gpu", "gpu-2": "gpu", "shed-1": "archive"}
STAGE_POOL = {"ingest": "nas", "preprocess": "edge", "heavy": "gpu", "archive": "archive"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first found through /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Deployment:
    """The server, the workers and the shared folders of one test deployment."""

    def __init__(self, root: Path, pg_url: str):
        self.root = root
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = root / "logs"
        self.logs.mkdir()
        base = pg_url.rsplit("/", 1)[0]
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE prefect"))
            c.execute(text("CREATE DATABASE results"))
        admin.dispose()
        self.prefect_db = base.replace("postgresql+psycopg", "postgresql+asyncpg") + "/prefect"
        self.results_db = base + "/results"
        self.api = f"http://127.0.0.1:{_free_port()}/api"
        self.cfg = root / "etc"
        (self.cfg / "devices").mkdir(parents=True)
        shared = root / "shared"
        (self.cfg / "config.json").write_text(
            json.dumps(
                {
                    "global": {"task_retry_delay_seconds": 1, "task_retries": 1, "claim_lease_s": 8},
                    "storage_paths": {
                        "indoor_nas": {"base": str(shared / "videos")},
                        "shed_nas": {"archive_base": str(shared / "archive")},
                    },
                    # the GPU box's stage on a CPU: the int8 TFLite YOLO, no plate reading (speed)
                    "vision": {
                        "vehicle_detector": {"type": "litert", "model": "yolov8n_full_integer_quant.tflite"},
                        "plate_detector": None,
                    },
                }
            )
        )
        types = {"nas": "indoor_nas", "edge": "jetson_coral", "gpu": "rtx_gpu", "archive": "shed_nas"}
        for host, pool in DEVICES.items():
            (self.cfg / "devices" / f"{host}.json").write_text(
                json.dumps(
                    {
                        "device_type": types[pool],
                        "hostname": host,
                        "storage": {"local_scratch": str(root / "scratch" / host)},
                    }
                )
            )
        self.env = {
            **os.environ,
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(root / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "DASHCAM_CONFIG_DIR": str(self.cfg),
            "DASHCAM_MODELS_DIR": str(models_dir()),
            "DASHCAM_DATA_DIR": str(root / "data"),
        }
        self.env.pop("DASHCAM_DATABASE_URL", None)
        self.env.pop("PREFECT_RESULTS_LOCAL_STORAGE_PATH", None)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def server(self) -> None:
        port = self.api.rsplit(":", 1)[1].split("/")[0]
        env = {**self.env, "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.prefect_db}
        self.start(
            "server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port], env
        )

        def up() -> bool:
            try:
                return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the Prefect server", up, timeout=120)

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(BIN / "dashcam"), *args],
            env=env or self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"dashcam {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def worker(self, host: str) -> None:
        pool = DEVICES[host]
        env = {**self.env, "DASHCAM_DEVICE": host}
        self.start(
            f"worker-{host}", [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", host], env
        )

    def kill(self, name: str) -> None:
        """Power loss: the worker and the flow runs it started (in sessions of their own) die at once."""
        proc = self.procs.pop(name)
        victims = [proc.pid, *_descendants(proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def run_deployment(self, name: str, **params: Any) -> None:
        code = (
            "import json, sys\nfrom prefect.deployments import run_deployment\n"
            f"run_deployment({name!r}, parameters=json.loads(sys.argv[1]), timeout=0)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(params)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str) -> Iterator[Deployment]:
    d = Deployment(tmp_path, postgres_url)
    try:
        yield d
    finally:
        d.stop()
        for log in sorted(d.logs.glob("*.log")):  # shown by pytest only when the test failed
            print(f"===== {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def _runs(engine: Any) -> dict[int, dict[str, StageRun]]:
    with engine.connect() as c:
        rows = c.execute(select(StageRun)).all()
    out: dict[int, dict[str, StageRun]] = {}
    for r in rows:
        out.setdefault(r.clip_id, {})[r.stage] = r
    return out


def _flow_failures(api: str) -> list[str]:
    """Flow runs that crashed or failed (the wait stops at once instead of timing out)."""
    query = {"flow_runs": {"state": {"type": {"any_": ["CRASHED", "FAILED"]}}}}
    runs = httpx.post(f"{api}/flow_runs/filter", json=query, timeout=10).json()
    return [f"{r['name']}: {r['state']['type']} {r['state'].get('message')}" for r in runs]


def _all_archived(engine: Any, n: int, api: str | None = None, allow_crashed: int = 0) -> bool:
    if api is not None:
        bad = _flow_failures(api)
        assert len(bad) <= allow_crashed, f"flow runs failed: {bad}"
    runs = _runs(engine)
    done = [c for c, st in runs.items() if st.get("archive") is not None and st["archive"].status == "done"]
    failed = [(c, s, r.error) for c, st in runs.items() for s, r in st.items() if r.status == "failed"]
    assert not failed, f"stage failures: {failed}"
    return len(done) >= n


def _sightings(engine: Any, clip_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        rows = c.execute(
            select(Sighting.track_id, Sighting.label, Sighting.first_s, Sighting.last_s, Sighting.frames)
            .where(Sighting.clip_id == clip_id)
            .order_by(Sighting.track_id)
        ).all()
    return [tuple(r) for r in rows]


def test_pipeline_across_pools_survives_a_killed_gpu_worker(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    d.server()
    setup_env = {**d.env, "DASHCAM_DATABASE_URL": d.results_db}  # goes into the Secret block, not to workers
    d.run("db", "upgrade", env=setup_env)
    setup_args = [
        "setup",
        "--server",
        d.api,
        "--results-path",
        str(tmp_path / "shared" / "results"),
        "--code-dir",
        str(REPO),
        "--heartbeat-s",
        "30",
        "--zombie-after-s",
        "90",
    ]
    out = d.run(*setup_args, env=setup_env)
    assert "work pool gpu: created" in out.stdout
    again = d.run(*setup_args, "--no-deploy", env=setup_env)
    assert "created" not in again.stdout and "updated" not in again.stdout  # idempotent
    for host in DEVICES:
        d.worker(host)

    engine = create_engine(d.results_db)
    lanes = testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes()
    card = tmp_path / "card"
    card.mkdir()
    (card / "2023_0815_120000_000101F.MP4").write_bytes(
        testdata_file("video/highway/test_video.mp4").read_bytes()
    )
    (card / "2023_0815_120100_000102F.MP4").write_bytes(lanes)
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)
    wait_for("both clips through every stage", lambda: _all_archived(engine, 2, d.api), timeout=360, every=2)

    runs = _runs(engine)
    for stages in runs.values():
        for stage, run in stages.items():
            assert DEVICES[run.device] == STAGE_POOL[stage], f"{stage} ran on {run.device}"
            assert run.attempts == 1
    with engine.connect() as c:
        clips = {r.file_name: r.id for r in c.execute(select(Clip.file_name, Clip.id))}
    clean = _sightings(engine, clips["2023_0815_120100_000102F.MP4"])
    assert clean, "the lanes clip has cars"

    # the same frames again (a different file), and a gpu worker dies in the middle of it
    card2 = tmp_path / "card2"
    card2.mkdir()
    (card2 / "2023_0815_120200_000103F.MP4").write_bytes(mp4_variant(lanes, "again"))
    d.run_deployment("ingest/ingest", folder=str(card2), chain=True, stable_check_s=0)

    def heavy_running() -> str | None:
        for stages in _runs(engine).values():
            run = stages.get("heavy")
            if run is not None and run.status == "running" and run.clip_id not in clips.values():
                return run.device
        return None

    victim = wait_for("the heavy stage to start on the new clip", heavy_running, timeout=240, every=0.5)
    d.kill(f"worker-{victim}")
    # its lease runs out (8 s); the reconcile sweep, repeated until then, hands the clip to the other gpu worker

    def recovered() -> bool:
        d.run_deployment("reconcile/reconcile", grace_s=600)
        return _all_archived(engine, 3)

    wait_for("the clip to be finished by the other gpu worker", recovered, timeout=240, every=10)
    runs = _runs(engine)
    new_id = next(c for c in runs if c not in clips.values())
    heavy = runs[new_id]["heavy"]
    assert heavy.status == "done" and heavy.device != victim and heavy.attempts == 2
    assert _sightings(engine, new_id) == clean  # exactly once: the same rows as the clean run

    # re-sending the same clips changes nothing
    before = {c: {s: (r.attempts, r.status) for s, r in st.items()} for c, st in _runs(engine).items()}
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)

    def ingest_settled() -> bool:
        query = {
            "flows": {"name": {"any_": ["ingest"]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        return int(httpx.post(f"{d.api}/flow_runs/count", json=query, timeout=10).json()) >= 3

    wait_for("the repeated ingest to finish", ingest_settled, timeout=120, every=2)
    after = {c: {s: (r.attempts, r.status) for s, r in st.items()} for c, st in _runs(engine).items()}
    assert after == before
    with engine.connect() as c:
        assert c.execute(select(Clip.id)).all().__len__() == 3
