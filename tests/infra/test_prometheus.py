"""infra/prometheus against a real Prometheus (Debian's ``prometheus``) on loopback.

A user's steps: `dashcam synth` a short clip, `dashcam run` it, `dashcam api-key create --device prometheus`
for the scrape key, `dashcam ui`; Prometheus, with the shipped scrape job and alert rules (only the
addresses, the key file and a 1 s interval changed), scrapes /metrics, and a PromQL query through its HTTP
API returns the clip counts `dashcam run` reported. The alert rules are unit-tested by promtool.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dashcam.procs import end_process, free_port
from tests.support import dashcam_command, models_dir, need, run_dashcam, user_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "infra" / "prometheus"


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    if not found:
        need(f"{name} is not installed (Debian package prometheus)")
    assert found
    return found


def _wait(
    what: str, check: Callable[[], Any], timeout: float, proc: subprocess.Popen[bytes], log: Path
) -> Any:
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"{what}: the process exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            got = check()
        except httpx.HTTPError:
            got = None
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def test_the_alert_rules_fire_as_described() -> None:
    proc = subprocess.run(
        [_tool("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=PROM,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], Path, dict[str, str]]]:
    """A run's data served by `dashcam ui`: (its URL, the run's --json summary, the key file, env)."""
    env = user_env(
        tmp_path / "home",
        DASHCAM_DATA_DIR=str(tmp_path / "data"),
        DASHCAM_MODELS_DIR=str(models_dir()),
        DASHCAM_SECRET_KEY=secrets.token_urlsafe(32),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    card = tmp_path / "card"
    made = run_dashcam(
        [
            "synth",
            str(card),
            "--seconds",
            "4",
            "--size",
            "640x360",
            "--fps",
            "10",
            "--viofo-name",
            "--plates",
            "AB12CDE",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    ran = run_dashcam(["run", str(card), "--json"], cwd=tmp_path, env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["clips"] == 1 and summary["processed"] == 1 and not summary["failures"]
    made_key = run_dashcam(["api-key", "create", "--device", "prometheus", "--json"], cwd=tmp_path, env=env)
    assert made_key.returncode == 0, made_key.stderr
    key_file = tmp_path / "dashcam-api-key"
    key_file.write_text(json.loads(made_key.stdout)["api_key"] + "\n")
    key_file.chmod(0o600)

    port = free_port()
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        ui = subprocess.Popen(
            [dashcam_command(), "ui", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(
            "the web UI",
            lambda: httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code == 200,
            120,
            ui,
            log,
        )
        yield url, summary, key_file, env
    finally:
        end_process(ui, timeout=15)


def test_prometheus_scrapes_the_clip_counts_of_a_run(
    served: tuple[str, dict[str, Any], Path, dict[str, str]], tmp_path: Path
) -> None:
    url, summary, key_file, _ = served
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM / "alerts.yml")]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "dashcam" and job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    job["authorization"]["credentials_file"] = str(key_file)
    job["static_configs"] = [{"targets": [url.removeprefix("http://")]}]
    conf = tmp_path / "prometheus.yml"
    conf.write_text(yaml.safe_dump(config))

    api = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        prom = subprocess.Popen(
            [
                _tool("prometheus"),
                f"--config.file={conf}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={api.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def query(promql: str) -> list[dict[str, Any]]:
            r = httpx.get(f"{api}/api/v1/query", params={"query": promql}, timeout=5)
            r.raise_for_status()
            return r.json()["data"]["result"]

        done = _wait(
            "the clip counts in Prometheus", lambda: query('dashcam_clips{state="done"}'), 90, prom, log
        )
        by_stage = {r["metric"]["stage"]: float(r["value"][1]) for r in done}
        assert by_stage == dict.fromkeys(
            ("ingest", "preprocess", "heavy", "archive"), float(summary["processed"])
        )
        assert float(query("sum(dashcam_clips_registered)")[0]["value"][1]) == summary["clips"]
        assert float(query('sum(dashcam_clips{state="failed"})')[0]["value"][1]) == len(summary["failures"])
        assert float(query("sum(dashcam_sightings)")[0]["value"][1]) == summary["sightings"]
        assert float(query('dashcam_stage_duration_seconds_count{stage="heavy"}')[0]["value"][1]) == 1

        targets = httpx.get(f"{api}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")]  # scraped with the key
        groups = httpx.get(f"{api}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {r["name"] for g in groups for r in g["rules"]} >= {
            "DashcamDeviceSilent",
            "DashcamDiskNearlyFull",
        }
    finally:
        end_process(prom, timeout=15)
