"""A date a person types means the camera's own day: a drive recorded at 00:30 local time, UTC+2 (22:30 UTC
the day before), is found under its local date by `dashcam search`, the search box and the API, shown with
its offset, and under the UTC date only when UTC is asked for."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from dashcam.search import SearchQuery, search
from tests.support import models_dir, run_dashcam, user_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def after_midnight(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """`dashcam run` over a drive that starts at 00:30 on 2024-05-18 on a camera set to UTC+2."""
    from dashcam.synth import synthesize

    root = tmp_path_factory.mktemp("local")
    card = root / "card"
    made = synthesize(
        card,
        seconds=14,
        fps=10,
        size=(960, 540),
        plates=["AB12CDE"],
        seed=3,
        viofo_name=True,
        start_utc=datetime(2024, 5, 17, 22, 30, tzinfo=timezone.utc),
        utc_offset_hours=2,
        preset="ultrafast",
    )
    assert made.path.name.startswith("2024_0518_003000")
    shutil.move(made.truth_path, root / made.truth_path.name)
    env = user_env(root / "home", DASHCAM_DATA_DIR=str(root / "data"), DASHCAM_MODELS_DIR=str(models_dir()))
    res = run_dashcam(["run", str(card), "--no-archive"], cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    return {"root": root, "env": env}


def _search(ctx: dict[str, object], *args: str) -> list[dict[str, object]]:
    res = run_dashcam(["search", *args, "--json"], cwd=ctx["root"], env=ctx["env"])  # type: ignore[arg-type]
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["hits"]


def test_the_cli_finds_it_under_its_local_date(after_midnight: dict[str, object]) -> None:
    local = _search(after_midnight, "--from", "2024-05-18", "--to", "2024-05-18")
    assert local, "nothing found on the camera's own day"
    for hit in local:
        assert hit["time_local"].startswith("2024-05-18T00:3")
        assert hit["utc_offset_s"] == 7200
        assert hit["time_utc"].startswith("2024-05-17T22:3")
    assert _search(after_midnight, "--from", "2024-05-17", "--to", "2024-05-17") == []
    # asked in UTC, the same sightings are on the 17th
    assert len(_search(after_midnight, "--from", "2024-05-17", "--to", "2024-05-17", "--utc")) == len(local)
    assert _search(after_midnight, "--from", "2024-05-18", "--to", "2024-05-18", "--utc") == []
    # an instant with its offset means that instant, whatever --utc says
    assert len(
        _search(after_midnight, "--from", "2024-05-18T00:00:00+02:00", "--to", "2024-05-18T01:00:00+02:00")
    ) == len(local)


def test_the_search_box_and_the_api_read_dates_the_same_way(
    after_midnight: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from webui.api.common import instant_or_local
    from webui.querytext import parse

    engine = create_engine(f"sqlite:///{Path(str(after_midnight['root'])) / 'data' / 'dashcam.db'}")
    try:
        with Session(engine) as s:
            box = parse("2024-05-18", today=date(2024, 6, 1))
            assert box.fields == {"local_since": datetime(2024, 5, 18), "local_until": datetime(2024, 5, 19)}
            found = search(session=s, query=SearchQuery(**box.fields)).hits
            assert found and all(h.time_local and h.time_local.startswith("2024-05-18") for h in found)
            utc_box = parse("2024-05-18 utc", today=date(2024, 6, 1))
            assert "times in UTC" in utc_box.chips
            assert search(session=s, query=SearchQuery(**utc_box.fields)).hits == []
    finally:
        engine.dispose()
    # the API's since/until: no zone means the camera's clock, a zone (or utc=true) an instant
    assert instant_or_local(datetime(2024, 5, 18), "since", utc=False) == (None, datetime(2024, 5, 18))
    assert instant_or_local(datetime(2024, 5, 18), "since", utc=True) == (
        datetime(2024, 5, 18, tzinfo=timezone.utc),
        None,
    )
