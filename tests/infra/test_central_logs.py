"""infra/logging against a real rsyslog (Debian's ``rsyslog``): two private daemons on loopback.

The main server's rsyslog runs the shipped ``rsyslog-server.conf``, a device's rsyslog the shipped
``rsyslog-forward.conf`` (only the server's address, the ports, the socket and the log folder changed: both
run unprivileged in a temporary folder, with their own pid files and spools, never the system's daemon).
Processes configured with ``"logging": {"format": "json", "syslog": <the device's socket>}`` log through the
device's rsyslog to the main server's files: the web UI (`dashcam ui`) and the heartbeat (`dashcam
heartbeat`) in one test, a Prefect worker and the flow run it starts (the loopback cluster of
:mod:`dashcam.testing.cluster`: PostgreSQL, `prefect server start`, `dashcam setup`, `prefect worker
start`) in the other. Every line that arrives parses as JSON with the fields of dashcam.logs, and no
secret of those processes (session key, API key, database password, a password in a URL) is in any line.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashcam.procs import end_process, free_port
from dashcam.testing.cluster import wait_for
from tests.support import dashcam_command, models_dir, need, testdata_file, user_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "infra" / "logging"
FIELDS = {"timestamp", "level", "device", "flow_run_id", "clip_id", "logger", "message"}


def _rsyslogd() -> str:
    found = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").is_file() else None
    )
    if not found:
        need("rsyslogd is not installed (Debian package rsyslog)")
    assert found
    return found


def _replaced(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) >= 1, f"{old!r} is no longer in the shipped file"
        text = text.replace(old, new)
    return text


@dataclass
class Central:
    """The main server's log folder and the device's socket, with the two daemons behind them."""

    files: Path
    socket: Path
    procs: list[subprocess.Popen[bytes]]

    def lines(self) -> list[dict[str, Any]]:
        """Every line received so far, each parsed (a line that is not JSON fails the test)."""
        out = []
        for path in sorted(self.files.glob("*.log")):
            for raw in path.read_text().splitlines():
                try:
                    out.append(json.loads(raw))
                except json.JSONDecodeError:
                    pytest.fail(f"{path.name}: not a JSON line: {raw[:300]!r}")
        return out

    def text(self) -> str:
        return "".join(p.read_text() for p in self.files.glob("*.log"))


def _daemon(binary: str, root: Path, name: str, conf: str) -> subprocess.Popen[bytes]:
    spool = root / f"{name}-spool"
    spool.mkdir()
    path = root / f"{name}.conf"
    # the lines a distribution's /etc/rsyslog.conf has above its /etc/rsyslog.d/ drop-ins
    path.write_text(f'global(workDirectory="{spool}")\nmodule(load="imuxsock" SysSock.Use="off")\n\n{conf}')
    check = subprocess.run([binary, "-N1", "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "error" not in (check.stdout + check.stderr).lower(), check.stderr
    log = (root / f"{name}.log").open("wb")
    return subprocess.Popen(
        [binary, "-n", "-f", str(path), "-i", str(root / f"{name}.pid")], stdout=log, stderr=subprocess.STDOUT
    )


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    binary = _rsyslogd()
    root = tmp_path / "rsyslog"
    root.mkdir()
    port = free_port()
    files = root / "central"
    server = _replaced(
        (SHIPPED / "rsyslog-server.conf").read_text(),
        ('port="514"', f'port="{port}"'),
        ("/var/log/dashcam/devices/", f"{files}/"),
        ("/run/dashcam/log.sock", str(root / "server.sock")),
    )
    sock = root / "device.sock"
    forward = _replaced(
        (SHIPPED / "rsyslog-forward.conf").read_text(),
        ('target="main-server"', 'target="127.0.0.1"'),
        ('port="514"', f'port="{port}"'),
        ("/run/dashcam/log.sock", str(sock)),
    )
    procs = [_daemon(binary, root, "server", server)]
    try:

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for("the main server's rsyslog", listening, 30)
        procs.append(_daemon(binary, root, "device", forward))
        wait_for("the device's rsyslog socket", sock.exists, 30)
        yield Central(files, sock, procs)
    finally:
        for p in reversed(procs):
            end_process(p, timeout=10)
        print(
            *(f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in root.glob("*.log")), sep="\n"
        )


def _json_config(central: Central) -> dict[str, Any]:
    return {"logging": {"format": "json", "level": "INFO", "syslog": str(central.socket)}}


def _check_lines(central: Central, forbidden: list[str]) -> list[dict[str, Any]]:
    lines = central.lines()
    assert lines
    for line in lines:
        assert set(line) >= FIELDS, line
    text = central.text()
    for secret in forbidden:
        assert secret not in text
    return lines


# ---------------------------------------------------------------- the web UI and the heartbeat


def test_web_ui_and_heartbeat_lines_reach_the_main_server(central: Central, tmp_path: Path) -> None:
    secret_key = secrets.token_urlsafe(32)
    url_password = "Hunter2-url-" + secrets.token_hex(4)
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps(_json_config(central)))
    env = user_env(
        tmp_path / "home",
        DASHCAM_CONFIG_DIR=str(cfg),
        DASHCAM_DATA_DIR=str(tmp_path / "data"),
        DASHCAM_SECRET_KEY=secret_key,
        DASHCAM_DEVICE="main-1",
    )

    def dashcam(*args: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dashcam_command(), *args], env={**env, **more}, capture_output=True, text=True, timeout=120
        )

    made = dashcam("api-key", "create", "--device", "edge-1", "--json")
    assert made.returncode == 0, made.stderr
    api_key = json.loads(made.stdout)["api_key"]

    port = free_port()
    with (tmp_path / "ui.log").open("wb") as log:
        ui = subprocess.Popen([dashcam_command(), "ui", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()
            try:
                return httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the web UI", up, 120)
        beat = dashcam(
            "heartbeat",
            "--server",
            base,
            "--device-type",
            "jetson_coral",
            DASHCAM_DEVICE="edge-1",
            DASHCAM_API_KEY=api_key,
        )
        assert beat.returncode == 0 and beat.stdout == "", beat.stderr  # json mode: the news is a log line
        lost = dashcam(
            "heartbeat",
            "--server",
            f"http://edge:{url_password}@127.0.0.1:9",
            "--device-type",
            "jetson_coral",
            DASHCAM_DEVICE="edge-1",
            DASHCAM_API_KEY=api_key,
        )
        assert lost.returncode == 1

        def arrived() -> list[dict[str, Any]] | None:
            lines = central.lines()
            ui_lines = [
                x for x in lines if x["device"] == "main-1" and str(x["logger"]).startswith("uvicorn")
            ]
            sent = [x for x in lines if x["device"] == "edge-1" and "heartbeat sent" in str(x["message"])]
            failed = [x for x in lines if x["device"] == "edge-1" and x["level"] == "ERROR"]
            return lines if ui_lines and sent and failed else None

        wait_for("the UI's and the heartbeat's lines at the main server", arrived, 60)
    finally:
        end_process(ui, timeout=15)
    lines = _check_lines(central, [secret_key, api_key, api_key.rsplit("_", 1)[1], url_password])
    failed = next(x for x in lines if x["device"] == "edge-1" and x["level"] == "ERROR")
    assert "cannot reach http://edge:***@127.0.0.1:9" in failed["message"]
    access = [x for x in lines if x["logger"] == "uvicorn.access"]
    assert any("/api/v1/devices/heartbeat" in str(x["message"]) for x in access)  # the API's request log


# ---------------------------------------------------------------- a Prefect worker and its flow run


@pytest.mark.postgres
def test_worker_and_flow_run_lines_reach_the_main_server(
    central: Central, tmp_path: Path, postgres_url: str
) -> None:
    from dashcam.testing.cluster import Cluster

    db_password = "Pg-" + secrets.token_hex(8)
    # trust authentication ignores the password: the URL holds one as a real deployment's does
    pg_url = postgres_url.replace("://dashcam@", f"://dashcam:{db_password}@")
    card = tmp_path / "card"
    card.mkdir()
    shutil.copy(testdata_file("video/highway/test_video.mp4"), card / "2023_0815_120000_000101F.MP4")
    with Cluster(
        tmp_path / "cluster",
        pg_url,
        models_dir=models_dir(),
        devices={"nas-1": "nas"},
        config=_json_config(central),
        # what infra/systemd/dashcam-worker@.service sets for the worker (setup sets it for the flow runs)
        env={
            "PREFECT_LOGGING_SETTINGS_PATH": str(SHIPPED / "prefect-logging.yml"),
            "PREFECT_LOGGING_TO_API_ENABLED": "true",  # tests/conftest.py turns it off for in-process flows
        },
    ) as c:
        try:
            c.server()
            c.upgrade_db()
            c.setup()
            c.worker("nas-1")
            c.wait_workers_online()
            run_id = c.run_deployment("ingest/ingest", folder=str(card), chain=False, stable_check_s=0)

            def finished() -> str | None:
                state = c.api_get(f"/flow_runs/{run_id}")["state"]
                return (
                    state["type"] if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None
                )

            assert wait_for("the ingest flow run", finished, 240, every=1) == "COMPLETED"

            def arrived() -> list[dict[str, Any]] | None:
                mine = [x for x in central.lines() if x["flow_run_id"] == run_id]
                ours = [
                    x for x in mine if str(x["logger"]).startswith("dashcam.") and x["clip_id"] is not None
                ]
                runs = [x for x in mine if x["logger"] == "prefect.flow_runs"]
                worker = [x for x in mine if str(x["logger"]).startswith("prefect.flow_runs.worker")]
                return mine if ours and runs and worker else None

            mine = wait_for("the worker's and the flow run's lines at the main server", arrived, 60)

            # and Prefect still has the flow run's lines, ours included (the Prefect UI shows them)
            def in_prefect() -> list[str] | None:
                logs = c.api_all("/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
                names = [str(x["name"]) for x in logs]
                return names if any(n.startswith("dashcam.") for n in names) else None

            names = wait_for(
                "the flow run's lines, ours included, in the Prefect API", in_prefect, 60, every=1
            )
        except BaseException:
            print(c.log_tails())
            raise
    assert {x["device"] for x in mine} == {"nas-1"}
    assert "prefect.flow_runs" in names
    _check_lines(central, [db_password])
