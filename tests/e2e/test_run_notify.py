"""On one machine, being told: `dashcam run` over a drive whose plate is on the watchlist ends with a line
for the hit and sends it through the Apprise URL in DASHCAM_NOTIFY_URL, here to a real webhook server."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support import models_dir, run_dashcam, user_env
from tests.webhook import Webhook

pytestmark = pytest.mark.slow


def test_a_watchlist_hit_is_listed_and_sent(tmp_path: Path) -> None:
    from dashcam.synth import synthesize

    card = tmp_path / "card"
    made = synthesize(
        card,
        seconds=14,
        fps=10,
        size=(960, 540),
        plates=["AB12CDE"],
        seed=3,
        viofo_name=True,
        preset="ultrafast",
    )
    shutil.move(made.truth_path, tmp_path / made.truth_path.name)
    data = tmp_path / "data"
    hook = Webhook()
    try:
        env = user_env(
            tmp_path / "home",
            DASHCAM_DATA_DIR=str(data),
            DASHCAM_MODELS_DIR=str(models_dir()),
            DASHCAM_NOTIFY_URL=hook.url.replace("http://", "json://"),
        )
        assert run_dashcam(["db", "upgrade"], cwd=tmp_path, env=env).returncode == 0
        with sqlite3.connect(data / "dashcam.db") as c:  # on the watchlist, within one edit
            c.execute(
                "insert into watchlist (name, pattern, mode, max_edits, created_at) "
                "values ('stolen van', 'AB12CDE', 'edits', 1, '2024-01-01 00:00:00')"
            )
        res = run_dashcam(["run", str(card)], cwd=tmp_path, env=env)
        assert res.returncode == 0, res.stderr
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("watchlist: ")]
        assert len(lines) >= 1, res.stdout
        assert "(stolen van) seen " in lines[0] and made.path.name in lines[0]
        assert hook.arrived.wait(30), "nothing reached the notification URL"
        (msg,) = hook.received
        assert "watchlist sighting" in msg["title"] and lines[0] in msg["message"]
    finally:
        hook.stop()
