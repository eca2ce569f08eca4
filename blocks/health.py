"""`dashcam health`: is this device's view of the deployment healthy? One check per line, each with a reason."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx

from blocks.setup import POOLS
from dashcam.config import Config


def _server(server: str) -> tuple[bool, str]:
    try:
        r = httpx.get(f"{server}/health", timeout=10)
    except httpx.HTTPError as exc:
        return False, f"{server} not reachable: {type(exc).__name__}"
    return r.status_code == 200, f"{server} answered {r.status_code}"


def _pools(server: str) -> dict[str, dict[str, Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    out: dict[str, dict[str, Any]] = {}
    with temporary_settings({PREFECT_API_URL: server}), get_client(sync_client=True) as client:
        for pool in POOLS:
            try:
                client.read_work_pool(pool)
            except ObjectNotFound:
                out[pool] = {"ok": False, "detail": "work pool missing (run `dashcam setup`)"}
                continue
            workers = client.read_workers_for_work_pool(pool)
            online = [w.name for w in workers if str(getattr(w, "status", "")).upper().endswith("ONLINE")]
            by_pool = WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))

            def count(*states: str, by_pool: WorkPoolFilter = by_pool) -> int:
                runs = client.read_flow_runs(
                    work_pool_filter=by_pool,
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(name=FlowRunFilterStateName(any_=list(states)))
                    ),
                    limit=200,
                )
                return len(runs)

            queued, late = count("Scheduled", "Pending"), count("Late")
            ok = bool(online) and late == 0
            detail = f"{len(online)} worker(s) online, {queued} queued, {late} late"
            if not online:
                detail += f" (start one: prefect worker start --pool {pool})"
            out[pool] = {"ok": ok, "detail": detail, "workers": online, "queued": queued, "late": late}
    return out


def _database(config: Config) -> tuple[bool, str]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.db.session import current_revision, head_revision, make_engine

    url = config.database_url()
    try:
        engine = make_engine(url, config=config)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        rev = current_revision(url, config=config)
    except SQLAlchemyError as exc:
        return False, f"not reachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if rev != head_revision():
        return False, f"schema at {rev}, newest is {head_revision()} (run `dashcam db upgrade`)"
    return True, f"reachable, schema at {rev}"


def _storage(config: Config) -> dict[str, dict[str, Any]]:
    from pathlib import Path

    from dashcam.storage import Storage

    out = {}
    for name, area in Storage(config).areas.items():
        try:
            if area.is_local:
                p = Path(area.root)
                ok = p.is_dir()
                detail = f"{area.root} {'present' if ok else 'missing (mount the share or create it)'}"
            else:
                ok = bool(area._fs().exists(area.root))
                detail = f"{area.root} {'reachable' if ok else 'not reachable'}"
        except Exception as exc:  # any backend error is a failed check, said in one line
            ok, detail = False, f"{area.root}: {type(exc).__name__}: {exc}"
        out[name] = {"ok": ok, "detail": detail}
    return out


def check(server: str, config: Config) -> dict[str, Any]:
    """Every check with ok/detail, and the problems as one line each (empty when healthy)."""
    checks: dict[str, dict[str, Any]] = {}
    ok, detail = _server(server)
    checks["server"] = {"ok": ok, "detail": detail}
    if ok:
        for pool, item in _pools(server).items():
            checks[f"pool {pool}"] = item
    ok, detail = _database(config)
    checks["database"] = {"ok": ok, "detail": detail}
    for name, item in _storage(config).items():
        checks[f"storage {name}"] = item
    problems = [f"{name}: {item['detail']}" for name, item in checks.items() if not item["ok"]]
    return {"checked_at": datetime.now(timezone.utc), "checks": checks, "problems": problems}
