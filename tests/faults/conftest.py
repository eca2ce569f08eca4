"""What the fault tests share: short real drives, a user's `dashcam` process on a fresh data folder, and
the state a run leaves (rows and stored files) to compare a rerun after a fault with a clean run."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.support import dashcam_command, models_dir, user_env

DRIVE_SECONDS = 12.0


@pytest.fixture(scope="session")
def drives(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two consecutive synthetic 12 s drives with legible plates and GPS, named as a Viofo names them."""
    from dashcam.synth import synthesize

    out = tmp_path_factory.mktemp("drives")
    start = datetime(2024, 5, 18, 9, 30, tzinfo=timezone.utc)
    made = [
        synthesize(
            out,
            seconds=DRIVE_SECONDS,
            fps=10,
            size=(640, 360),
            seed=seed,
            viofo_name=True,
            sequence=seed,
            start_utc=start + timedelta(seconds=DRIVE_SECONDS * (seed - 1)),
            preset="ultrafast",
        ).path
        for seed in (1, 2)
    ]
    for p in out.glob("*.truth.json"):
        p.unlink()
    return made


@pytest.fixture
def footage(tmp_path: Path, drives: list[Path]) -> Path:
    folder = tmp_path / "footage"
    folder.mkdir()
    for d in drives:
        shutil.copy(d, folder / d.name)
    return folder


class User:
    """A user's shell: `dashcam` as a fresh process, a fresh home, one data folder (and config dir)."""

    def __init__(self, root: Path, config_dir: Path | None = None) -> None:
        self.root = root
        self.data = root / "data"
        extra = {"DASHCAM_DATA_DIR": str(self.data), "DASHCAM_MODELS_DIR": str(models_dir())}
        if config_dir is not None:
            extra["DASHCAM_CONFIG_DIR"] = str(config_dir)
        self.env = user_env(root / "home", **extra)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dashcam_command(), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
        """`dashcam ARGS` in its own session (so the test can kill its whole process group)."""
        opts: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        opts.update(popen)
        return subprocess.Popen(
            [dashcam_command(), *args], cwd=self.root, env=self.env, start_new_session=True, **opts
        )

    @property
    def db(self) -> Path:
        return self.data / "dashcam.db"


@pytest.fixture
def user(tmp_path: Path) -> User:
    return User(tmp_path / "user")


def wait_for(
    what: str, ready: Callable[[], bool], *, proc: subprocess.Popen[str] | None = None, timeout: float = 120
) -> None:
    """Poll until ``ready()``; fail if ``proc`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended (code {proc.returncode}) before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling another process's database: there is nothing to wait on instead


def stage_running(db: Path, stage: str) -> Callable[[], bool]:
    def check() -> bool:
        if not db.exists():
            return False
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
                row = c.execute(
                    "select count(*) from stage_run where stage = ? and status = 'running'", (stage,)
                ).fetchone()
        except sqlite3.OperationalError:  # the schema is still being made
            return False
        return bool(row and row[0])

    return check


def processes_using(path: Path) -> list[int]:
    """Pids of live processes whose command line or environment names ``path`` (our children pass the
    data folder on through DASHCAM_DATA_DIR or PREFECT_HOME)."""
    mark = str(path).encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # a zombie waiting to be reaped is gone already
            if mark in (d / "cmdline").read_bytes() or mark in (d / "environ").read_bytes():
                found.append(int(d.name))
        except (OSError, IndexError):
            continue
    return found


def no_orphans(path: Path, timeout: float = 15) -> None:
    """Every process that used ``path`` is gone (a child told to die with its parent may take a moment)."""
    deadline = time.monotonic() + timeout
    while (left := processes_using(path)) and time.monotonic() < deadline:
        time.sleep(0.1)  # the kernel's parent-death signal and the child's exit: nothing to wait on
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"processes outlived their command: {left}")


TEMPORARY = ("*.tmp-*", "*.copying", "*.part", ".*.encoding.mp4")


def leftovers(root: Path) -> list[Path]:
    return sorted(p for pattern in TEMPORARY for p in root.rglob(pattern) if p.is_file())


def snapshot(user: User) -> dict[str, Any]:
    """What a run leaves, without ids, times and attempt counts: the clips, their stage states, sightings,
    plate reads and media rows, and every stored file with its sha256 (relative to its area)."""
    with sqlite3.connect(f"file:{user.db}?mode=ro", uri=True) as c:
        clips = dict(c.execute("select id, content_hash from clip").fetchall())

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(
                tuple(clips.get(v, v) if i == 0 else v for i, v in enumerate(r)) for r in c.execute(sql)
            )

        doc = {
            "clips": sorted(c.execute("select content_hash, file_name, size_bytes, gps_points from clip")),
            "stages": rows("select clip_id, stage, status, cache_key from stage_run"),
            "sightings": rows(
                "select clip_id, track_id, label, plate_text, round(first_s, 3), round(last_s, 3), lat, lon from sighting"
            ),
            "plate_reads": len(c.execute("select 1 from plate_read").fetchall()),
            "media": rows("select clip_id, kind, area, key, sha256 from media"),
        }
    files = {}
    for area in ("raw", "preproc", "heavy_output", "archive"):
        base = user.data / area
        for p in sorted(base.rglob("*")) if base.exists() else []:
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts):
                files[f"{area}/{p.relative_to(base)}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    doc["files"] = files
    return doc


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory, drives: list[Path]) -> dict[str, Any]:
    """The state a clean `dashcam run` of the drives leaves: what every rerun after a fault must match."""
    root = tmp_path_factory.mktemp("clean")
    folder = root / "footage"
    folder.mkdir()
    for d in drives:
        shutil.copy(d, folder / d.name)
    u = User(root / "user")
    res = u.run("run", str(folder))
    assert res.returncode == 0, res.stderr
    clean = snapshot(u)
    # the comparisons below mean something only if the run found something: sightings, plates, media
    assert clean["sightings"] and clean["media"] and any(s[3] for s in clean["sightings"]), clean
    return clean


def assert_like_clean(user: User, clean: dict[str, Any]) -> None:
    got = snapshot(user)
    for part in clean:
        assert got[part] == clean[part], f"{part} differs from a clean run"
    assert leftovers(user.data) == []


@pytest.fixture
def stop_all(user: User) -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started: whatever they left running is killed at the end, whatever happened."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    for pid in processes_using(user.data):
        os.kill(pid, signal.SIGKILL)
