"""The multi-device deployment on loopback, for the distributed tests and the orchestration benchmark.

A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir), `prefect server start` against it,
`dashcam setup` (pools, limits, blocks, the zombie automation, the deployments of ``prefect.yaml``) and one
`prefect worker start --pool ...` process per device of :data:`DEVICES` (two for ``gpu``)::

    with throwaway_postgres() as pg_url, Cluster(root, pg_url, models_dir=models) as c:
        c.server()
        c.upgrade_db()
        c.setup()
        c.workers()
        c.wait_workers_online()
        c.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)

Every process starts in a session of its own; :meth:`Cluster.stop` (called by the context manager however
the block ends) stops them and every flow-run process they spawned. Nothing here imports Prefect: the
server, the workers and ``run_deployment`` run in processes of their own, as on the real devices.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from dashcam.procs import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAGES = ("ingest", "preprocess", "heavy", "archive")
STAGE_POOL = {"ingest": "nas", "preprocess": "edge", "heavy": "gpu", "archive": "archive"}
# hostname -> work pool: the devices of the deployment guide, two GPU boxes
DEVICES = {"nas-1": "nas", "jetson-1": "edge", "gpu-1": "gpu", "gpu-2": "gpu", "shed-1": "archive"}
DEVICE_TYPES = {"nas": "indoor_nas", "edge": "jetson_coral", "gpu": "rtx_gpu", "archive": "shed_nas"}
# config.json of the cluster (storage paths are added): quick retries and a short claim lease
DEFAULT_CONFIG: dict[str, Any] = {
    "global": {"task_retry_delay_seconds": 1, "task_retries": 1, "claim_lease_s": 8},
    # the GPU box's stage on a CPU: the int8 TFLite YOLO, no plate reading (speed)
    "vision": {
        "vehicle_detector": {"type": "litert", "model": "yolov8n_full_integer_quant.tflite"},
        "plate_detector": None,
    },
}
# Prefect settings of every process: quick polling and heartbeats (Prefect's defaults: 10 s and 30 s)
DEFAULT_ENV = {
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    "PREFECT_LOGGING_LEVEL": "INFO",
}
TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class ClusterError(RuntimeError):
    """A step of the loopback deployment failed (a command, a wait, a flow run)."""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time in clock ticks) of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (found through /proc, children first)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        st = _stat(int(entry.name))
        if st is not None:
            parents[int(entry.name)] = st[0]
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; TimeoutError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in, dict by dict (any other value of ``over`` replaces, None too)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def find_pg_bin() -> Path | None:
    """The folder of PostgreSQL's initdb / pg_ctl (on PATH, or the newest /usr/lib/postgresql/*/bin)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A private PostgreSQL cluster on a loopback port: yields a ``postgresql+psycopg://`` URL of its
    ``dashcam`` database; stopped and deleted afterwards (also on errors and Ctrl-C)."""
    bindir = find_pg_bin()
    if bindir is None:
        raise ClusterError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="dashcam-pg-"))
    data, port = root / "data", free_port()
    # initdb refuses to run as root: then the cluster runs as the postgres system user
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def pg(tool: str, *args: str) -> None:
        proc = subprocess.run([*as_user, str(bindir / tool), *args], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise ClusterError(f"{tool} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")

    started = False
    try:
        pg("initdb", "-D", str(data), "-U", "dashcam", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c max_connections=300"
        )
        pg("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
        started = True
        pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "dashcam", "dashcam")
        yield f"postgresql+psycopg://dashcam@127.0.0.1:{port}/dashcam"
    finally:
        if started:
            with contextlib.suppress(ClusterError):
                pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class Cluster:
    """The server, the workers, the config directory and the shared folders of one loopback deployment.

    ``root`` holds everything (config ``etc/``, ``shared/`` storage, ``logs/``, Prefect home); ``pg_url``
    is a PostgreSQL server where two fresh databases are made: Prefect's and the pipeline's results.
    ``config`` is merged into :data:`DEFAULT_CONFIG`, ``env`` into :data:`DEFAULT_ENV`.
    """

    def __init__(
        self,
        root: Path,
        pg_url: str,
        *,
        models_dir: str | os.PathLike[str],
        devices: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ):
        self.root = Path(root)
        self.devices = dict(devices or DEVICES)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        prefect_db, results_db = f"prefect_{tag}", f"results_{tag}"
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{prefect_db}"'))
                c.execute(text(f'CREATE DATABASE "{results_db}"'))
        finally:
            admin.dispose()
        base = pg_url.rsplit("/", 1)[0]
        self.prefect_db = base.replace("postgresql+psycopg", "postgresql+asyncpg") + "/" + prefect_db
        self.results_db = base + "/" + results_db
        self.api = f"http://127.0.0.1:{free_port()}/api"
        self.shared = self.root / "shared"
        self.cfg = self.root / "etc"
        (self.cfg / "devices").mkdir(parents=True, exist_ok=True)
        doc = merged(
            {
                **DEFAULT_CONFIG,
                "storage_paths": {
                    "indoor_nas": {"base": str(self.shared / "videos")},
                    "shed_nas": {"archive_base": str(self.shared / "archive")},
                },
            },
            config or {},
        )
        (self.cfg / "config.json").write_text(json.dumps(doc, indent=1))
        for host, pool in self.devices.items():
            (self.cfg / "devices" / f"{host}.json").write_text(
                json.dumps(
                    {
                        "device_type": DEVICE_TYPES[pool],
                        "hostname": host,
                        "storage": {"local_scratch": str(self.root / "scratch" / host)},
                    }
                )
            )
        self.env = {
            **os.environ,
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            **DEFAULT_ENV,
            **(env or {}),
            "DASHCAM_CONFIG_DIR": str(self.cfg),
            "DASHCAM_MODELS_DIR": str(Path(models_dir).absolute()),
            "DASHCAM_DATA_DIR": str(self.root / "data"),
        }
        # the workers find the database in the Secret block `dashcam setup` saves, as on real devices
        self.env.pop("DASHCAM_DATABASE_URL", None)
        self.env.pop("PREFECT_RESULTS_LOCAL_STORAGE_PATH", None)

    # ------------------------------------------------------------------ processes

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a long-running process in a session of its own, its output in ``logs/<name>.log``."""
        log = (self.logs / f"{name}.log").open("ab")
        self._logs.append(log)
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def server(self, timeout: float = 120) -> None:
        """`prefect server start` on the cluster's port and Prefect database; returns once it answers."""
        port = self.api.rsplit(":", 1)[1].split("/")[0]
        env = {**self.env, "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.prefect_db}
        proc = self.start(
            "server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port], env
        )

        def up() -> bool:
            if proc.poll() is not None:
                raise ClusterError(
                    f"the Prefect server exited ({proc.returncode}):\n{self.log_tail('server')}"
                )
            try:
                return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the Prefect server", up, timeout=timeout)

    def worker(self, host: str, worker_type: str | None = None) -> None:
        """`prefect worker start` for one device: its pool, its hostname (DASHCAM_DEVICE); ``worker_type``
        "docker" for a docker pool's worker (it starts a container per flow run)."""
        env = {**self.env, "DASHCAM_DEVICE": host}
        args = [str(BIN / "prefect"), "worker", "start", "--pool", self.devices[host], "--name", host]
        if worker_type:
            args += ["--type", worker_type]
        self.start(f"worker-{host}", args, env)

    def workers(self) -> None:
        for host in self.devices:
            self.worker(host)

    def online_workers(self) -> set[str]:
        out = set()
        for pool in set(self.devices.values()):
            r = httpx.post(f"{self.api}/work_pools/{pool}/workers/filter", json={}, timeout=10)
            r.raise_for_status()
            out |= {w["name"] for w in r.json() if w.get("status") == "ONLINE"}
        return out

    def wait_workers_online(self, timeout: float = 180) -> None:
        """Until every device's worker has sent its first heartbeat."""
        want = set(self.devices)
        wait_for(f"workers {sorted(want)} online", lambda: want <= self.online_workers(), timeout, every=1)

    def kill(self, name: str) -> None:
        """Power loss: the process and the flow runs it started (in sessions of their own) die at once."""
        proc = self.procs.pop(name)
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        """Stop every process (SIGTERM, then SIGKILL), and any flow-run process a worker left behind."""
        procs = list(self.procs.values())
        self.procs.clear()
        spawned = {pid: st[1] for p in procs for pid in descendants(p.pid) if (st := _stat(pid)) is not None}
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        for pid, started in spawned.items():
            st = _stat(pid)
            if st is not None and st[1] == started:  # the same process, not a reused pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if "engine" in self.__dict__:
            self.__dict__.pop("engine").dispose()

    def log_tail(self, name: str, limit: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-limit:] if path.is_file() else ""

    def log_tails(self, limit: int = 4000) -> str:
        """The end of every process log, one section each (for a failed test or run)."""
        return "".join(
            f"===== {p.name}\n{p.read_text(errors='replace')[-limit:]}\n"
            for p in sorted(self.logs.glob("*.log"))
        )

    # ------------------------------------------------------------------ commands

    @property
    def setup_env(self) -> dict[str, str]:
        """The environment of `dashcam setup`: the results database goes into the Secret block."""
        return {**self.env, "DASHCAM_DATABASE_URL": self.results_db}

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run `dashcam ARGS` from the repository; ClusterError when it fails."""
        proc = subprocess.run(
            [str(BIN / "dashcam"), *args],
            env=env or self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ClusterError(f"dashcam {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def upgrade_db(self) -> None:
        self.cli("db", "upgrade", env=self.setup_env)

    def setup_args(self, heartbeat_s: int = 30, zombie_after_s: int = 90) -> list[str]:
        return [
            "setup",
            "--server",
            self.api,
            "--results-path",
            str(self.shared / "results"),
            "--code-dir",
            str(REPO),
            "--heartbeat-s",
            str(heartbeat_s),
            "--zombie-after-s",
            str(zombie_after_s),
        ]

    def setup(self, *extra: str, heartbeat_s: int = 30, zombie_after_s: int = 90) -> str:
        """`dashcam setup` against the server (pools, limits, blocks, automation, deployments); its output."""
        args = [*self.setup_args(heartbeat_s, zombie_after_s), *extra]
        return self.cli(*args, env=self.setup_env).stdout

    def run_deployment(self, name: str, timeout: float = 120, **params: Any) -> str:
        """Create a flow run of deployment ``name`` (without waiting for it); its id."""
        code = (
            "import json, sys\nfrom prefect.deployments import run_deployment\n"
            f"print(run_deployment({name!r}, parameters=json.loads(sys.argv[1]), timeout=0).id)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(params)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ClusterError(f"run_deployment {name} failed:\n{proc.stderr}")
        return proc.stdout.strip().splitlines()[-1]

    # ------------------------------------------------------------------ state

    @cached_property
    def engine(self) -> Engine:
        """The results database (disposed by :meth:`stop`)."""
        return create_engine(self.results_db)

    def api_get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        r = httpx.get(f"{self.api}{path}", params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def api_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = httpx.post(f"{self.api}{path}", json=body or {}, timeout=30)
        r.raise_for_status()
        return r.json()

    def api_patch(self, path: str, body: dict[str, Any]) -> None:
        httpx.patch(f"{self.api}{path}", json=body, timeout=30).raise_for_status()

    def api_delete(self, path: str) -> None:
        httpx.delete(f"{self.api}{path}", timeout=30).raise_for_status()

    def api_all(self, path: str, body: dict[str, Any] | None = None, page: int = 200) -> list[Any]:
        """Every object of a ``.../filter`` endpoint, page by page."""
        out: list[Any] = []
        while True:
            got = self.api_post(path, {**(body or {}), "limit": page, "offset": len(out)})
            out += got
            if len(got) < page:
                return out

    def flow_failures(self) -> list[str]:
        """Flow runs that crashed or failed, one line each."""
        query = {"flow_runs": {"state": {"type": {"any_": ["CRASHED", "FAILED"]}}}}
        runs = self.api_all("/flow_runs/filter", query)
        return [f"{r['name']}: {r['state']['type']} {r['state'].get('message')}" for r in runs]

    def stage_runs(self) -> dict[int, dict[str, Any]]:
        """clip id -> stage -> its StageRun row."""
        from dashcam.db.models import StageRun

        with self.engine.connect() as c:
            rows = c.execute(select(StageRun)).all()
        out: dict[int, dict[str, Any]] = {}
        for r in rows:
            out.setdefault(r.clip_id, {})[r.stage] = r
        return out

    def archived(self, allow_crashed: int | None = 0) -> int:
        """How many clips finished the archive stage; ClusterError on any stage failure, and on more
        crashed or failed flow runs than ``allow_crashed`` (None: flow runs are not checked)."""
        if allow_crashed is not None:
            bad = self.flow_failures()
            if len(bad) > allow_crashed:
                raise ClusterError(f"flow runs failed: {bad}")
        runs = self.stage_runs()
        failed = [(c, s, r.error) for c, st in runs.items() for s, r in st.items() if r.status == "failed"]
        if failed:
            raise ClusterError(f"stage failures: {failed}")
        return sum(1 for st in runs.values() if (a := st.get("archive")) is not None and a.status == "done")
