"""`dashcam run`'s own temporary Prefect server: booted in the background, used by the flows of the block,
stopped on the way out; a server that cannot start is a one-line error with its own last words."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from prefect import flow

from flows.local_server import LocalPrefect, LocalPrefectError, booted_early, using


@flow(name="local-prefect-probe")
def _probe(x: int) -> int:
    return x * 2


def test_flows_in_the_block_run_on_the_early_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with booted_early() as server:
        assert isinstance(server, LocalPrefect)
        with using(server):
            assert _probe(21) == 42
        api = server.api_url
        runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 10}, timeout=10).json()
        assert [(r["name"] != "", r["state_type"]) for r in runs] == [(True, "COMPLETED")]
        assert (tmp_path / "prefect" / "prefect.db").is_file()  # the state lives under PREFECT_HOME
    with pytest.raises(httpx.ConnectError):  # stopped with the block
        httpx.get(f"{api}/health", timeout=2)


def test_a_configured_server_is_left_to_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with booted_early() as server:
        assert server is None


def test_a_server_that_cannot_start_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    url = f"sqlite+aiosqlite:///{blocker}/prefect.db"
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", url)
    server = LocalPrefect().start()
    try:
        with pytest.raises(LocalPrefectError, match="exited with code") as err:
            server.wait(timeout=90)
    finally:
        server.stop()
    assert "\n" not in str(err.value) and os.fspath(blocker) in str(err.value)


def test_a_database_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.local_server import _database

    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://prefect:s3cret@db:5432/p")
    assert _database() == "postgresql+asyncpg://prefect:***@db:5432/p"
