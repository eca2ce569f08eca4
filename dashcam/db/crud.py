"""Idempotent writes keyed by natural keys: a repeated stage replaces its rows, never duplicates them.

Keyword-only functions taking ``session=``; the caller owns the transaction (see ``session_scope``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from dashcam.db.models import Clip, GpsPoint, StageRun, Window, utcnow


def upsert(
    *,
    session: Session,
    model: type[SQLModel],
    values: dict[str, Any],
    keys: Sequence[str],
    update: Iterable[str] | None = None,
    increment: Iterable[str] = (),
) -> int:
    """Insert a row or update the one with the same natural key; returns its id.

    ``update`` names the columns refreshed on conflict (default: every column but the keys);
    columns not named keep their stored value, so a re-registration never resets user state.
    """
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    ins_mod: Any = postgresql if dialect == "postgresql" else sqlite
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"upsert on {dialect} is not supported (use SQLite or PostgreSQL)")
    stmt = ins_mod.insert(table).values(**values)
    cols = [c for c in (update if update is not None else values) if c not in keys and c != "id"]
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in cols}
    set_.update({c: table.c[c] + 1 for c in increment})
    if set_:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)
    else:
        # a no-op update still returns the existing row's id
        k0 = keys[0]
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={k0: stmt.excluded[k0]})
    return int(session.execute(stmt.returning(table.c.id)).scalar_one())


# ---------------------------------------------------------------- clips

_CLIP_REFRESH = {
    "file_name",
    "source",
    "channel",
    "kind",
    "sequence",
    "moment_key",
    "recorded_local",
    "size_bytes",
    "raw_key",
}


def register_clip(
    *, session: Session, content_hash: str, file_name: str, size_bytes: int, **fields: Any
) -> tuple[int, bool]:
    """Register a clip once by content hash; returns (id, created).

    A clip arriving twice (camera and SD card) is one clip: the second arrival only refreshes
    descriptive fields, and ``protected`` can only be raised, never cleared.
    """
    existing = session.execute(
        select(Clip.id, Clip.protected).where(Clip.content_hash == content_hash)
    ).first()
    now = utcnow()
    values: dict[str, Any] = {
        "content_hash": content_hash,
        "file_name": file_name,
        "size_bytes": size_bytes,
        "kind": "normal",
        "protected": False,
        "pinned": False,
        "gps_points": 0,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    if existing is not None and existing.protected:
        values["protected"] = True
    update = {k for k in values if k in _CLIP_REFRESH or k == "updated_at" or k == "protected"}
    update |= {
        k for k in fields if k in ("recorded_at", "utc_offset_s", "duration_s", "width", "height", "fps")
    }
    clip_id = upsert(session=session, model=Clip, values=values, keys=["content_hash"], update=update)
    return clip_id, existing is None


def clip_by_hash(*, session: Session, content_hash: str) -> Clip | None:
    return session.execute(select(Clip).where(Clip.content_hash == content_hash)).scalar_one_or_none()


def update_clip(*, session: Session, clip_id: int, **fields: Any) -> None:
    clip = session.get(Clip, clip_id)
    if clip is None:
        raise LookupError(f"no clip with id {clip_id}")
    for k, v in fields.items():
        setattr(clip, k, v)
    clip.updated_at = utcnow()
    session.add(clip)


# ---------------------------------------------------------------- stage runs


def stage_started(
    *,
    session: Session,
    clip_id: int,
    stage: str,
    version: str,
    device: str | None = None,
    flow_run_id: str | None = None,
    cache_key: str | None = None,
) -> int:
    """Mark a stage running for a clip; every start after the first counts as a retry."""
    values = {
        "clip_id": clip_id,
        "stage": stage,
        "version": version,
        "status": "running",
        "error": None,
        "attempts": 1,
        "device": device,
        "flow_run_id": flow_run_id,
        "cache_key": cache_key,
        "started_at": utcnow(),
        "finished_at": None,
        "duration_s": None,
    }
    update = [k for k in values if k not in ("clip_id", "stage", "attempts")]
    return upsert(
        session=session,
        model=StageRun,
        values=values,
        keys=["clip_id", "stage"],
        update=update,
        increment=["attempts"],
    )


def claim_stage(
    *,
    session: Session,
    clip_id: int,
    stage: str,
    version: str,
    owner: str,
    lease_s: float,
    device: str | None = None,
    flow_run_id: str | None = None,
    cache_key: str | None = None,
    process: str | None = None,
    process_dead: Callable[[str | None], bool] | None = None,
) -> bool:
    """Take a clip's stage for this attempt unless a live attempt holds it; counts the attempt.

    A running claim whose lease expired belongs to a dead worker (kill -9, power loss) and may be
    taken over; so may one whose owner ``process_dead`` says is gone (on its own machine that is known at
    once). The check and the take are one UPDATE, so two workers can never both win.
    """
    now = utcnow()
    table = StageRun.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    ins_mod: Any = postgresql if dialect == "postgresql" else sqlite
    session.execute(
        ins_mod.insert(table)
        .values(clip_id=clip_id, stage=stage, version=version, status="queued", attempts=0)
        .on_conflict_do_nothing(index_elements=["clip_id", "stage"])
    )
    conditions = [
        table.c.status != "running",
        table.c.lease_until.is_(None),
        table.c.lease_until < now,
        table.c.owner == owner,
    ]
    if process_dead is not None:
        held = session.execute(
            select(table.c.owner, table.c.owner_process).where(
                table.c.clip_id == clip_id, table.c.stage == stage, table.c.status == "running"
            )
        ).first()
        if held is not None and held.owner and process_dead(held.owner_process):
            conditions.append(table.c.owner == held.owner)  # taken only if still that dead owner's
    free = or_(*conditions)
    res = session.execute(
        table.update()
        .where(table.c.clip_id == clip_id, table.c.stage == stage, free)
        .values(
            status="running",
            version=version,
            error=None,
            attempts=table.c.attempts + 1,
            device=device,
            flow_run_id=flow_run_id,
            cache_key=cache_key,
            started_at=now,
            finished_at=None,
            duration_s=None,
            owner=owner,
            owner_process=process,
            lease_until=now + timedelta(seconds=lease_s),
        )
    )
    return bool(res.rowcount == 1)


def renew_claim(*, session: Session, clip_id: int, stage: str, owner: str, lease_s: float) -> bool:
    """Extend this attempt's lease; False when the claim was lost (taken over after expiry)."""
    table = StageRun.__table__  # type: ignore[attr-defined]
    res = session.execute(
        table.update()
        .where(
            table.c.clip_id == clip_id,
            table.c.stage == stage,
            table.c.owner == owner,
            table.c.status == "running",
        )
        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
    )
    return bool(res.rowcount == 1)


def stage_finished(
    *,
    session: Session,
    clip_id: int,
    stage: str,
    status: str = "done",
    error: str | None = None,
    output_key: str | None = None,
    stats: dict[str, Any] | None = None,
    owner: str | None = None,
) -> bool:
    """Record how an attempt ended and release its claim; False when another attempt owns the clip now."""
    run = session.execute(
        select(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == stage)
    ).scalar_one()
    if owner is not None and run.owner not in (None, owner):
        return False
    now = utcnow()
    run.status = status
    run.error = error[:4000] if error else None
    run.finished_at = now
    run.lease_until = None
    if run.started_at is not None:
        started = run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=now.tzinfo)
        run.duration_s = (now - started).total_seconds()
    if output_key is not None:
        run.output_key = output_key
    if stats is not None:
        run.stats = stats
    session.add(run)
    return True


def stage_status(*, session: Session, clip_id: int, stage: str) -> StageRun | None:
    return session.execute(
        select(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == stage)
    ).scalar_one_or_none()


# ---------------------------------------------------------------- per-clip replaceable results


def replace_gps_points(*, session: Session, clip_id: int, points: Iterable[dict[str, Any]]) -> int:
    """Replace a clip's GPS track in one go; returns the number of points."""
    session.execute(delete(GpsPoint).where(GpsPoint.clip_id == clip_id))
    rows = [{**p, "clip_id": clip_id} for p in points]
    if rows:
        session.execute(GpsPoint.__table__.insert(), rows)  # type: ignore[attr-defined]
    update_clip(session=session, clip_id=clip_id, gps_points=len(rows))
    return len(rows)


def replace_windows(*, session: Session, clip_id: int, windows: Iterable[dict[str, Any]]) -> int:
    session.execute(delete(Window).where(Window.clip_id == clip_id))
    rows = [{**w, "clip_id": clip_id} for w in windows]
    if rows:
        session.execute(Window.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(rows)


def count_rows(*, session: Session, model: type[SQLModel], **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return int(session.execute(stmt).scalar_one())


def older_than(ts: datetime | None, cutoff: datetime) -> bool:
    return ts is not None and (ts if ts.tzinfo else ts.replace(tzinfo=cutoff.tzinfo)) < cutoff
