"""`dashcam search` against the embedded default database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.config import load_config
from dashcam.db.session import ensure_schema, make_engine, session_scope
from tests.search.seed import seed

runner = CliRunner()


def _seeded(data_dir: Path) -> None:
    url = load_config().database_url()
    assert str(data_dir) in url
    ensure_schema(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        seed(s)
    engine.dispose()


def test_search_table_and_json(data_dir: Path) -> None:
    _seeded(data_dir)
    res = runner.invoke(app, ["search", "--plate", "AB12COE"])
    assert res.exit_code == 0, res.output
    assert "AB12CDE" in res.output and "confusion" in res.output and "of 3" in res.output
    res = runner.invoke(app, ["search", "--plate", "AB12CDE", "--fuzzy", "2", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["total"] == 5
    assert [h["match"] for h in doc["hits"]] == ["exact", "exact", "confusion", "edits", "edits"]
    assert doc["hits"][-1]["edits"] == 2 and doc["hits"][0]["time_utc"].startswith("2024-05-01T12:00:00")


def test_search_filters(data_dir: Path) -> None:
    _seeded(data_dir)
    res = runner.invoke(app, ["search", "--near", "48.137,11.575,100", "--label", "car", "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(h["plate"] for h in json.loads(res.stdout)["hits"]) == ["AB12CDE", "KL55MNO"]
    res = runner.invoke(app, ["search", "--since", "2024-05-02", "--until", "2024-05-03", "--json"])
    assert [h["plate"] for h in json.loads(res.stdout)["hits"]] == ["A812CDE", "AB12CDE", None]  # a whole day
    res = runner.invoke(app, ["search", "--plate", "NOPE99", "--reindex"])
    assert res.exit_code == 0 and "no sightings match" in res.output and "6 plates" in res.output


def test_search_errors(data_dir: Path) -> None:
    for args, message in [
        (["--near", "48.1,11.5"], "LAT,LON,METRES"),
        (["--near", "48.1,11.5,-5"], "metres > 0"),
        (["--since", "yesterday"], "ISO date"),
        (["--plate", "--"], "no letters or digits"),
        (["--fuzzy", "3"], "less than or equal to 2"),
        (["--pattern", "(?=AB)AB12CDE"], "only (?: ) groups are allowed"),
        (["--pattern", "A" * 65], "at most 64 are allowed"),
    ]:
        res = runner.invoke(app, ["search", *args])
        assert res.exit_code != 0, args
        assert message in res.output, (args, res.output)
