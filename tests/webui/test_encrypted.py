"""The web UI and the API on an encrypted installation, in a real `dashcam ui` and a real headless chromium:
the database under SQLCipher and every medium sealed in the archive. Search, the sighting page's images and
its video (the browser seeks by Range) work; a Range request gets exactly its bytes; a tampered or cut
object is a 500 and a line in the server's log, never served."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from dashcam.crypt.sealed import CHUNK, HEADER_LEN, MAGIC
from tests.webui.live import chromium, cookies, dashcam, log_in, server_env, ui_server
from tests.webui.seeding import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _long_clip(path: Path) -> bytes:
    """A sighting clip of many 64 KiB chunks (the seeded one fits in one), so ranges cross chunk borders:
    coarse noise keeps the encoder from squeezing it."""
    import cv2
    import numpy as np

    from dashcam.video.encode import write_mp4

    rng = np.random.default_rng(28)

    def frames() -> Iterator[Any]:
        for i in range(60):
            small = rng.integers(0, 255, (45, 80, 3), dtype=np.uint8)
            img = cv2.resize(small, (320, 180), interpolation=cv2.INTER_NEAREST)
            cv2.putText(img, f"t={i / 10:.1f}s", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
            yield img

    write_mp4(path, frames(), fps=10.0, gop=10)
    return path.read_bytes()


def _encrypt(data: Path, env: dict[str, str], video_id: int) -> dict[int, bytes]:
    """Encrypt the seeded copy as a user would: `dashcam db encrypt`, then every medium into the sealed
    archive (what the archive stage does). Returns each medium's plain bytes by id."""
    from dashcam.config import load_config
    from dashcam.db.models import Media
    from dashcam.db.session import _cached_engine, get_engine, session_scope
    from dashcam.settings import Settings
    from dashcam.storage import Storage

    res = dashcam(env, "db", "encrypt")
    assert res.returncode == 0, res.stderr
    config = load_config(Settings.from_env(env))
    storage = Storage(config)
    heavy, archive = storage["heavy_output"], storage["archive"]
    plain: dict[int, bytes] = {}
    engine = get_engine(config)
    with session_scope(engine) as s:
        for m in s.execute(select(Media)).scalars():
            if m.id == video_id:
                clip = _long_clip(heavy.path(m.key))
                m.size_bytes, m.sha256 = len(clip), hashlib.sha256(clip).hexdigest()
            plain[int(m.id)] = heavy.path(m.key).read_bytes()  # type: ignore[arg-type]
            archive.put_file(m.key, heavy.path(m.key))
            heavy.delete(m.key)
        s.execute(update(Media).values(area="archive"))
    engine.dispose()
    _cached_engine.cache_clear()
    return plain


@pytest.fixture(scope="module")
def live(
    seeded_template: tuple[Path, dict[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    import shutil

    template, ids = seeded_template
    root = tmp_path_factory.mktemp("encrypted")
    data = root / "data"
    shutil.copytree(template, data)
    env = server_env(
        DASHCAM_DATA_DIR=str(data),
        DASHCAM_SECRET_KEY="test-secret-0123456789abcdef-encrypted",
        DASHCAM_UI_TILE_URL="none",
        DASHCAM_DB_KEY=secrets.token_urlsafe(32),
        DASHCAM_ARCHIVE_KEY=secrets.token_urlsafe(32),
    )
    for name in ("DASHCAM_CONFIG_DIR", "DASHCAM_DATABASE_URL", "PREFECT_API_URL"):
        env.pop(name, None)
    plain = _encrypt(data, env, ids["video"])
    log = root / "server.log"
    with ui_server(env, log) as (url, _proc):
        yield {"url": url, "data": data, "ids": ids, "plain": plain, "log": log, "env": env}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def _archive_file(live: dict[str, Any], media_id: int) -> Path:
    from dashcam.config import load_config
    from dashcam.db.models import Media
    from dashcam.db.session import get_engine, session_scope
    from dashcam.settings import Settings

    config = load_config(Settings.from_env(live["env"]))
    with session_scope(get_engine(config)) as s:
        key = s.get(Media, media_id).key  # type: ignore[union-attr]
    return live["data"] / "archive" / key


def test_nothing_on_disk_is_readable(live: dict[str, Any]) -> None:
    db = (live["data"] / "dashcam.db").read_bytes()
    assert b"AB12CDE" not in db and not db.startswith(b"SQLite format 3")
    objects = [p for p in (live["data"] / "archive").rglob("*") if p.is_file()]
    assert len(objects) == len(live["plain"]) >= 5
    for p in objects:
        blob = p.read_bytes()
        assert blob.startswith(MAGIC) and b"JFIF" not in blob and b"ftyp" not in blob, p


def test_search_images_and_video_in_a_real_browser(live: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d, ids = browser, live["ids"]
    wait = WebDriverWait(d, 30)
    log_in(d, live["url"] + "/login", USERNAME, PASSWORD)
    box = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[placeholder^="Plate"]')))
    box.send_keys("AB12CDE" + Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "body"), "4 of 4 sightings"))
    card = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'[data-sighting="{ids["exact_hi"]}"]')))
    # the thumbnails are sealed on disk: the browser decodes what the server decrypted
    wait.until(lambda _: d.execute_script("return [...document.images].every(i => i.complete)"))
    assert d.execute_script(
        "return [...document.images].filter(i => i.src.includes('/media/')).every(i => i.naturalWidth > 0)"
    )
    card.click()
    wait.until(ec.url_contains(f"/sighting/{ids['exact_hi']}"))
    video = wait.until(ec.presence_of_element_located((By.TAG_NAME, "video")))
    wait.until(lambda _: d.execute_script("return arguments[0].readyState >= 1", video))
    d.execute_async_script(
        "const [v, done] = arguments; v.muted = true; v.play().then(() => done(true), e => done(String(e)));",
        video,
    )
    wait.until(lambda _: d.execute_script("return arguments[0].currentTime", video) > 2.2)
    assert not d.execute_script("return arguments[0].error", video)
    crop = wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, '[data-testid="plate-crop"] img, img[src*="/media/"]')
        )
    )
    assert d.execute_script("return arguments[0].naturalWidth", crop) > 0


def _jar(live: dict[str, Any], browser: Any) -> dict[str, str]:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live["url"] + "/")
    if "/login" in browser.current_url:
        log_in(browser, browser.current_url, USERNAME, PASSWORD)
        WebDriverWait(browser, 20).until(lambda d: "/login" not in d.current_url)
    return cookies(browser)


def test_a_range_request_gets_exactly_its_bytes(live: dict[str, Any], browser: Any) -> None:
    vid = live["ids"]["video"]
    plain = live["plain"][vid]
    with httpx.Client(base_url=live["url"], cookies=_jar(live, browser), timeout=30) as c:
        whole = c.get(f"/media/{vid}")
        assert whole.status_code == 200 and whole.content == plain
        assert (
            whole.headers["content-length"] == str(len(plain)) and whole.headers["accept-ranges"] == "bytes"
        )
        n = len(plain)
        for start, end in (
            (0, 0),
            (100, 70_000),
            (CHUNK - 6, CHUNK + 9),
            (CHUNK, 3 * CHUNK - 1),
            (n - 10, n - 1),
        ):
            r = c.get(f"/media/{vid}", headers={"Range": f"bytes={start}-{end}"})
            assert r.status_code == 206, (start, end)
            assert r.headers["content-range"] == f"bytes {start}-{end}/{len(plain)}"
            assert r.content == plain[start : end + 1]
        tail = c.get(f"/media/{vid}", headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == plain[-500:]
        assert c.get(f"/media/{vid}", headers={"Range": f"bytes={len(plain)}-"}).status_code == 416
        crop = c.get(f"/media/{live['ids']['crop']}")
        assert crop.status_code == 200 and crop.content.startswith(b"\xff\xd8\xff")
        assert (
            hashlib.sha256(crop.content).hexdigest()
            == hashlib.sha256(live["plain"][live["ids"]["crop"]]).hexdigest()
        )


def test_the_api_searches_the_encrypted_database(live: dict[str, Any]) -> None:
    from dashcam.config import load_config
    from dashcam.db.session import make_engine, session_scope
    from dashcam.search import SearchQuery, search
    from dashcam.settings import Settings

    with httpx.Client(base_url=live["url"], timeout=30) as c:
        tok = c.post("/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
        assert tok.status_code == 200, tok.text
        r = c.get(
            "/api/v1/search",
            params={"plate": "AB12CDE", "fuzzy": 1},
            headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        )
    assert r.status_code == 200, r.text
    hits = [h["sighting_id"] for h in r.json()["hits"]]
    config = load_config(Settings.from_env(live["env"]))
    engine = make_engine(config.database_url(), config=config)
    with session_scope(engine) as s:
        direct = search(session=s, query=SearchQuery(plate="AB12CDE", fuzzy=1))
    engine.dispose()
    # the same four sightings the web UI lists, in the same order as the query run on the file directly
    assert (
        len(hits) == 4 and hits == [h.sighting_id for h in direct.hits] and hits[0] == live["ids"]["exact_hi"]
    )


def test_tampered_and_cut_objects_are_refused_and_logged(live: dict[str, Any], browser: Any) -> None:
    crop, vid = live["ids"]["crop"], live["ids"]["video"]
    crop_file, vid_file = _archive_file(live, crop), _archive_file(live, vid)
    blob = bytearray(crop_file.read_bytes())
    blob[HEADER_LEN + 7] ^= 0x80
    crop_file.write_bytes(bytes(blob))
    vid_file.write_bytes(vid_file.read_bytes()[:-1])
    with httpx.Client(base_url=live["url"], cookies=_jar(live, browser), timeout=30) as c:
        for mid, rng in ((crop, None), (vid, "bytes=0-100"), (vid, None)):
            r = c.get(f"/media/{mid}", headers={"Range": rng} if rng else {})
            assert r.status_code == 500, (mid, rng)
            assert b"\xff\xd8" not in r.content and b"ftyp" not in r.content
            assert "integrity check" in r.text
    deadline = time.monotonic() + 10
    while "not served" not in live["log"].read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)  # the log line is written by the server process, after its answer
    text = live["log"].read_text(errors="replace")
    assert f"medium {crop} (archive/" in text and "fails its integrity check" in text
    assert f"medium {vid} (archive/" in text and "truncated or appended to" in text
    assert live["env"]["DASHCAM_ARCHIVE_KEY"] not in text and live["env"]["DASHCAM_DB_KEY"] not in text


def test_the_status_page_and_config_show_say_it_is_on_never_the_key(
    live: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    keys = (live["env"]["DASHCAM_DB_KEY"], live["env"]["DASHCAM_ARCHIVE_KEY"])
    _jar(live, browser)
    browser.get(live["url"] + "/status")
    title = (By.XPATH, "//*[text()='Encryption at rest']/..")
    card = WebDriverWait(browser, 30).until(ec.presence_of_element_located(title))
    said = card.text
    assert "database: on: SQLCipher, key from DASHCAM_DB_KEY" in said, said
    assert "archive: on: AES-256-GCM, key from DASHCAM_ARCHIVE_KEY" in said, said
    assert not any(k in browser.page_source for k in keys)

    res = dashcam(live["env"], "config", "show", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["encryption"] == {
        "database": "on: SQLCipher, key from DASHCAM_DB_KEY",
        "archive": "on: AES-256-GCM, key from DASHCAM_ARCHIVE_KEY",
    }
    assert not any(k in res.stdout + res.stderr for k in keys)
