# syntax=docker/dockerfile:1
# Image of the gpu pool (the RTX box): the heavy stage with ultralytics + torch on CUDA, and OCR.
# The worker on the GPU box starts one container of this image per flow run; the pool's job variables give it
# the GPU (a device request for the nvidia driver, i.e. `docker run --gpus all`) and mount the models
# read-only at /models (infra/README.md, "RTX box").
#
# Build from the repository root:
#   docker build -f infra/docker/gpu.Dockerfile -t dashcam-gpu:latest .
# Check the GPU is visible (needs the NVIDIA Container Toolkit on the host):
#   docker run --rm --gpus all dashcam-gpu:latest python -c "import torch; print(torch.cuda.is_available())"
#
# The torch wheels pinned in uv.lock carry their own CUDA 13 libraries: the base image provides the
# container-toolkit wiring (NVIDIA_* variables) and must not be newer than the host driver supports.
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

FROM ${UV_IMAGE} AS uv

FROM ${CUDA_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive

# ffmpeg encodes the sighting clips; ca-certificates for pulls of standard weights when /models lacks them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates ffmpeg \
 && rm -rf /var/lib/apt/lists/*

COPY --from=uv /uv /uvx /usr/local/bin/

# Ubuntu 24.04 has Python 3.12 only: uv installs a standalone 3.11 (what uv.lock was resolved and tested for)
# in a world-readable place, not under /root.
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON=3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/dashcam-processor/.venv
RUN uv python install 3.11

WORKDIR /opt/dashcam-processor
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project --extra gpu --extra ocr
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --extra gpu --extra ocr

# UID/GID 10001 as on the hosts (infra/systemd/dashcam.sysusers), so files on the shares match.
RUN groupadd --system --gid 10001 dashcam \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/dashcam dashcam
USER dashcam

ENV PATH=/opt/dashcam-processor/.venv/bin:$PATH \
    DASHCAM_MODELS_DIR=/models \
    DASHCAM_CONFIG_DIR=/etc/dashcam-processor \
    EASYOCR_MODULE_PATH=/models/easyocr \
    YOLO_CONFIG_DIR=/var/lib/dashcam/ultralytics \
    PREFECT_HOME=/var/lib/dashcam/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1
VOLUME ["/models"]

CMD ["dashcam", "--help"]
