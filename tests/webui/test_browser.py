"""The key path in a real browser (headless Debian chromium): log in, search, open, play, see the map."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashcam.procs import end_process, free_port
from tests.webui.live import chromium
from tests.webui.seeding import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS_ENV = "DASHCAM_SCREENSHOTS_DIR"
"""Also copy the screenshots here (e.g. docs/screenshots when refreshing the README's pictures)."""


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"dashcam ui exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}"
            )  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


@pytest.fixture
def server(webui_env: tuple[Path, dict[str, int]]) -> Iterator[str]:
    port = free_port()
    # a real server, not NiceGUI's test mode (which it picks up from PYTEST_CURRENT_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dashcam.cli import main; main()", "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/login", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        end_process(proc, timeout=15)


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as driver:
        yield driver


def test_key_path_in_a_real_browser(
    server: str, browser: object, ids: dict[str, int], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d: WebDriver = browser  # type: ignore[assignment]
    wait = WebDriverWait(d, 20)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    def shot(name: str) -> None:
        time.sleep(0.3)  # let transitions and images settle for the picture (not a synchronisation)
        d.save_screenshot(str(shots / f"{name}.png"))

    d.get(server + "/")
    assert "/login" in d.current_url  # login is required
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[aria-label="Username"]'))).send_keys(
        USERNAME
    )
    d.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(PASSWORD + Keys.ENTER)

    box = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[placeholder^="Plate"]')))
    box.send_keys("AB12CDE" + Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "body"), "4 of 4 sightings"))
    card = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'[data-sighting="{ids["exact_hi"]}"]')))
    wait.until(lambda _: d.execute_script("return [...document.images].every(i => i.complete)"))
    shot("search")
    card.click()

    wait.until(ec.url_contains(f"/sighting/{ids['exact_hi']}"))
    video = wait.until(ec.presence_of_element_located((By.TAG_NAME, "video")))
    wait.until(lambda _: d.execute_script("return arguments[0].readyState >= 1", video))
    # the media fragment (#t=2.0) put the player at the sighting's second
    assert abs(d.execute_script("return arguments[0].currentTime", video) - 2.0) < 0.05
    d.execute_async_script(
        "const [v, done] = arguments; v.muted = true; v.play().then(() => done(true), e => done(String(e)));",
        video,
    )
    wait.until(lambda _: d.execute_script("return arguments[0].currentTime", video) > 2.2)
    t = d.execute_script("return arguments[0].currentTime", video)
    assert 2.0 < t < 6.0
    assert not d.execute_script("return arguments[0].error", video)
    markers = wait.until(
        lambda _: d.find_elements(By.CSS_SELECTOR, ".leaflet-container .leaflet-marker-icon")
    )
    assert markers
    d.execute_script("arguments[0].pause(); arguments[0].currentTime = 2.0", video)
    shot("sighting")

    d.get(server + "/map")
    wait.until(
        lambda _: d.find_elements(
            By.CSS_SELECTOR, ".leaflet-container .leaflet-interactive, .leaflet-marker-icon"
        )
    )
    shot("map")
    d.get(server + "/plates")
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "body"), "AB12CDE"))
    shot("plates")

    for png in shots.glob("*.png"):
        assert png.stat().st_size > 10_000
    if os.environ.get(SHOTS_ENV):
        out = Path(os.environ[SHOTS_ENV])
        out.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, out / png.name)
