"""The archive and retention flows and commands under a real (test) Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.db.models import StageRun
from dashcam.db.session import session_scope
from dashcam.stages.context import StageContext
from tests.stages.conftest import age, clip_row, make_clip


@pytest.fixture
def ctx(pipeline_env: Path) -> StageContext:
    """The pipeline config with SQLite under the test's data dir."""
    return StageContext.load()


runner = CliRunner()


def test_archive_flow_reports_each_clip_and_refuses_to_retry_a_loss(
    ctx: StageContext, prefect_harness: None
) -> None:
    from flows.archive import archive

    good = make_clip(ctx, "2023_0815_120000_000001F.MP4", archive=False)
    bad = make_clip(ctx, "2023_0815_120100_000002F.MP4", media=1, archive=False)
    with session_scope(ctx.engine) as s:
        from dashcam.db.models import Media

        key = s.execute(select(Media.key).where(Media.clip_id == bad)).scalar_one()
    ctx.storage["heavy_output"].delete(key)

    by_id = {r["clip_id"]: r for r in archive([bad, good])}
    assert by_id[good]["ok"] and by_id[good]["archived"] == 2
    assert not by_id[bad]["ok"] and "lost" in by_id[bad]["error"]
    with session_scope(ctx.engine) as s:
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == bad, StageRun.stage == "archive")
        ).scalar_one()
    assert run.status == "failed" and run.attempts == 1  # a lost file is not retried

    again = {r["clip_id"]: r for r in archive([good])}
    assert again[good]["ok"] and again[good]["skipped"]


def test_archive_and_retention_commands_run_the_flows(ctx: StageContext, prefect_harness: None) -> None:
    pending = make_clip(ctx, "2023_0815_120000_000001F.MP4", archive=False)
    res = runner.invoke(app, ["archive", "--all-pending", "--json"])
    assert res.exit_code == 0, res.output
    (doc,) = json.loads(res.stdout)
    assert doc["clip_id"] == pending and doc["ok"] and doc["archived"] == 2
    res = runner.invoke(app, ["archive", "--all-pending"])
    assert res.exit_code == 0 and "nothing to archive" in res.stdout
    res = runner.invoke(app, ["archive"])
    assert res.exit_code == 1 and "give clip ids or --all-pending" in res.output

    age(ctx, pending, 400)
    raw_key = clip_row(ctx, pending).raw_key
    size = ctx.storage["raw"].size(raw_key)
    res = runner.invoke(app, ["retention", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert f"would delete raw/{raw_key}" in res.stdout and "would free 2 file(s)" in res.stdout
    assert ctx.storage["raw"].exists(raw_key)
    res = runner.invoke(app, ["retention", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert not doc["dry_run"] and doc["files"] == 2 and doc["by_area"]["raw"] == {"files": 1, "bytes": size}
    assert not Path(ctx.storage["raw"].root, raw_key).exists()
    res = runner.invoke(app, ["retention", "--json"])
    assert json.loads(res.stdout)["files"] == 0
