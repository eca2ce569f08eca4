"""The REST API against a hostile client, over real HTTP on loopback (issue 25).

Each test reproduces one finding. Tests that must not slow later ones down connect from their own
loopback address (127.0.0.N): the throttle counts per client address.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import DEVICE, ApiServer
from tests.webui.seeding import PASSWORD, USERNAME

STALL = "(?:" + "|".join(["."] * 28) + ")*Q"  # hours for a backtracking engine, nothing for RE2


def _sql(api: ApiServer, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(api.db_url)
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        rows = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return rows


def _dashcam(api: ApiServer, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**api.env, **({"DASHCAM_UI_PASSWORD": password} if password else {})}
    return subprocess.run(
        [sys.executable, "-c", "from dashcam.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


# ---------------------------------------------------------------- patterns


@pytest.mark.timeout(90)
def test_a_pattern_search_cannot_hold_the_server(api: ApiServer, user: httpx.Client) -> None:
    """The stall pattern answers at once, and other requests are served meanwhile (no GIL held for hours)."""
    answers: dict[str, int] = {}

    def pattern() -> None:
        answers["pattern"] = user.get("/api/v1/search", params={"plate_pattern": STALL}).status_code

    worker = threading.Thread(target=pattern)
    worker.start()
    with api.client(api.tokens["user"]) as other:
        assert other.get("/api/v1/clips").status_code == 200
    worker.join(60)
    assert answers == {"pattern": 200}
    r = user.get("/api/v1/search", params={"plate_pattern": "(?=AB)AB12CDE"})
    assert r.status_code == 422 and "only (?: ) groups" in r.text
    assert user.get("/api/v1/search", params={"plate_pattern": "A" * 65}).status_code == 422


@pytest.mark.timeout(90)
def test_a_stored_watchlist_pattern_cannot_stall_a_page(api: ApiServer, user: httpx.Client) -> None:
    _sql(
        api,
        "INSERT INTO watchlist (name, pattern, mode, max_edits, created_at) "
        "VALUES ('stall', :p, 'pattern', 0, CURRENT_TIMESTAMP)",
        p=STALL,
    )
    try:
        r = user.get("/api/v1/plates/AB12CDE")
        assert r.status_code == 200 and r.json()["watchlist"] == []
    finally:
        _sql(api, "DELETE FROM watchlist WHERE name = 'stall'")


# ---------------------------------------------------------------- revocation


def test_deleting_a_user_or_resetting_the_password_ends_their_tokens(api: ApiServer) -> None:
    assert _dashcam(api, "ui", "--create-user", "bob", password="bob's first password").returncode == 0
    with api.client(source="127.0.0.11") as c:
        first = c.post("/api/v1/auth/token", json={"username": "bob", "password": "bob's first password"})
    assert first.status_code == 200
    with api.client(first.json()["access_token"]) as bob:
        assert bob.get("/api/v1/clips").status_code == 200
        reset = _dashcam(
            api, "ui", "--create-user", "bob", "--reset-password", password="bob's second password"
        )
        assert reset.returncode == 0, reset.stderr
        assert bob.get("/api/v1/clips").status_code == 401  # the old password's token ended
    with api.client(source="127.0.0.11") as c:
        second = c.post("/api/v1/auth/token", json={"username": "bob", "password": "bob's second password"})
    assert second.status_code == 200
    listed = _dashcam(api, "ui", "--list-users")
    assert listed.returncode == 0 and "bob" in listed.stdout and USERNAME in listed.stdout
    deleted = _dashcam(api, "ui", "--delete-user", "bob")
    assert deleted.returncode == 0 and "deleted user bob" in deleted.stdout
    with api.client(second.json()["access_token"]) as bob:
        r = bob.get("/api/v1/clips")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    again = _dashcam(api, "ui", "--delete-user", "bob")
    assert again.returncode != 0 and "no user 'bob'" in again.stderr


# ---------------------------------------------------------------- device keys


def test_device_keys_are_hmac_and_old_argon2_keys_still_work_once_rehashed(api: ApiServer) -> None:
    from argon2 import PasswordHasher

    stored = dict(_sql(api, "SELECT key_id, key_hash FROM api_key"))
    assert all(h.startswith("hmac-sha256$") for h in stored.values())  # type: ignore[union-attr]
    legacy = f"dk_0123456789ab_{'L' * 43}"
    _sql(
        api,
        "INSERT INTO api_key (device, key_id, key_hash, created_at) VALUES (:d, '0123456789ab', :h, CURRENT_TIMESTAMP)",
        d=DEVICE,
        h=PasswordHasher().hash(legacy),
    )
    with api.client(source="127.0.0.12") as c:
        assert c.post("/api/v1/auth/token", json={"api_key": legacy}).status_code == 200
        rehashed = _sql(api, "SELECT key_hash FROM api_key WHERE key_id = '0123456789ab'")[0][0]
        assert str(rehashed).startswith("hmac-sha256$")
        assert c.post("/api/v1/auth/token", json={"api_key": legacy}).status_code == 200


@pytest.mark.timeout(120)
def test_bogus_api_keys_cost_no_memory_and_are_throttled(api: ApiServer) -> None:
    """100 concurrent bogus keys: once a 64 MiB argon2 hash each (the server's peak grew by 800 MiB)."""
    Path(f"/proc/{api.pid}/clear_refs").write_text("5")  # restart the peak (VmHWM) from the current size
    before = _status_kib(api.pid, "VmRSS")

    def bogus(i: int) -> httpx.Response:
        with api.client(source="127.0.0.13") as c:
            return c.post("/api/v1/auth/token", json={"api_key": f"dk_0123456789ab_{i:043d}"})

    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(bogus, range(100)))
    grown_mib = (_status_kib(api.pid, "VmHWM") - before) / 1024
    assert grown_mib < 64, f"the server's peak memory grew by {grown_mib:.0f} MiB"
    codes = {r.status_code for r in answers}
    assert codes <= {401, 429} and 429 in codes
    limited = next(r for r in answers if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1


# ---------------------------------------------------------------- throttling


def test_a_stranger_cannot_lock_the_owner_out(api: ApiServer) -> None:
    with api.client(source="127.0.0.14") as stranger:
        codes = [
            stranger.post(
                "/api/v1/auth/token", json={"username": USERNAME, "password": "wrong guess"}
            ).status_code
            for _ in range(6)
        ]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        held = stranger.post("/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
        assert held.status_code == 429 and int(held.headers["retry-after"]) >= 1  # even with the password
    with api.client(source="127.0.0.15") as owner:
        r = owner.post("/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
    assert r.status_code == 200


def test_x_forwarded_for_from_an_untrusted_client_is_ignored(api: ApiServer) -> None:
    with api.client() as c:
        r = c.post(
            "/api/v1/auth/token",
            json={"username": "nobody-xff", "password": "wrong guess"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert r.status_code == 401
    recorded = _sql(api, "SELECT remote FROM ui_login_attempt WHERE username = 'nobody-xff'")
    assert recorded == [("127.0.0.1",)]


# ---------------------------------------------------------------- headers and docs


def test_api_docs_work_offline_from_local_assets(api: ApiServer) -> None:
    with api.client() as c:
        page = c.get("/api/v1/docs")
        assert page.status_code == 200
        assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert f"/api/v1/docs/static/{asset}" in page.text
            r = c.get(f"/api/v1/docs/static/{asset}")
            assert r.status_code == 200 and len(r.content) > 100_000
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_every_answer_carries_the_security_headers(api: ApiServer, user: httpx.Client) -> None:
    for r in (user.get("/api/v1/clips"), user.get("/api/v1/clips/999999"), httpx.get(api.url + "/login")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def _ws_handshake(url: str, origin: str) -> int:
    """The HTTP status a socket.io websocket upgrade from a page at ``origin`` gets (101: accepted)."""
    import base64
    import os
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc
    request = (
        "GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    hostname, port = host.split(":")
    with socket.create_connection((hostname, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_socket_io_accepts_only_the_sites_own_origin(api: ApiServer) -> None:
    assert _ws_handshake(api.url, "http://evil.example") != 101
    assert _ws_handshake(api.url, api.url) == 101
