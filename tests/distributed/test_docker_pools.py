"""The docker pools for real: `prefect worker start --pool edge --type docker` (and gpu) on a real Docker engine,
each preprocess and heavy flow run in a container of the image `infra/docker/build-images.sh` builds.

On loopback with the cluster harness (:mod:`dashcam.testing.cluster`: throwaway PostgreSQL, `prefect server
start`, `dashcam setup`): a real clip goes through the four pools as process pools first; then the edge and
gpu pools are made again as docker pools (`dashcam setup --docker edge,gpu`) and the same frames go through
containers, giving the same database rows; a heavy container killed in the middle of a clip ends, through the
reconcile sweep, in a rerun with the same rows again and no duplicates.

The images are the CI variant (the gpu image's CPU path: LiteRT detector + rapidocr); containers use the host
network, so traffic stays on 127.0.0.1. There is no Coral and no GPU here: the templates' USB bus, cgroup rule
and NVIDIA device request are checked as `dashcam setup` stored them, and replaced in the test's job variables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dashcam.db.models import Clip, GpsPoint, Media, PlateRead, Sighting, SightingTrack, Window
from dashcam.procs import _pid_space
from dashcam.testing import cluster, containers
from dashcam.testing.cluster import Cluster
from tests.camera.fake_camera import mp4_variant
from tests.support import models_dir, need, testdata_file

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.docker]

# one device per pool: what is compared is where each stage ran, not load sharing
DEVICES = {"nas-1": "nas", "jetson-1": "edge", "gpu-1": "gpu", "shed-1": "archive"}
DOCKER_POOLS = {"jetson-1": "edge", "gpu-1": "gpu"}
# the heavy stage's CPU path, with plates: the int8 plate detector (onnxruntime) and rapidocr
CONFIG = {
    "vision": {
        "plate_detector": {"type": "onnxruntime", "model": "license_plate_detector_int8.onnx"},
        "ocr": {"type": "rapidocr"},
    }
}
CLIP_NAME = "2024_0518_093000_{seq:06d}F.MP4"  # ingest knows a clip by name and size: one number per copy


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    try:
        return cluster.wait_for(what, check, timeout, every)
    except TimeoutError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """dashcam-edge:test and dashcam-gpu:test (CPU variant), built offline; seconds when cached."""
    problem = containers.engine_problem()
    if problem:
        need(f"no Docker engine: {problem}")
    log = tmp_path_factory.mktemp("images") / "build-images.log"
    return containers.build_images("test", "edge ocr", log)


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real clip (the lanes footage: 8.8 s of road with cars, 960x540) with a GPS track written into it the
    way a Viofo does, so that the containers' GPS reading is compared too."""
    from dashcam.gps import write_gps
    from dashcam.synth.route import make_route

    out = tmp_path_factory.mktemp("clip") / CLIP_NAME.format(seq=1)
    write_gps(testdata_file("video/lanes/solidWhiteRight.mp4"), out, make_route(9.0, seed=0).fixes)
    return out.read_bytes()


@pytest.fixture
def label() -> str:
    """The value of the label every container of this test carries."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str, images: dict[str, str], label: str) -> Iterator[Cluster]:
    d = Cluster(tmp_path, postgres_url, models_dir=models_dir(), devices=DEVICES, config=CONFIG)
    try:
        yield d
    finally:
        d.stop()
        gone = containers.remove_containers(label)
        print(f"{gone} container(s) removed")
        print(d.log_tails())  # shown by pytest only when the test failed


def _rows(d: Cluster, clip_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """What the stages wrote for one clip, without ids, hashes or times of processing."""

    def rows(stmt: Any) -> list[tuple[Any, ...]]:
        with d.engine.connect() as c:
            return [tuple(r) for r in c.execute(stmt).all()]

    media = rows(
        select(Media.kind, Media.key, Media.area, Media.mime, Media.size_bytes, Media.sha256)
        .where(Media.clip_id == clip_id)
        .order_by(Media.key)
    )
    return {
        "clip": rows(
            select(
                Clip.recorded_at,
                Clip.duration_s,
                Clip.width,
                Clip.height,
                Clip.fps,
                Clip.gps_points,
                Clip.utc_offset_s,
            ).where(Clip.id == clip_id)
        ),
        "windows": rows(
            select(Window.start_s, Window.end_s, Window.score, Window.labels)
            .where(Window.clip_id == clip_id)
            .order_by(Window.start_s)
        ),
        "gps": rows(
            select(
                GpsPoint.t,
                GpsPoint.time_utc,
                GpsPoint.lat,
                GpsPoint.lon,
                GpsPoint.speed_kmh,
                GpsPoint.heading,
            )
            .where(GpsPoint.clip_id == clip_id)
            .order_by(GpsPoint.t)
        ),
        "sightings": rows(
            select(
                Sighting.track_id,
                Sighting.label,
                Sighting.score,
                Sighting.first_s,
                Sighting.last_s,
                Sighting.best_s,
                Sighting.best_box,
                SightingTrack.boxes,
                Sighting.frames,
                Sighting.time_utc,
                Sighting.lat,
                Sighting.lon,
                Sighting.plate_text,
                Sighting.plate_confidence,
            )
            .outerjoin(SightingTrack, SightingTrack.sighting_id == Sighting.id)  # type: ignore[arg-type]
            .where(Sighting.clip_id == clip_id)
            .order_by(Sighting.track_id)
        ),
        "plate_reads": rows(
            select(PlateRead.t, PlateRead.text_raw, PlateRead.text, PlateRead.confidence, PlateRead.box)
            .where(PlateRead.clip_id == clip_id)
            .order_by(PlateRead.t, PlateRead.text_raw)
        ),
        # the key names the clip's hash: compared by the file name under it
        "media": [(kind, key.rsplit("/", 1)[-1], *rest) for kind, key, *rest in media],
    }


def _feed(d: Cluster, root: Path, seq: int, data: bytes) -> None:
    card = root / f"card{seq}"
    card.mkdir()
    (card / CLIP_NAME.format(seq=seq)).write_bytes(data)
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)


def _clip_ids(d: Cluster) -> list[int]:
    with d.engine.connect() as c:
        return [r[0] for r in c.execute(select(Clip.id).order_by(Clip.id))]


def _to_docker(d: Cluster, images: dict[str, str], label: str) -> dict[str, dict[str, Any]]:
    """Stop the edge and gpu process workers, make their pools docker pools with `dashcam setup --docker`,
    and give their deployments the test's job variables; pool -> the base job template setup stored."""
    for host in DOCKER_POOLS:
        d.kill(f"worker-{host}")
    for pool in DOCKER_POOLS.values():
        d.api_delete(f"/work_pools/{pool}")  # `prefect work-pool delete`: setup never changes a pool's type
    out = d.setup("--docker", "edge,gpu")
    templates = {}
    for host, pool in DOCKER_POOLS.items():
        assert f"work pool {pool}: created (docker" in out
        wp = d.api_get(f"/work_pools/{pool}")
        assert wp["type"] == "docker"
        templates[pool] = tpl = wp["base_job_template"]
        (dep,) = d.api_post("/deployments/filter", {"work_pools": {"name": {"any_": [pool]}}})
        # the flow run starts in the image's project folder, not in this checkout
        assert dep["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/dashcam-processor"}}
        ]
        variables = containers.job_variables(
            tpl,
            image=images[pool],
            device=host,
            config_dir=d.cfg,
            models_dir=models_dir(),
            shared=d.shared,
            scratch=d.root / "scratch" / host,
            label_value=label,
        )
        d.api_patch(f"/deployments/{dep['id']}", {"job_variables": variables})
        (d.root / "scratch" / host).mkdir(parents=True, exist_ok=True)
        d.worker(host, worker_type="docker")
    # the hardware the templates ask for, as stored (and replaced above: none of it is here)
    edge, gpu = (templates[p]["variables"]["properties"] for p in ("edge", "gpu"))
    assert "/dev/bus/usb:/dev/bus/usb" in edge["volumes"]["default"]
    assert edge["container_create_kwargs"]["default"] == {"device_cgroup_rules": ["c 189:* rmw"]}
    assert gpu["container_create_kwargs"]["default"]["device_requests"][0]["Driver"] == "nvidia"
    for props in (edge, gpu):
        assert "/srv/dashcam/models:/models:ro" in props["volumes"]["default"]
        assert props["network_mode"]["default"] == "host" and props["privileged"]["default"] is False
    return templates


def _ran_in_containers(d: Cluster, clip_id: int, images: dict[str, str], label: str) -> None:
    """Preprocess and heavy of the clip ran in containers of their pool's image, on the host network, with
    the mounts asked for, and exited cleanly; each container is one flow run."""
    boxes = {c["Config"]["Labels"][containers.FLOW_RUN_LABEL]: c for c in containers.containers(label)}
    runs = d.stage_runs()[clip_id]
    for stage, pool in (("preprocess", "edge"), ("heavy", "gpu")):
        run = runs[stage]
        box = boxes.get(run.flow_run_id)
        assert box is not None, f"{stage} of clip {clip_id}: no container for flow run {run.flow_run_id}"
        assert box["Config"]["Image"] == images[pool]
        assert box["HostConfig"]["NetworkMode"] == "host"
        assert box["State"]["Status"] == "exited" and box["State"]["ExitCode"] == 0
        assert {m["Destination"] for m in box["Mounts"]} >= {"/models", str(d.shared)}
        # its claim was made from the container's own PID namespace (the host's pid of that number, if any,
        # is another process: it must not decide whether the claim's owner lives)
        host, space, _pid = run.owner_process.split("/")
        assert space != _pid_space(), run.owner_process


# a cold build of the images (minutes) runs in the first fixture; each flow run takes a minute to start on a
# loaded 2-core machine, and the clip goes through the four stages three times
@pytest.mark.timeout(3600)
def test_docker_pools_run_each_flow_in_a_container(
    deployment: Cluster, tmp_path: Path, images: dict[str, str], clip_bytes: bytes, label: str
) -> None:
    d = deployment
    d.server()
    d.upgrade_db()
    d.setup()
    d.workers()

    # the process pools: the reference rows
    _feed(d, tmp_path, 1, clip_bytes)
    wait_for("the clip through the process pools", lambda: d.archived() >= 1, timeout=900, every=2)
    (first,) = _clip_ids(d)
    reference = _rows(d, first)
    assert reference["sightings"] and reference["gps"] and reference["windows"]
    assert any(kind == "sighting_clip" for kind, *_ in reference["media"])

    # the same frames through containers
    _to_docker(d, images, label)
    _feed(d, tmp_path, 2, mp4_variant(clip_bytes, "docker"))
    wait_for("the clip through the docker pools", lambda: d.archived() >= 2, timeout=900, every=2)
    second = _clip_ids(d)[1]
    _ran_in_containers(d, second, images, label)
    assert _rows(d, second) == reference

    # a heavy container killed in the middle of the clip
    _feed(d, tmp_path, 3, mp4_variant(clip_bytes, "killed"))

    def heavy_running() -> Any:
        third = [c for c in _clip_ids(d) if c not in (first, second)]
        run = d.stage_runs().get(third[0], {}).get("heavy") if third else None
        return run if run is not None and run.status == "running" else None

    run = wait_for("the heavy stage to start in its container", heavy_running, timeout=600, every=0.2)
    third, dead_run = run.clip_id, run.flow_run_id
    (box,) = [
        c
        for c in containers.containers(label)
        if c["Config"]["Labels"][containers.FLOW_RUN_LABEL] == dead_run
    ]
    containers.docker("kill", box["Id"])
    assert d.stage_runs()[third]["heavy"].status == "running", "the heavy stage had finished before the kill"

    def recovered() -> bool:
        d.run_deployment("reconcile/reconcile", grace_s=600)
        return d.archived(allow_crashed=None) >= 3

    # each sweep is a flow run of its own (seconds of start-up): one every 30 s, not a pile of them
    wait_for("the killed clip to be rerun in a new container", recovered, timeout=900, every=30)
    heavy = d.stage_runs()[third]["heavy"]
    assert heavy.status == "done" and heavy.attempts == 2 and heavy.flow_run_id != dead_run
    killed = next(c for c in containers.containers(label) if c["Id"] == box["Id"])
    assert killed["State"]["ExitCode"] == 137  # SIGKILL
    # the worker saw its container die and said so
    state = d.api_get(f"/flow_runs/{dead_run}")["state"]
    assert state["type"] == "CRASHED", state
    _ran_in_containers(d, third, images, label)
    assert _rows(d, third) == reference  # exactly once: the same rows as the clean runs, no duplicates
    assert len(_clip_ids(d)) == 3
