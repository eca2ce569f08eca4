"""The web UI against a hostile user: a real `dashcam ui` on loopback and a real headless chromium (issue 25).

Each test reproduces one finding: files outside the storage areas, ids past the database's range,
non-Latin-1 download names, the open redirect after login, sessions that outlive their account,
framing, a page that breaks under the CSP, the /setup race, TLS cookies behind a proxy, `--host`.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, text

from dashcam.procs import free_port
from tests.webui.conftest import SECRET
from tests.webui.live import chromium, cookies, csp_reports, dashcam, log_in, server_env, ui_server
from tests.webui.seeding import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Live:
    url: str
    env: dict[str, str]
    data: Path
    ids: dict[str, int]

    def sql(self, statement: str, **params: object) -> list[tuple[Any, ...]]:
        engine = create_engine(f"sqlite:///{self.data / 'dashcam.db'}")
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            rows = [tuple(r) for r in result] if result.returns_rows else []
        engine.dispose()
        return rows


def _env(data: Path, config_dir: Path | None = None) -> dict[str, str]:
    env = server_env(
        DASHCAM_DATA_DIR=str(data),
        DASHCAM_SECRET_KEY=SECRET,
        DASHCAM_UI_TILE_URL="none",
        DASHCAM_DEVICE="ui-test",
    )
    for name in ("DASHCAM_CONFIG_DIR", "DASHCAM_DATABASE_URL", "PREFECT_API_URL"):
        env.pop(name, None)
    if config_dir is not None:
        env["DASHCAM_CONFIG_DIR"] = str(config_dir)
    return env


@contextmanager
def _live(
    seeded: tuple[Path, dict[str, int]], root: Path, config: dict[str, Any] | None = None
) -> Iterator[Live]:
    template, ids = seeded
    data = root / "data"
    shutil.copytree(template, data)
    config_dir = None
    if config is not None:
        config_dir = root / "config"
        config_dir.mkdir()
        (config_dir / "config.json").write_text(json.dumps(config))
    env = _env(data, config_dir)
    with ui_server(env, root / "server.log") as (url, _):
        yield Live(url, env, data, ids)


@pytest.fixture(scope="module")
def live(
    seeded_template: tuple[Path, dict[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    with _live(seeded_template, tmp_path_factory.mktemp("hostile")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def _logged_in(driver: Any, live: Live, target: str = "/") -> dict[str, str]:
    """Log ``driver`` in (once per server) and return its cookies for plain HTTP requests."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(live.url + target)
    if "/login" in driver.current_url:
        log_in(driver, driver.current_url, USERNAME, PASSWORD)
        WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)
    return cookies(driver)


def _media(live: Live, key: str, *, clip_id: int | None = None) -> int:
    rows = live.sql(
        "INSERT INTO media (clip_id, kind, key, area, mime, size_bytes, sha256, created_at) "
        "VALUES (:c, 'clip_web', :k, 'heavy_output', 'video/mp4', 1, :h, CURRENT_TIMESTAMP) RETURNING id",
        c=clip_id or live.ids["clip_front"],
        k=key,
        h="0" * 64,
    )
    return int(rows[0][0])


# ---------------------------------------------------------------- files


def test_links_planted_in_a_storage_area_are_not_followed(live: Live, browser: Any, tmp_path: Path) -> None:
    jar = _logged_in(browser, live)
    outside = tmp_path / "outside.txt"
    outside.write_text("SECRET-OUTSIDE-THE-DATA-DIR")
    area = live.data / "heavy_output"
    (area / "planted").mkdir()
    (area / "planted" / "to-file.mp4").symlink_to(outside)
    (area / "planted" / "to-passwd.mp4").symlink_to("/etc/passwd")
    (area / "linked-dir").symlink_to(tmp_path)  # a symlinked folder: the file under it is a real file
    (area / "planted" / "relative.mp4").symlink_to("../../../" + "../" * 10 + "etc/passwd")
    planted = [
        _media(live, "planted/to-file.mp4"),
        _media(live, "planted/to-passwd.mp4"),
        _media(live, "linked-dir/outside.txt"),
        _media(live, "planted/relative.mp4"),
    ]
    with httpx.Client(base_url=live.url, cookies=jar, timeout=30) as c:
        for media_id in planted:
            for route in ("media", "download"):
                r = c.get(f"/{route}/{media_id}")
                assert r.status_code == 404, (route, media_id, r.status_code)
                assert b"SECRET-OUTSIDE" not in r.content and b"root:" not in r.content
        # the real files still go out, with Range and an ETag (Starlette's FileResponse)
        whole = c.get(f"/media/{live.ids['video']}")
        assert whole.status_code == 200 and whole.headers["etag"] and whole.content[4:8] == b"ftyp"
        part = c.get(f"/media/{live.ids['video']}", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]


def test_ids_past_the_databases_range_are_404(live: Live, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    jar = _logged_in(browser, live)
    huge = 2**63
    with httpx.Client(base_url=live.url, cookies=jar, timeout=30) as c:
        for path in (f"/media/{huge}", f"/download/{huge}", f"/gpx/{huge}", f"/media/{10**30}"):
            assert c.get(path).status_code == 404, path
    browser.get(f"{live.url}/sighting/{huge}")
    WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "No sighting"))
    assert "Overflow" not in browser.page_source and "Traceback" not in browser.page_source


def test_any_file_name_can_be_downloaded(live: Live, browser: Any) -> None:
    jar = _logged_in(browser, live)
    live.sql("UPDATE clip SET file_name = :n WHERE id = :i", n="车牌🚗 “x”.mp4", i=live.ids["clip_front"])
    with httpx.Client(base_url=live.url, cookies=jar, timeout=30) as c:
        r = c.get(f"/download/{live.ids['video']}")
        gpx = c.get(f"/gpx/{live.ids['clip_front']}")
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    assert "filename*=utf-8''%E8%BD%A6%E7%89%8C%F0%9F%9A%97" in r.headers["content-disposition"]
    assert gpx.status_code == 200 and "filename*=utf-8''" in gpx.headers["content-disposition"]


# ---------------------------------------------------------------- redirect, framing, CSP


@pytest.mark.parametrize(
    "sneaky", ["%2F%09%2Fevil.example%2F", "%2F%0A%2Fevil.example%2F", "%5C%5Cevil.example"]
)
def test_the_login_never_sends_the_browser_to_another_site(
    seeded_template: tuple[Path, dict[str, int]], tmp_path: Path, sneaky: str
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    with _live(seeded_template, tmp_path) as server, chromium() as driver:
        log_in(driver, f"{server.url}/login?redirect_to={sneaky}", USERNAME, PASSWORD)
        WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)
        assert urlsplit(driver.current_url).netloc == urlsplit(server.url).netloc, driver.current_url


def test_another_page_cannot_frame_the_ui(live: Live, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _logged_in(browser, live)
    (tmp_path / "frame.html").write_text(
        f'<html><body><iframe id="f" src="{live.url}/plates"></iframe></body></html>'
    )
    port = free_port()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{port}/frame.html")  # another origin: another port of the same host
        frame = browser.find_element(By.ID, "f")
        browser.switch_to.frame(frame)
        framed = browser.find_elements(
            By.CSS_SELECTOR, "input, table"
        )  # the login form or the plates, if shown
        source = browser.page_source
        browser.switch_to.default_content()
    finally:
        evil.shutdown()
    assert not framed and "Dashcam" not in source
    assert any("frame-ancestors" in m for m in csp_reports(browser))


def test_every_page_works_under_the_content_security_policy(live: Live, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    _logged_in(browser, live)
    csp_reports(browser)  # drop what came before
    browser.get(live.url + "/")
    box = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[placeholder^="Plate"]')))
    box.send_keys("AB12CDE" + Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "4 of 4 sightings"))
    browser.get(f"{live.url}/sighting/{live.ids['exact_hi']}")
    video = wait.until(ec.presence_of_element_located((By.TAG_NAME, "video")))
    wait.until(lambda _: browser.execute_script("return arguments[0].readyState >= 1", video))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-container .leaflet-marker-icon"))
    for path, shown in (("/map", ".leaflet-container"), ("/plates", "table"), ("/timeline", "canvas")):
        browser.get(live.url + path)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, shown)))
    browser.get(live.url + "/status")
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Clips per stage"))
    # Swagger UI from the site's own files, with no network beyond the site
    browser.get(live.url + "/api/v1/docs")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info")))
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(live.url) for r in resources), resources
    assert csp_reports(browser) == []


# ---------------------------------------------------------------- sessions


@pytest.mark.parametrize("how", ["delete", "reset"])
def test_a_session_ends_with_its_account_or_password(
    seeded_template: tuple[Path, dict[str, int]], tmp_path: Path, how: str
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    with _live(seeded_template, tmp_path) as server, chromium() as driver:
        # a second account, so that the login (not the first-account setup) is where a lost session lands
        made = dashcam(
            {**server.env, "DASHCAM_UI_PASSWORD": "the admin's password"}, "ui", "--create-user", "admin"
        )
        assert made.returncode == 0, made.stderr
        jar = _logged_in(driver, server, "/plates")
        with httpx.Client(base_url=server.url, cookies=jar, timeout=30) as c:
            assert c.get(f"/media/{server.ids['crop']}").status_code == 200
            if how == "delete":
                done = dashcam(server.env, "ui", "--delete-user", USERNAME)
            else:
                done = dashcam(
                    {**server.env, "DASHCAM_UI_PASSWORD": "a brand new password"},
                    "ui",
                    "--create-user",
                    USERNAME,
                    "--reset-password",
                )
            assert done.returncode == 0, done.stderr
            # the open tab leaves by itself (its periodic check) ...
            WebDriverWait(driver, 30).until(lambda d: "/login" in d.current_url)
            # ... and the old cookie opens nothing any more
            assert c.get(f"/media/{server.ids['crop']}").status_code == 401
            page = c.get("/plates", follow_redirects=False)
            assert page.status_code in (302, 303, 307) and "/login" in page.headers["location"]
        driver.get(server.url + "/plates")
        assert "/login" in driver.current_url


def test_setup_creates_only_the_first_account_whoever_asks_first(tmp_path: Path) -> None:
    """A /setup tab opened before the admin made an account from the CLI cannot add a second one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    env = _env(tmp_path / "data")
    with ui_server(env, tmp_path / "server.log") as (url, _), chromium() as driver:
        driver.get(url + "/setup")
        wait = WebDriverWait(driver, 20)
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[aria-label="Username"]')))
        made = dashcam({**env, "DASHCAM_UI_PASSWORD": "the admin's password"}, "ui", "--create-user", "admin")
        assert made.returncode == 0, made.stderr
        driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Username"]').send_keys("mallory")
        driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys("mallory's password")
        driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Repeat password"]').send_keys(
            "mallory's password"
        )
        driver.find_element(By.XPATH, "//button[contains(., 'Create account')]").click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "an account exists already"))
        users = dashcam(env, "ui", "--list-users", "--json")
    assert [u["username"] for u in json.loads(users.stdout)] == ["admin"]


# ---------------------------------------------------------------- proxies, TLS, --host, secret


def test_tls_and_client_address_are_believed_only_from_trusted_proxies(
    seeded_template: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with _live(seeded_template, tmp_path / "untrusted") as server:
        r = httpx.get(server.url + "/login", headers=forwarded)
        assert r.headers["set-cookie"] and "secure" not in r.headers["set-cookie"].lower()
    with _live(
        seeded_template, tmp_path / "trusted", {"webui": {"trusted_proxies": ["127.0.0.1"]}}
    ) as server:
        r = httpx.get(server.url + "/login", headers=forwarded)
        assert "; secure" in r.headers["set-cookie"].lower()
        assert "secure" not in httpx.get(server.url + "/login").headers["set-cookie"].lower()  # plain HTTP
        httpx.post(
            server.url + "/api/v1/auth/token",
            json={"username": "x-proxy", "password": "wrong one"},
            headers=forwarded,
        )
        assert server.sql("SELECT remote FROM ui_login_attempt WHERE username = 'x-proxy'") == [
            ("203.0.113.7",)
        ]


def test_a_non_loopback_host_gets_a_warning(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    # TEST-NET-1: no machine has it, so the bind fails after the warning and nothing is exposed
    done = dashcam(env, "ui", "--host", "192.0.2.1", "--port", str(free_port()))
    assert "warning: binding 192.0.2.1, not loopback" in done.stderr and "infra/nginx" in done.stderr
    quiet = dashcam(
        {**env, "DASHCAM_SECRET_KEY": "a" * 16}, "ui", "--host", "127.0.0.1", "--port", str(free_port())
    )
    assert quiet.returncode != 0 and "warning" not in quiet.stderr


def test_a_low_entropy_secret_key_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    for weak in ("a" * 16, "abcdabcdabcdabcdabcd", "0123456789abcdef0123"):
        done = dashcam({**env, "DASHCAM_SECRET_KEY": weak}, "ui", "--port", str(free_port()))
        assert done.returncode != 0 and "DASHCAM_SECRET_KEY looks guessable" in done.stderr, weak
        assert weak not in done.stderr  # never echo the secret
