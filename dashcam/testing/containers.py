"""The Docker engine for the docker-pool tests: whether it answers, the pool images (built by
``infra/docker/build-images.sh``), the job variables that put a test's flow runs in them, and the containers
those runs left (found by a label of the test, removed at the end).

Everything goes through the ``docker`` command, as a user would: nothing here imports Prefect or docker-py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from dashcam.testing.cluster import REPO

BUILD_SCRIPT = REPO / "infra" / "docker" / "build-images.sh"
# containers of the test's flow runs carry this label, with a value of the test's own
LABEL = "org.dashcam.test"
# the flow run a container runs: Prefect's "prefect.io/flow-run-id", in Docker's reverse-DNS form
FLOW_RUN_LABEL = "io.prefect.flow-run-id"


class DockerError(RuntimeError):
    """A docker command failed."""


def engine_problem() -> str | None:
    """Why the Docker engine cannot be used here (no CLI, no daemon, no permission), or None."""
    cli = shutil.which("docker")
    if cli is None:
        return "the docker command is not installed (apt-get install docker.io)"
    try:
        proc = subprocess.run(
            [cli, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 60 s"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"the Docker engine does not answer: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    return None


def docker(*args: str, timeout: float = 120) -> str:
    """``docker ARGS``; its output, or DockerError with docker's own message."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def build_images(tag: str, gpu_extras: str, log: Path, timeout: float = 3000) -> dict[str, str]:
    """Build (or, with the builds cached, only check) dashcam-edge and dashcam-gpu with the project's script;
    pool -> image reference. The script's output goes to ``log``."""
    with log.open("wb") as out:
        proc = subprocess.run(
            [str(BUILD_SCRIPT), "--tag", tag, "--gpu-extras", gpu_extras],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    if proc.returncode != 0:
        raise DockerError(f"{BUILD_SCRIPT.name} failed ({proc.returncode}):\n{log.read_text()[-4000:]}")
    return {pool: f"dashcam-{pool}:{tag}" for pool in ("edge", "gpu")}


def containers(label_value: str) -> list[dict[str, Any]]:
    """``docker inspect`` of every container (running or not) that carries the test's label."""
    ids = docker("ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}={label_value}").split()
    return json.loads(docker("inspect", *ids)) if ids else []


def remove_containers(label_value: str) -> int:
    """Remove the test's containers, running or not; how many there were."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}={label_value}").split()
    if ids:
        docker("rm", "-f", "-v", *ids)
    return len(ids)


def job_variables(
    template: dict[str, Any],
    *,
    image: str,
    device: str,
    config_dir: Path,
    models_dir: Path,
    shared: Path,
    scratch: Path,
    label_value: str,
) -> dict[str, Any]:
    """A deployment's job variables that run its flows in ``image`` on this machine, from the pool's base job
    template (what ``dashcam setup --docker`` made): the same mounts at the same places in the container,
    with the test's folders; the template's devices (the Coral's USB bus and cgroup rule, the NVIDIA device
    request) replaced, as no such hardware is here; containers kept after they exit, to be inspected."""
    props = template["variables"]["properties"]
    env = {
        **props["env"]["default"],
        # the worker's own name is not handed to its containers: the device they stand in for
        "DASHCAM_DEVICE": device,
        # places every user can write (the containers run as the test's user, below)
        "DASHCAM_DATA_DIR": "/tmp/dashcam-data",
        "PREFECT_HOME": "/tmp/prefect-home",
    }
    return {
        "image": image,
        "image_pull_policy": "Never",
        "network_mode": "host",  # the server and PostgreSQL listen on 127.0.0.1 only
        "auto_remove": False,
        "env": env,
        "labels": {LABEL: label_value},
        "volumes": [
            f"{config_dir}/config.json:/etc/dashcam-processor/config.json:ro",
            f"{config_dir}/devices:/etc/dashcam-processor/devices:ro",
            f"{models_dir}:/models:ro",
            f"{shared}:{shared}",
            f"{scratch}:{scratch}",
        ],
        # the storage areas belong to the user running the test, as the shares belong to the image's user
        # (uid 10001) on the devices
        "container_create_kwargs": {"user": f"{os.getuid()}:{os.getgid()}"},
        "privileged": False,
    }
