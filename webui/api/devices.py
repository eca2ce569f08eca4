"""``POST /devices/heartbeat`` and ``GET /devices``: who is out there, online or not, and their Prefect workers.

A device is online while its last heartbeat is younger than MISSED_HEARTBEATS x the heartbeat interval
(DASHCAM_HEARTBEAT_INTERVAL_S, default 60 s: the ``dashcam heartbeat`` timer in infra/ fires that often),
so three missed beats, three minutes by default, mark it offline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from blocks.setup import DEVICE_POOLS
from dashcam.config import DeviceType
from dashcam.db.models import Device
from dashcam.settings import read_env
from webui import state
from webui.api import keys, prefect
from webui.api.common import UtcTime
from webui.api.security import ERRORS, Now, Principal, Reader, require

router = APIRouter(tags=["devices"])
MISSED_HEARTBEATS = 3
HOSTNAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def heartbeat_interval() -> timedelta:
    """How often devices beat (DASHCAM_HEARTBEAT_INTERVAL_S, default 60 s)."""
    return timedelta(seconds=read_env().heartbeat_interval_s)


class HeartbeatIn(BaseModel):
    """What a device says about itself."""

    hostname: str = Field(min_length=1, max_length=255, pattern=HOSTNAME, examples=["jetson-coral-1"])
    device_type: DeviceType = Field(examples=["jetson_coral"])
    version: str | None = Field(default=None, max_length=64, description="dashcam-processor version")
    free_scratch_bytes: int | None = Field(
        default=None, ge=0, le=2**62, description="free space of its scratch area"
    )
    accelerator: bool | None = Field(default=None, description="a CUDA GPU or an Edge TPU is present")


class DeviceOut(BaseModel):
    """A known device (configured, or heard from), and whether it is online."""

    hostname: str
    device_type: str | None
    version: str | None
    free_scratch_bytes: int | None
    accelerator: bool | None
    last_heartbeat_at: UtcTime
    online: bool = Field(description="a heartbeat within online_within_s")
    configured: bool = Field(description="it has a device configuration")
    work_pool: str | None
    workers: list[prefect.WorkerOut] | None = Field(
        default=None, description="its Prefect workers in its pool (None: Prefect not readable)"
    )


class DevicesOut(BaseModel):
    """Every known device."""

    online_within_s: int
    items: list[DeviceOut]
    prefect: prefect.PrefectInfo


def pool_for(hostname: str, device_type: str | None) -> str | None:
    """The device's work pool: its configuration's ``work_pool``, else its type's default pool."""
    dev = state.get().config.devices.get(hostname)
    if dev is not None and dev.work_pool:
        return dev.work_pool
    return DEVICE_POOLS.get((dev.device_type if dev and dev.device_type else device_type) or "")


def record_heartbeat(*, session: Session, beat: HeartbeatIn, now: datetime) -> Device:
    """Create or update the device's row with this heartbeat."""
    row = session.execute(select(Device).where(col(Device.hostname) == beat.hostname)).scalar_one_or_none()
    row = row or Device(hostname=beat.hostname)
    row.device_type = beat.device_type
    row.version = beat.version
    row.free_scratch_bytes = beat.free_scratch_bytes
    row.accelerator = beat.accelerator
    row.last_heartbeat_at = now
    row.work_pool = pool_for(beat.hostname, beat.device_type)
    session.add(row)
    session.flush()
    return row


def _online(last: datetime | None, now: datetime, within: timedelta) -> bool:
    if last is None:
        return False
    from dashcam.search.types import utc

    last = utc(last)
    assert last is not None
    return now - within <= last <= now + within  # a clock far ahead is as suspect as one far behind


def known_devices(*, session: Session, now: datetime, within: timedelta) -> list[DeviceOut]:
    """Devices heard from, then configured devices never heard from, by hostname."""
    configured = state.get().config.devices
    out: dict[str, DeviceOut] = {}
    for d in session.execute(select(Device).order_by(col(Device.hostname))).scalars():
        out[d.hostname] = DeviceOut(
            hostname=d.hostname,
            device_type=d.device_type,
            version=d.version,
            free_scratch_bytes=d.free_scratch_bytes,
            accelerator=d.accelerator,
            last_heartbeat_at=d.last_heartbeat_at,
            online=_online(d.last_heartbeat_at, now, within),
            configured=d.hostname in configured,
            work_pool=pool_for(d.hostname, d.device_type),
        )
    for name, dev in configured.items():
        out.setdefault(
            name,
            DeviceOut(
                hostname=name,
                device_type=dev.device_type,
                version=None,
                free_scratch_bytes=None,
                accelerator=None,
                last_heartbeat_at=None,
                online=False,
                configured=True,
                work_pool=pool_for(name, dev.device_type),
            ),
        )
    return [out[k] for k in sorted(out)]


def _device_key_live(principal: Annotated[Principal, require("heartbeat")]) -> Principal:
    if principal.key_id and not state.in_session(keys.is_live, key_id=principal.key_id):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the API key of this token was revoked")
    return principal


@router.post(
    "/devices/heartbeat",
    response_model=DeviceOut,
    responses={**ERRORS, 403: {"model": ERRORS[403]["model"], "description": "wrong scope or device"}},
)
def heartbeat(
    beat: HeartbeatIn, principal: Annotated[Principal, Depends(_device_key_live)], now: Now
) -> DeviceOut:
    """A device announces itself (needs a device key's token, for that same hostname)."""
    if principal.name != beat.hostname:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this token speaks for {principal.name!r}, not {beat.hostname!r}"
        )
    row = state.in_session(record_heartbeat, beat=beat, now=now)
    return DeviceOut(
        hostname=row.hostname,
        device_type=row.device_type,
        version=row.version,
        free_scratch_bytes=row.free_scratch_bytes,
        accelerator=row.accelerator,
        last_heartbeat_at=row.last_heartbeat_at,
        online=True,
        configured=row.hostname in state.get().config.devices,
        work_pool=row.work_pool,
    )


@router.get("/devices", response_model=DevicesOut, responses=ERRORS)
def list_devices(_: Reader, now: Now) -> DevicesOut:
    """Every known device: last heartbeat, online or offline, work pool and its Prefect workers."""
    within = heartbeat_interval() * MISSED_HEARTBEATS
    items = state.in_session(known_devices, now=now, within=within)
    pools, info = prefect.workers(state.get().prefect_api_url, {d.work_pool for d in items if d.work_pool})
    if info.available:
        for d in items:
            # workers are named <hostname>-<pool> (infra/systemd/dashcam-worker@.service)
            d.workers = [w for w in pools.get(d.work_pool or "", []) if w.name.startswith(d.hostname)]
    return DevicesOut(online_within_s=int(within.total_seconds()), items=items, prefect=info)
