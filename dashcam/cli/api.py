"""`dashcam heartbeat` (this device to the main server's REST API) and `dashcam api-key` (device keys)."""

from __future__ import annotations

import ctypes.util
import logging
import os
import shutil
from typing import Any

import typer

from dashcam import __version__
from dashcam.cli.common import JsonOpt, console, fail, print_json
from dashcam.logs import json_mode

KEY_ENV = "DASHCAM_API_KEY"
TIMEOUT_S = 10.0
api_key_app = typer.Typer(
    help="API keys devices use for heartbeats (only hashes are stored).", no_args_is_help=True
)


def _accelerator() -> bool:
    """A CUDA GPU (through torch, if installed) or an Edge TPU runtime is present."""
    try:
        import torch

        if torch.cuda.is_available():
            return True
    except (ImportError, OSError):  # no torch, or a broken CUDA install: look for an Edge TPU
        pass
    libs = ("/usr/lib", "/usr/lib/aarch64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/local/lib")
    return bool(ctypes.util.find_library("edgetpu")) or any(
        os.path.exists(os.path.join(d, "libedgetpu.so.1")) for d in libs
    )


def _describe(device_type: str | None) -> dict[str, Any]:
    """This device's heartbeat: hostname, type, version, free scratch space, accelerator."""
    from dashcam.config import load_config
    from dashcam.storage import Storage

    config = load_config()
    device = config.device
    device_type = device_type or device.device_type
    if device_type is None:
        fail(
            f"device {config.settings.device!r} has no device_type in its configuration (or pass --device-type)"
        )
    scratch = Storage(config).scratch_dir
    scratch.mkdir(parents=True, exist_ok=True)
    return {
        "hostname": device.hostname or config.settings.device,
        "device_type": device_type,
        "version": __version__,
        "free_scratch_bytes": shutil.disk_usage(scratch).free,
        "accelerator": _accelerator(),
    }


def _error(resp: Any) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        detail = None
    return f"{resp.status_code} {detail if isinstance(detail, str) else resp.reason_phrase}"


def heartbeat(
    server: str = typer.Option(..., "--server", help="Main server, e.g. http://main-server:8000"),
    key: str | None = typer.Option(None, "--key", help=f"Device API key (default: ${KEY_ENV})."),
    device_type: str | None = typer.Option(
        None, "--device-type", help="Override the device_type of this device's configuration."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Tell the main server this device is alive (hostname, type, version, free scratch, accelerator)."""
    import httpx

    key = key or os.environ.get(KEY_ENV)
    if not key:
        fail(
            f"no API key: pass --key or set {KEY_ENV} (create one with `dashcam api-key create --device NAME`)"
        )
    beat = _describe(device_type)
    base = server.rstrip("/") + "/api/v1"
    try:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            resp = client.post(f"{base}/auth/token", json={"api_key": key})
            if resp.status_code != 200:
                fail(f"token refused by {server}: {_error(resp)}")
            token = resp.json()["access_token"]
            resp = client.post(
                f"{base}/devices/heartbeat", json=beat, headers={"Authorization": f"Bearer {token}"}
            )
            if resp.status_code != 200:
                fail(f"heartbeat refused by {server}: {_error(resp)}")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {type(exc).__name__}: {exc}")
    said = f"heartbeat sent: {beat['hostname']} ({beat['device_type']}) to {server}"
    logging.getLogger(__name__).info("%s", said)  # a line of the device's log (JSON, syslog) too
    if json_out:
        print_json(resp.json())
    elif not json_mode():
        console.print(said, highlight=False, markup=False)


def _session() -> Any:
    from dashcam.config import load_config
    from dashcam.db.session import ensure_schema, get_engine, session_scope

    config = load_config()
    url = config.database_url()
    ensure_schema(url, config=config)
    return session_scope(get_engine(config, url=url))


@api_key_app.command("create")
def create(
    device: str = typer.Option(..., "--device", help="Hostname the key speaks for, e.g. jetson-coral-1."),
    json_out: bool = JsonOpt,
) -> None:
    """Issue a key for a device; it is printed once and only its hash is kept."""
    from webui.api.keys import create_key

    try:
        with _session() as session:
            key_id, key = create_key(session=session, device=device)
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json({"device": device, "key_id": key_id, "api_key": key})
        return
    console.print(f"API key {key_id} for {device} (shown only now; put it in {KEY_ENV} on the device):")
    console.print(key, highlight=False, soft_wrap=True)


@api_key_app.command("list")
def list_(
    device: str | None = typer.Option(None, "--device", help="Only this device's keys."),
    json_out: bool = JsonOpt,
) -> None:
    """Every key: id, device, created, revoked (never the key itself)."""
    from webui.api.keys import list_keys

    with _session() as session:
        found = list_keys(session=session, device=device)
    if json_out:
        print_json([k.__dict__ for k in found])
        return
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        console.print(
            f"{k.key_id}  {k.device}  created {k.created_at:%Y-%m-%d %H:%M}  {state}", highlight=False
        )
    if not found:
        console.print("no API keys")


@api_key_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key id `dashcam api-key list` shows.")) -> None:
    """Revoke a key: its tokens stop working for heartbeats at once."""
    from webui.api.keys import revoke_key

    with _session() as session:
        ok = revoke_key(session=session, key_id=key_id)
    if not ok:
        fail(f"no active API key {key_id!r}")
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.command("heartbeat")(heartbeat)
    app.add_typer(api_key_app, name="api-key")
