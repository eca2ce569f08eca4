"""`dashcam setup` and `dashcam health`: make a Prefect server ready for the pipeline, and check it.

Setup is idempotent: work pools (from ``work_pools/*.json``), their concurrency limits, a GPU slot per
GPU device, the blocks, the zombie-run automation and the deployments of ``prefect.yaml`` are created or
brought up to date; running it again changes nothing that is already right.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from dashcam.config import Config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
POOLS = {"nas": "ingest", "edge": "preprocess", "gpu": "heavy", "archive": "archive"}
DEVICE_POOLS = {
    "indoor_nas": "nas",
    "jetson_coral": "edge",
    "rtx_4090": "gpu",
    "rtx_gpu": "gpu",
    "shed_nas": "archive",
}
ZOMBIE_AUTOMATION = "dashcam: crash flow runs whose heartbeat stopped"
# Where the images of the docker pools hold the project (infra/docker/*.Dockerfile, WORKDIR): their flow runs
# start there, whatever folder the process pools' devices installed it in.
IMAGE_CODE_DIR = "/opt/dashcam-processor"
SET_WORKING_DIRECTORY = "prefect.deployments.steps.set_working_directory"


def gpu_slot_name(hostname: str) -> str:
    """The global concurrency limit that gives one GPU device one heavy run at a time."""
    return f"gpu-{hostname}"


def pool_template(pool: str, *, docker: bool, env: dict[str, str]) -> dict[str, Any]:
    """A pool's base job template from work_pools/, with the shared environment added to its defaults."""
    path = ROOT / "work_pools" / ("docker" if docker else "") / f"{pool}.json"
    tpl = json.loads(path.read_text())
    tpl = copy.deepcopy(tpl)
    props = tpl["variables"]["properties"]
    props["env"]["default"] = {**props["env"].get("default", {}), **env}
    return tpl


def pool_limits(config: Config) -> dict[str, int | None]:
    """Pool concurrency: the sum of the devices' concurrent tasks in each pool (None: no device listed)."""
    limits: dict[str, int | None] = dict.fromkeys(POOLS)
    default = config.global_config.global_.max_concurrent_tasks_per_device
    for dev in config.devices.values():
        pool = dev.work_pool or DEVICE_POOLS.get(dev.device_type or "")
        if pool in limits:
            n = (
                dev.storage.max_concurrent_tasks
                if "max_concurrent_tasks" in dev.storage.model_fields_set
                else default
            )
            limits[pool] = (limits[pool] or 0) + n
    return limits


def setup(
    server: str,
    config: Config,
    *,
    results_path: str,
    code_dir: str | None = None,
    docker_pools: tuple[str, ...] = (),
    heartbeat_s: int = 30,
    zombie_after_s: int = 120,
    notify_block: str | None = None,
    deploy: bool = True,
) -> list[str]:
    """Bring the server to the pipeline's state; returns what was done, one line each."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    done: list[str] = []
    with temporary_settings({PREFECT_API_URL: server}):
        done += _pools(config, results_path, docker_pools, heartbeat_s, code_dir or str(ROOT))
        done += _blocks(config, results_path)
        done += _automation(zombie_after_s)
        if notify_block:
            done += _notifications(notify_block)
    if deploy:
        done += _deploy(server, code_dir or str(ROOT), docker_pools)
    return done


def _pools(
    config: Config, results_path: str, docker_pools: tuple[str, ...], heartbeat_s: int, code_dir: str
) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
        WorkPoolCreate,
        WorkPoolUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    from blocks.storage import RESULTS_BLOCK

    env = {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": f"local-file-system/{RESULTS_BLOCK}",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat_s),
        # flow runs log as `logging` of config.json says (text or JSON lines, syslog), and to the Prefect API
        "PREFECT_LOGGING_SETTINGS_PATH": f"{code_dir.rstrip('/')}/infra/logging/prefect-logging.yml",
    }
    out = []
    limits = pool_limits(config)
    with get_client(sync_client=True) as client:
        for pool in POOLS:
            docker = pool in docker_pools
            tpl = pool_template(pool, docker=docker, env=env)
            kind = "docker" if docker else "process"
            try:
                current = client.read_work_pool(pool)
            except ObjectNotFound:
                client.create_work_pool(
                    WorkPoolCreate(
                        name=pool,
                        type=kind,
                        base_job_template=tpl,
                        concurrency_limit=limits[pool],
                        description=f"{POOLS[pool]} stage ({kind} workers)",
                    )
                )
                out.append(f"work pool {pool}: created ({kind}, concurrency {limits[pool] or 'unlimited'})")
                continue
            if current.type != kind:
                raise ValueError(
                    f"work pool {pool} exists with type {current.type}, not {kind}: delete it first"
                )
            if current.base_job_template != tpl or current.concurrency_limit != limits[pool]:
                client.update_work_pool(
                    pool, WorkPoolUpdate(base_job_template=tpl, concurrency_limit=limits[pool])
                )
                out.append(f"work pool {pool}: updated")
        for host, dev in sorted(config.devices.items()):
            if dev.gpu is None:
                continue
            name = gpu_slot_name(host)
            try:
                gcl = client.read_global_concurrency_limit_by_name(name)
                if gcl.limit != 1:
                    client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=1))
                    out.append(f"concurrency limit {name}: updated")
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
                out.append(f"concurrency limit {name}: created (one heavy run at a time on its GPU)")
    return out


def _blocks(config: Config, results_path: str) -> list[str]:
    from prefect.blocks.system import Secret
    from prefect.filesystems import LocalFileSystem

    from blocks.storage import (
        ARCHIVE_KEY_SECRET,
        CAMERA_SECRET,
        DATABASE_SECRET,
        RESULTS_BLOCK,
        STORAGE_BLOCK,
        DashcamStorage,
    )

    out = []
    DashcamStorage.register_type_and_schema()
    mounts = {host: dev.storage.mounts for host, dev in config.devices.items() if dev.storage.mounts}
    storage = DashcamStorage(mounts=mounts, default_mounts=config.global_config.storage_paths.mounts)
    storage.save(STORAGE_BLOCK, overwrite=True)
    out.append(f"block {STORAGE_BLOCK}: saved ({len(mounts)} device mapping(s))")
    LocalFileSystem(basepath=results_path).save(RESULTS_BLOCK, overwrite=True)
    out.append(f"block {RESULTS_BLOCK}: saved (shared result storage at {results_path})")
    url = config.settings.database_url or config.global_config.database.url
    if url:
        Secret(value=url).save(DATABASE_SECRET, overwrite=True)
        out.append(f"block {DATABASE_SECRET}: saved (secret)")
    password = os.environ.get(config.global_config.camera.password_env)
    if password:
        Secret(value=password).save(CAMERA_SECRET, overwrite=True)
        out.append(f"block {CAMERA_SECRET}: saved (secret)")
    archive_key = config.settings.archive_key
    if archive_key:
        from dashcam.crypt.keys import archive_key_from

        archive_key_from(archive_key, "DASHCAM_ARCHIVE_KEY")  # a weak key is refused here, not on a worker
        Secret(value=archive_key).save(ARCHIVE_KEY_SECRET, overwrite=True)
        out.append(f"block {ARCHIVE_KEY_SECRET}: saved (secret; the archive worker encrypts with it)")
    return out


def _automation(zombie_after_s: int) -> list[str]:
    """Mark a flow run Crashed when its heartbeats stop (kill -9, power loss); the reconcile flow reruns it."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    trigger = EventTrigger(
        match={"prefect.resource.id": ["prefect.flow-run.*"]},
        after={"prefect.flow-run.heartbeat"},
        expect={
            "prefect.flow-run.heartbeat",
            "prefect.flow-run.Completed",
            "prefect.flow-run.Failed",
            "prefect.flow-run.Cancelled",
            "prefect.flow-run.Crashed",
        },
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=zombie_after_s),
    )
    action = ChangeFlowRunState(
        state=StateType.CRASHED, message=f"no heartbeat for {zombie_after_s} s: the worker died"
    )
    try:
        existing = Automation.read(name=ZOMBIE_AUTOMATION)
    except ValueError:
        existing = None
    if existing is not None:
        if existing.trigger == trigger and existing.actions == [action]:
            return []
        existing.delete()
    Automation(name=ZOMBIE_AUTOMATION, trigger=trigger, actions=[action]).create()
    return [f"automation '{ZOMBIE_AUTOMATION}': {'updated' if existing else 'created'}"]


NOTIFY_AUTOMATIONS = {
    # event -> (automation name, subject, body): Jinja over the event, as Prefect's actions template it
    "dashcam.watchlist.hit": (
        "dashcam-watchlist-notify",
        "Watchlist: {{ event.payload.plate }} seen",
        "{{ event.payload.message }}",
    ),
    "dashcam.clip.failed": (
        "dashcam-failure-notify",
        "dashcam: {{ event.payload.stage }} failed for clip {{ event.payload.clip_id }}",
        "{{ event.payload.stage }} failed: {{ event.payload.error }}",
    ),
}


def _notifications(block: str) -> list[str]:
    """Automations that send watchlist hits and failed clips through the notification block the user made
    (``TYPE/NAME``, e.g. ``slack-webhook/phone`` or ``custom-webhook/home-assistant``)."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    kind, _, name = block.partition("/")
    if not kind or not name:
        raise ValueError(f"--notify-block {block!r}: give it as TYPE/NAME, e.g. slack-webhook/phone")
    with get_client(sync_client=True) as client:
        try:
            doc = client.read_block_document_by_name(name=name, block_type_slug=kind)
        except Exception as exc:  # the server answers 404: one clear line
            raise ValueError(
                f"no notification block {block!r} on the server (make it in the Prefect UI)"
            ) from exc
    out = []
    for event, (auto_name, subject, body) in NOTIFY_AUTOMATIONS.items():
        trigger = EventTrigger(
            expect={event}, match={"prefect.resource.id": "dashcam.*"}, posture=Posture.Reactive, threshold=1
        )
        action = SendNotification(block_document_id=doc.id, subject=subject, body=body)
        try:
            existing = Automation.read(name=auto_name)
        except ValueError:
            existing = None
        if existing is not None:
            if existing.trigger == trigger and existing.actions == [action]:
                continue
            existing.delete()
        Automation(name=auto_name, trigger=trigger, actions=[action]).create()
        out.append(f"automation '{auto_name}' ({event} -> {block}): {'updated' if existing else 'created'}")
    return out


def _deploy(server: str, code_dir: str, docker_pools: tuple[str, ...] = ()) -> list[str]:
    """`prefect --no-prompt deploy --all` from the project, with the code path the workers use; the
    deployments of docker pools start in the images' project folder instead."""
    env = {**os.environ, "PREFECT_API_URL": server, "DASHCAM_CODE_DIR": code_dir}
    prefect = Path(sys.executable).with_name("prefect")
    proc = subprocess.run(
        [str(prefect), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"prefect deploy failed: {' | '.join(tail)}")
    out = ["deployments: " + ", ".join(sorted(POOLS.values())) + ", retention, reconcile deployed"]
    if docker_pools and code_dir != IMAGE_CODE_DIR:
        out += _pull_from_image(server, docker_pools)
    return out


def _pull_from_image(server: str, docker_pools: tuple[str, ...]) -> list[str]:
    """Point the pull step of the docker pools' deployments at the images' project folder: ``--code-dir``
    names where the process pools' devices installed it, which a container need not have."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.client.schemas.filters import DeploymentFilter, WorkPoolFilter, WorkPoolFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    pull = [{SET_WORKING_DIRECTORY: {"directory": IMAGE_CODE_DIR}}]
    out = []
    with temporary_settings({PREFECT_API_URL: server}), get_client(sync_client=True) as client:
        found = client.read_deployments(
            deployment_filter=DeploymentFilter(),
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=list(docker_pools))),
        )
        for dep in found:
            client.update_deployment(dep.id, DeploymentUpdate(pull_steps=pull))
            out.append(f"deployment {dep.name}: runs in its image's {IMAGE_CODE_DIR}")
    return out
