"""``GET /metrics``: the pipeline in Prometheus's text format, for a home lab's Prometheus and Grafana.

What is served (every value read from the database, the storage areas and the Prefect API at scrape time):

- ``dashcam_clips{stage,state}``: clips per stage and state (``stage_run``: queued, running, done, failed,
  skipped; 0 for a state no clip is in), ``dashcam_clips_registered``;
- ``dashcam_stage_duration_seconds{stage}``: a histogram of the finished (done) runs' durations;
- ``dashcam_sightings{label}``, ``dashcam_plate_reads``, ``dashcam_plates`` (distinct plates);
- ``dashcam_device_last_heartbeat_timestamp_seconds{device,device_type}``, ``dashcam_device_online``,
  ``dashcam_device_free_scratch_bytes``, and ``dashcam_device_configured`` for every configured device
  (a configured device with no heartbeat series has never been heard from);
- ``dashcam_storage_free_bytes{area}`` and ``dashcam_storage_size_bytes{area}`` of the local storage areas
  (``dashcam_storage_available`` 0: a local area whose folder does not exist, a share not mounted or an
  area nothing was written to yet; it then has no size and free samples rather than another disk's);
- with a Prefect server configured: ``dashcam_prefect_up``, and per work pool
  ``dashcam_work_pool_queue_depth`` (Scheduled and Pending flow runs), ``dashcam_work_pool_late_runs`` and
  ``dashcam_work_pool_online_workers``; absent on one machine without a server;
- ``dashcam_build_info{version}``, and this process's ``process_*`` metrics.

The counts are the database's rows as they stand (a rerun moves a clip from failed to done), so they are
gauges; alert on their change (``delta``), see infra/prometheus/alerts.yml.

Who may read it: a request straight from this host (a loopback peer and no X-Forwarded-For, Forwarded or
X-Real-IP header, so nothing proxied through nginx counts as local), or any caller with
``Authorization: Bearer <API key>``, a key from ``dashcam api-key create --device prometheus`` (revoked
with ``dashcam api-key revoke``). A wrong key is answered 401 and counts against the caller's address like
a failed device-key login (:mod:`webui.throttle`: after 20 failures in 15 minutes each try waits, 429).
A scrape is computed at most once every CACHE_S seconds, so a flood of requests costs no database work.
"""

from __future__ import annotations

import ipaddress
import shutil
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, ProcessCollector, exposition, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from blocks.setup import POOLS
from dashcam import __version__
from dashcam.db.models import Clip, Plate, PlateRead, Sighting, StageRun
from dashcam.stages.keys import STAGE_VERSIONS
from webui import state, throttle
from webui.api import keys, prefect

PATH = "/metrics"
# the classic text format (0.0.4): what every Prometheus reads, Debian 12's 2.42 included (before 0.21,
# prometheus-client's "latest" was that one); our names are all plain, so the body is the same as in 1.0.0
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
CACHE_S = 5.0
STATES = ("queued", "running", "done", "failed", "skipped")
AREAS = ("raw", "preproc", "heavy_output", "archive")
BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


# ---------------------------------------------------------------- who may read


def direct_loopback(host: str | None, headers: Iterable[str]) -> bool:
    """A request from this host itself: a loopback peer that came through no proxy."""
    if not host or any(h.lower() in PROXY_HEADERS for h in headers):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def _check_key(*, session: Session, key: str, remote: str) -> tuple[bool, int]:
    """(a live key, seconds to wait): only failures are recorded, so a scrape every 15 s writes nothing."""
    wait = throttle.retry_after(session=session, username=throttle.DEVICE_KEYS, remote=remote)
    if wait:
        return False, wait
    ok = keys.verify_key(session=session, key=key) is not None
    if not ok:
        throttle.record(session=session, username=throttle.DEVICE_KEYS, remote=remote, ok=False)
    return ok, 0


def check_access(request: Request) -> None:
    """Return when the caller may read the metrics; raise 401 or 429 otherwise."""
    remote = request.client.host if request.client else None
    given = request.headers.get("authorization")
    if given is None:
        if direct_loopback(remote, request.headers.keys()):
            return
        raise _unauthorized(
            "metrics are served to this host only, or with an API key: "
            "`dashcam api-key create --device prometheus`, sent as Authorization: Bearer <key>"
        )
    scheme, _, key = given.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("use Authorization: Bearer <API key>")
    ok, wait = state.in_session(_check_key, key=key.strip(), remote=remote or "?")
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed attempts from this address: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if not ok:
        raise _unauthorized("unknown or revoked API key")


# ---------------------------------------------------------------- what is measured


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


def clip_metrics(*, session: Session) -> list[Metric]:
    """Clips per stage and state, stage durations, sightings and plates."""
    clips = _gauge(
        "dashcam_clips",
        "Clips per stage and state (queued, running, done, failed, skipped).",
        ["stage", "state"],
    )
    counts = {(stage, st): 0 for stage in STAGE_VERSIONS for st in STATES}
    for stage, st, n in session.execute(
        select(col(StageRun.stage), col(StageRun.status), func.count()).group_by(
            col(StageRun.stage), col(StageRun.status)
        )
    ):
        counts[(str(stage), str(st))] = int(n)
    for (stage, st), n in sorted(counts.items()):
        clips.add_metric([stage, st], n)

    registered = _gauge("dashcam_clips_registered", "Clips in the database.")
    registered.add_metric([], int(session.execute(select(func.count()).select_from(Clip)).scalar_one()))

    durations = HistogramMetricFamily(
        "dashcam_stage_duration_seconds", "Time a stage took on a clip (finished runs).", labels=["stage"]
    )
    dur = col(StageRun.duration_s)
    below = [func.coalesce(func.sum(case((dur <= b, 1), else_=0)), 0) for b in BUCKETS]
    rows = session.execute(
        select(col(StageRun.stage), func.count(), func.coalesce(func.sum(dur), 0.0), *below)
        .where(col(StageRun.status) == "done", dur.is_not(None))
        .group_by(col(StageRun.stage))
    ).all()
    for stage, n, total, *cumulative in rows:
        buckets = [(repr(b), float(c)) for b, c in zip(BUCKETS, cumulative, strict=True)]
        durations.add_metric([str(stage)], [*buckets, ("+Inf", float(n))], float(total))

    sightings = _gauge("dashcam_sightings", "Sightings in the database, per label.", ["label"])
    for label, n in session.execute(select(col(Sighting.label), func.count()).group_by(col(Sighting.label))):
        sightings.add_metric([str(label)], int(n))
    reads = _gauge("dashcam_plate_reads", "Plate reads in the database (every read of every sighting).")
    reads.add_metric([], int(session.execute(select(func.count()).select_from(PlateRead)).scalar_one()))
    plates = _gauge("dashcam_plates", "Distinct plates seen.")
    plates.add_metric([], int(session.execute(select(func.count()).select_from(Plate)).scalar_one()))
    return [clips, registered, durations, sightings, reads, plates]


def device_metrics(*, session: Session, now: datetime) -> list[Metric]:
    """Each device's last heartbeat, whether it is online, its free scratch space; configured devices."""
    from webui.api.devices import MISSED_HEARTBEATS, heartbeat_interval, known_devices

    found = known_devices(session=session, now=now, within=heartbeat_interval() * MISSED_HEARTBEATS)
    last = _gauge(
        "dashcam_device_last_heartbeat_timestamp_seconds",
        "When the device's last heartbeat arrived (Unix time).",
        ["device", "device_type"],
    )
    online = _gauge("dashcam_device_online", "1 while the device's heartbeats arrive in time.", ["device"])
    free = _gauge("dashcam_device_free_scratch_bytes", "Free space of the device's scratch area.", ["device"])
    configured = _gauge("dashcam_device_configured", "1 for each device of the configuration.", ["device"])
    for d in found:
        if d.last_heartbeat_at is not None:
            at = d.last_heartbeat_at
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
            last.add_metric([d.hostname, d.device_type or ""], at.timestamp())
            online.add_metric([d.hostname], 1.0 if d.online else 0.0)
        if d.free_scratch_bytes is not None:
            free.add_metric([d.hostname], float(d.free_scratch_bytes))
        if d.configured:
            configured.add_metric([d.hostname], 1.0)
    return [last, online, free, configured]


def storage_metrics() -> list[Metric]:
    """Size and free space of each local storage area's disk (remote areas: no sample)."""
    free = _gauge("dashcam_storage_free_bytes", "Free space of the disk holding a storage area.", ["area"])
    size = _gauge("dashcam_storage_size_bytes", "Size of the disk holding a storage area.", ["area"])
    there = _gauge(
        "dashcam_storage_available",
        "1 when a local storage area's folder exists (0: not mounted, or not written to yet).",
        ["area"],
    )
    storage = state.get().storage
    for name in AREAS:
        area = storage[name]
        if not area.is_local:
            continue
        try:
            du = shutil.disk_usage(area.root)
        except OSError:
            there.add_metric([name], 0.0)
            continue
        there.add_metric([name], 1.0)
        free.add_metric([name], float(du.free))
        size.add_metric([name], float(du.total))
    return [free, size, there]


def prefect_metrics(api_url: str | None) -> list[Metric]:
    """Queue depth, late runs and online workers per work pool; nothing without a Prefect server."""
    if not api_url:
        return []
    queues, info = prefect.pool_queues(api_url, POOLS)
    up = _gauge("dashcam_prefect_up", "1 when the Prefect API answered this scrape.")
    up.add_metric([], 1.0 if info.available else 0.0)
    depth = _gauge(
        "dashcam_work_pool_queue_depth", "Flow runs waiting for a worker (Scheduled, Pending).", ["pool"]
    )
    late = _gauge("dashcam_work_pool_late_runs", "Flow runs past their start time with no worker.", ["pool"])
    workers = _gauge("dashcam_work_pool_online_workers", "Workers of the pool that are online.", ["pool"])
    for q in queues:
        depth.add_metric([q.pool], float(q.queued))
        late.add_metric([q.pool], float(q.late))
        workers.add_metric([q.pool], float(q.online_workers))
    return [up, depth, late, workers]


class PipelineCollector:
    """Everything above, read afresh at each (uncached) scrape."""

    def collect(self) -> Iterable[Metric]:
        st = state.get()
        now = datetime.now(timezone.utc)
        info = _gauge(
            "dashcam_build_info", "The dashcam-processor version serving these metrics.", ["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        yield from state.in_session(clip_metrics)
        yield from state.in_session(device_metrics, now=now)
        yield from storage_metrics()
        yield from prefect_metrics(st.prefect_api_url)


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PipelineCollector())  # type: ignore[arg-type]
ProcessCollector(registry=_registry)
_cache: dict[str, Any] = {"at": -CACHE_S, "body": b""}
_lock = threading.Lock()


def render() -> bytes:
    """The metrics text, computed at most once every CACHE_S seconds (one scrape at a time)."""
    with _lock:
        if time.monotonic() - _cache["at"] >= CACHE_S:
            _cache["body"] = generate_latest(_registry)
            _cache["at"] = time.monotonic()
        return bytes(_cache["body"])


def register(app: FastAPI) -> None:
    """Serve ``GET /metrics`` on ``app`` (outside the documented REST API)."""

    @app.get(PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:  # sync: FastAPI runs it on a worker thread
        check_access(request)
        return Response(render(), media_type=CONTENT_TYPE)
