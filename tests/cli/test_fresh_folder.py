"""Every command the way a new user types it: a fresh process on a fresh data folder, a fresh home, no
PREFECT_* or DASHCAM_* variables of the test session and no Prefect harness. A harness once hid that
`dashcam ingest` crashed on every new machine (Prefect's home was never created)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.camera.conftest import STOCK
from tests.camera.fake_camera import FakeCamera
from tests.support import models_dir, run_dashcam, testdata_file, user_env

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    """A folder holding one short real clip, named the way a Viofo names it."""
    folder = tmp_path / "sdcard"
    folder.mkdir()
    shutil.copy(testdata_file("video/highway/test_video.mp4"), folder / "2024_0518_093000_000001F.MP4")
    return folder


def _clips_in(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("select count(*) from clip").fetchone()[0])


def test_ingest_from_a_folder_in_the_default_data_folder(tmp_path: Path, home: Path, clips: Path) -> None:
    """The quick start's ingest, with no DASHCAM_DATA_DIR at all: everything goes to ./dashcam-data."""
    work = tmp_path / "work"
    work.mkdir()
    res = run_dashcam(["ingest", "--from", str(clips)], cwd=work, env=user_env(home))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "1 clip(s) registered (1 new), 0 skipped, 0 failed"
    assert "Traceback" not in res.stderr
    assert _clips_in(work / "dashcam-data" / "dashcam.db") == 1
    again = run_dashcam(["ingest", "--from", str(clips)], cwd=work, env=user_env(home))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "0 clip(s) registered (0 new), 1 skipped, 0 failed"


def test_ingest_from_the_camera(tmp_path: Path, home: Path, stocked_camera: FakeCamera) -> None:
    data = tmp_path / "data"
    res = run_dashcam(
        ["ingest", "--camera", stocked_camera.url],
        cwd=tmp_path,
        env=user_env(home, DASHCAM_DATA_DIR=str(data)),
    )
    assert res.returncode == 0, res.stderr
    n = len(STOCK)
    assert res.stdout.strip().splitlines()[-1] == f"{n} clip(s) registered ({n} new), 0 skipped, 0 failed"
    assert _clips_in(data / "dashcam.db") == n


def test_ingest_without_a_camera_says_so(tmp_path: Path, home: Path) -> None:
    from dashcam.procs import free_port

    res = run_dashcam(
        ["ingest", "--camera", f"http://127.0.0.1:{free_port()}"],
        cwd=tmp_path,
        env=user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "data")),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "no camera: nothing to do (the car is away?)"


def test_run_then_archive_then_retention(tmp_path: Path, home: Path, clips: Path) -> None:
    env = user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "data"), DASHCAM_MODELS_DIR=str(models_dir()))
    res = run_dashcam(["run", str(clips), "--no-archive"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    summary = res.stdout.strip().splitlines()
    assert re.fullmatch(r"1 clip\(s\): [1-9]\d* sighting\(s\), \d+ plate\(s\), 0 failure\(s\)", summary[0]), (
        summary
    )
    assert summary[1].startswith("search it: ")
    assert "Traceback" not in res.stderr

    arch = run_dashcam(["archive", "--all-pending"], cwd=tmp_path, env=env)
    assert arch.returncode == 0, arch.stderr
    assert re.fullmatch(
        r"1 clip\(s\) archived \([1-9]\d* file\(s\), [\d.]+ \w+\), 0 failed", arch.stdout.strip()
    )
    nothing = run_dashcam(["archive", "--all-pending"], cwd=tmp_path, env=env)
    assert nothing.returncode == 0 and nothing.stdout.strip() == "nothing to archive"

    ret = run_dashcam(["retention", "--dry-run"], cwd=tmp_path, env=env)
    assert ret.returncode == 0, ret.stderr
    assert ret.stdout.strip().splitlines()[-1] == "would free 0 file(s), 0 B"


def test_retention_on_a_fresh_folder(tmp_path: Path, home: Path) -> None:
    res = run_dashcam(["retention"], cwd=tmp_path, env=user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d")))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "freed 0 file(s), 0 B"


def test_search_on_a_fresh_folder(tmp_path: Path, home: Path) -> None:
    res = run_dashcam(
        ["search", "--plate", "AB12CDE"],
        cwd=tmp_path,
        env=user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d")),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "no sightings match"


def test_plates_reads_a_photo(tmp_path: Path, home: Path) -> None:
    photo = testdata_file("plates/eu/eu1.jpg")
    env = user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d"), DASHCAM_MODELS_DIR=str(models_dir()))
    res = run_dashcam(["plates", str(photo)], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(
        rf"{re.escape(str(photo))}: [A-Z0-9]+  conf [01]\.\d\d  box \d+,\d+,\d+,\d+", res.stdout.strip()
    )


def test_gps_of_a_clip(tmp_path: Path, home: Path) -> None:
    clip = testdata_file("gps/vantrue_fixtures/vantrue-n2x.mp4")
    env = user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d"))
    res = run_dashcam(["gps", str(clip), "--json"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["points"]) == 3
    gpx = run_dashcam(["gps", str(clip)], cwd=tmp_path, env=env)
    assert gpx.returncode == 0 and gpx.stdout.startswith("<?xml") and gpx.stderr == ""


def test_ui_create_user(tmp_path: Path, home: Path) -> None:
    env = user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d"), DASHCAM_UI_PASSWORD="a long enough passphrase")
    res = run_dashcam(["ui", "--create-user", "alice"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "created user alice"


def test_db_upgrade(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "d"
    res = run_dashcam(["db", "upgrade"], cwd=tmp_path, env=user_env(home, DASHCAM_DATA_DIR=str(data)))
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(
        rf"sqlite:///{re.escape(str(data))}/dashcam\.db: schema at revision \d{{4}}", res.stdout.strip()
    )


def test_config_validate_without_a_config_directory(tmp_path: Path, home: Path) -> None:
    if Path("/etc/dashcam-processor").exists():
        pytest.skip("this machine has a config directory at /etc/dashcam-processor")
    data = tmp_path / "d"
    res = run_dashcam(["config", "validate"], cwd=tmp_path, env=user_env(home, DASHCAM_DATA_DIR=str(data)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (
        f"no config directory at /etc/dashcam-processor: the embedded default is in use "
        f"(everything under {data}); valid"
    )
    named = run_dashcam(
        ["config", "validate"],
        cwd=tmp_path,
        env=user_env(home, DASHCAM_DATA_DIR=str(data), DASHCAM_CONFIG_DIR=str(tmp_path / "nope")),
    )
    assert named.returncode == 1  # a directory the user named must exist
    assert "config directory does not exist" in named.stderr


def test_demo(tmp_path: Path, home: Path) -> None:
    env = user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "d"), DASHCAM_MODELS_DIR=str(models_dir()))
    res = run_dashcam(["demo", "--clips", "1", "--seconds", "12"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert re.fullmatch(
        r"1 clip\(s\): [1-9]\d* sighting\(s\), [1-9]\d* plate\(s\), 0 failure\(s\)", lines[0]
    ), lines
    assert lines[1] == f"footage and ground truth: {tmp_path / 'd' / 'demo-footage'}"


def test_ingest_on_a_temporary_prefect_server(tmp_path: Path, home: Path, clips: Path) -> None:
    """`--prefect`: the flows on a temporary Prefect server whose home (DATA/prefect) did not exist."""
    data = tmp_path / "data"
    res = run_dashcam(
        ["ingest", "--prefect", "--from", str(clips)],
        cwd=tmp_path,
        env=user_env(home, DASHCAM_DATA_DIR=str(data)),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "1 clip(s) registered (1 new), 0 skipped, 0 failed"
    assert (data / "prefect" / "prefect.db").is_file()  # the run is recorded in Prefect's own database
    assert not (home / ".prefect").exists()


def test_a_command_that_seems_stuck_says_where_it_is(tmp_path: Path, home: Path) -> None:
    """`kill -USR1 PID` prints where each thread of a running command is, on its stderr, and the command
    goes on: here one waiting on a camera that accepts the connection and never answers."""
    import os
    import select
    import signal
    import socket
    import subprocess
    import time

    from tests.support import dashcam_command

    with socket.socket() as camera:
        camera.bind(("127.0.0.1", 0))
        camera.listen()
        camera.settimeout(120)
        proc = subprocess.Popen(
            [dashcam_command(), "ingest", "--camera", f"http://127.0.0.1:{camera.getsockname()[1]}"],
            cwd=tmp_path,
            env=user_env(home, DASHCAM_DATA_DIR=str(tmp_path / "data")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            conn, _ = camera.accept()  # the command asks the camera: well past its start-up
            with conn:
                os.kill(proc.pid, signal.SIGUSR1)
                err = b""
                deadline = time.monotonic() + 30
                while b"Current thread" not in err or not err.endswith(b"\n"):
                    assert time.monotonic() < deadline, err.decode(errors="replace")
                    assert proc.poll() is None, f"the command ended on SIGUSR1: {err!r}"
                    if select.select([proc.stderr], [], [], 1)[0]:
                        err += os.read(proc.stderr.fileno(), 65536)  # type: ignore[union-attr]
                # read what follows the current thread's header too
                while select.select([proc.stderr], [], [], 0.5)[0]:
                    chunk = os.read(proc.stderr.fileno(), 65536)  # type: ignore[union-attr]
                    if not chunk:
                        break
                    err += chunk
                assert proc.poll() is None  # it goes on
        finally:
            proc.kill()
            proc.wait()
    text = err.decode(errors="replace")
    assert "most recent call first" in text
    assert "dashcam/camera/" in text, text  # the frames of the thread asking the camera
