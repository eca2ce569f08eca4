# Image of the gpu pool (the RTX box): the heavy stage with ultralytics + torch on CUDA, and OCR.
# The worker on the GPU box starts one container of this image per flow run; the pool's job variables give it
# the GPU (a device request for the nvidia driver, i.e. `docker run --gpus all`) and mount the models
# read-only at /models (infra/README.md, "RTX box").
#
# Build from the repository root:
#   docker build -f infra/docker/gpu.Dockerfile -t dashcam-gpu:latest .
# Check the GPU is visible (needs the NVIDIA Container Toolkit on the host):
#   docker run --rm --gpus all dashcam-gpu:latest python -c "import torch; print(torch.cuda.is_available())"
# Without a registry: infra/docker/build-images.sh, which sets the build args below. EXTRAS="edge ocr" makes
# the CPU variant (the LiteRT detector and rapidocr, no torch: the heavy stage's CPU path) that CI runs.
#
# The torch wheels pinned in uv.lock carry their own CUDA 13 libraries: the base image provides the
# container-toolkit wiring (NVIDIA_* variables, set below for any base) and must not be newer than the host
# driver supports.
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

FROM ${UV_IMAGE} AS uv

FROM ${CUDA_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# the project's extras in this image (pyproject.toml)
ARG EXTRAS="gpu ocr"
LABEL org.dashcam.image="gpu" org.dashcam.extras="${EXTRAS}"

# ca-certificates for pulls of standard weights when /models lacks them. Sighting clips are encoded by PyAV,
# whose wheel carries its own FFmpeg: no ffmpeg package.
RUN if ! dpkg -s ca-certificates >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# uv is mounted into the steps that use it, not copied: the image does not carry it (38 MB).
# Python 3.11, what uv.lock was resolved and tested for: a base that has it (Debian bookworm) is used as is;
# on Ubuntu 24.04 (3.12 only) uv installs a standalone 3.11 in a world-readable place, not under /root.
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON=3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/dashcam-processor/.venv
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    uv python find 3.11 >/dev/null 2>&1 || uv python install 3.11

WORKDIR /opt/dashcam-processor
COPY pyproject.toml uv.lock ./
# ca_bundle: an optional build secret, the CA bundle of a network whose proxy re-signs TLS (never kept)
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --locked --no-dev --no-install-project $(for e in $EXTRAS; do printf -- '--extra %s ' "$e"; done)
COPY . .
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --locked --no-dev $(for e in $EXTRAS; do printf -- '--extra %s ' "$e"; done)

# UID/GID 10001 as on the hosts (infra/systemd/dashcam.sysusers), so files on the shares match.
RUN groupadd --system --gid 10001 dashcam \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/dashcam dashcam
USER dashcam

ENV PATH=/opt/dashcam-processor/.venv/bin:$PATH \
    DASHCAM_MODELS_DIR=/models \
    DASHCAM_CONFIG_DIR=/etc/dashcam-processor \
    DASHCAM_DATA_DIR=/var/lib/dashcam/data \
    EASYOCR_MODULE_PATH=/models/easyocr \
    YOLO_CONFIG_DIR=/var/lib/dashcam/ultralytics \
    PREFECT_HOME=/var/lib/dashcam/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PYTHONUNBUFFERED=1
# DASHCAM_DATA_DIR: the container's own scratch space, gone with the container; the storage areas are the
# shares the pool's job variables mount, at the paths devices/<hostname>.json gives them.
VOLUME ["/models"]

CMD ["dashcam", "--help"]
