"""`dashcam api-key` and `dashcam heartbeat` against the live server; Prefect being unreachable is reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashcam.procs import free_port
from tests.api.conftest import DEVICE, ApiServer


def _dashcam(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from dashcam.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DASHCAM_"))}
    return {**env, "DASHCAM_DATA_DIR": str(tmp_path / "data"), "DASHCAM_DEVICE": DEVICE}


def test_api_key_create_list_revoke(cli_env: dict[str, str]) -> None:
    made = _dashcam(["api-key", "create", "--device", DEVICE, "--json"], cli_env)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["api_key"].startswith(f"dk_{key['key_id']}_")
    listed = json.loads(_dashcam(["api-key", "list", "--json"], cli_env).stdout)
    assert [(k["key_id"], k["device"], k["revoked_at"]) for k in listed] == [(key["key_id"], DEVICE, None)]
    assert key["api_key"] not in _dashcam(["api-key", "list"], cli_env).stdout
    assert _dashcam(["api-key", "revoke", key["key_id"]], cli_env).returncode == 0
    again = _dashcam(["api-key", "revoke", key["key_id"]], cli_env)
    assert again.returncode == 1 and "no active API key" in again.stderr


def test_heartbeat_command(api: ApiServer, cli_env: dict[str, str], user: object) -> None:
    args = ["heartbeat", "--server", api.url, "--device-type", "jetson_coral", "--json"]
    sent = _dashcam([*args, "--key", api.device_key], cli_env)
    assert sent.returncode == 0, sent.stderr
    body = json.loads(sent.stdout)
    assert body["hostname"] == DEVICE and body["online"] is True and body["free_scratch_bytes"] > 0
    refused = _dashcam([*args, "--key", api.revoked_key], cli_env)
    assert refused.returncode == 1 and "token refused" in refused.stderr and "401" in refused.stderr
    missing = _dashcam(args, cli_env)
    assert missing.returncode == 1 and "DASHCAM_API_KEY" in missing.stderr
    down = _dashcam([*args[:2], f"http://127.0.0.1:{free_port()}", *args[3:], "--key", "x"], cli_env)
    assert down.returncode == 1 and "cannot reach" in down.stderr


def test_unreachable_prefect_is_a_field_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from webui.api import prefect

    monkeypatch.setenv("DASHCAM_API_PREFECT_TIMEOUT_S", "2")
    found, info = prefect.workers(f"http://127.0.0.1:{free_port()}/api", ["edge"])
    assert found == {} and info.configured and not info.available and info.error
    states, info = prefect.flow_run_states(None, ["x"])
    assert states == {} and not info.configured and info.error
