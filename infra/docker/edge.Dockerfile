# Image of the edge pool (Jetson + Coral USB): the preprocess stage with TFLite on the Edge TPU, no torch.
# The Jetson Nano's JetPack Python (3.6) is too old for Prefect 3, so the edge pool is a docker pool: the
# worker on the Jetson starts one container of this image per flow run (infra/README.md, "Jetson + Coral").
#
# Build on the Jetson (or anywhere with buildx), from the repository root:
#   docker build -f infra/docker/edge.Dockerfile -t dashcam-edge:latest .
#   docker buildx build --platform linux/arm64 -f infra/docker/edge.Dockerfile -t dashcam-edge:latest --load .
# Without a registry: infra/docker/build-images.sh, which sets the build args below.
#
# The container needs the Coral: the pool's job variables mount /dev/bus/usb (as a volume, because the
# Coral re-enumerates with a new device number once its firmware is loaded) and allow USB devices with the
# cgroup rule "c 189:* rmw". The TFLite weights come in read-only at /models.
# (No "# syntax=" line: it makes BuildKit fetch its frontend from a registry; the built-in one has all we use.)
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# The Edge TPU runtime that ai-edge-litert loads as a delegate, from Coral's apt repository. Empty: an image
# without it (build-images.sh where that repository cannot be reached): the detector runs its CPU model.
ARG EDGETPU_RUNTIME=libedgetpu1-std
LABEL org.dashcam.image="edge" org.dashcam.edgetpu-runtime="${EDGETPU_RUNTIME}"

# ca_bundle: an optional build secret, the CA bundle of a network whose proxy re-signs TLS (never kept)
RUN --mount=type=secret,id=ca_bundle \
    if [ -n "$EDGETPU_RUNTIME" ]; then \
      ca=""; if [ -f /run/secrets/ca_bundle ]; then ca=/run/secrets/ca_bundle; fi; \
      apt-get update \
      && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
      && curl -fsSL ${ca:+--cacert "$ca"} https://packages.cloud.google.com/apt/doc/apt-key.gpg \
         | gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg \
      && echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main" \
         > /etc/apt/sources.list.d/coral-edgetpu.list \
      && apt-get ${ca:+-o Acquire::https::CAInfo="$ca"} update \
      && apt-get install -y --no-install-recommends "$EDGETPU_RUNTIME" libusb-1.0-0 \
      && apt-get purge -y --auto-remove curl gnupg \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# Same layout as a host install (infra/README.md): code and venv under /opt/dashcam-processor.
WORKDIR /opt/dashcam-processor
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/dashcam-processor/.venv

# Dependencies first (from uv.lock, the same pins as every other device), then the project: a code change
# does not reinstall the dependencies.
# uv is mounted into the steps that use it, not copied: the image does not carry it (38 MB).
COPY pyproject.toml uv.lock ./
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --locked --no-dev --no-install-project --extra edge
COPY . .
RUN --mount=from=uv,source=/uv,target=/usr/local/bin/uv \
    --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --locked --no-dev --extra edge

# UID/GID 10001 as on the hosts (infra/systemd/dashcam.sysusers), so files on the shares match. plugdev: the
# host's udev rule from libedgetpu1-std gives the Coral to group plugdev (gid 46 on Debian and Ubuntu alike),
# and device nodes keep the host's gid inside the container.
RUN groupadd --system --gid 10001 dashcam \
 && useradd --system --uid 10001 --gid 10001 --groups plugdev --create-home --home-dir /var/lib/dashcam dashcam
USER dashcam

ENV PATH=/opt/dashcam-processor/.venv/bin:$PATH \
    DASHCAM_MODELS_DIR=/models \
    DASHCAM_CONFIG_DIR=/etc/dashcam-processor \
    DASHCAM_DATA_DIR=/var/lib/dashcam/data \
    PREFECT_HOME=/var/lib/dashcam/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1
# DASHCAM_DATA_DIR: the container's own scratch space, gone with the container; the storage areas are the
# shares the pool's job variables mount, at the paths devices/<hostname>.json gives them.
VOLUME ["/models"]

# The docker worker replaces the command with the flow run's; this one is for a manual check:
#   docker run --rm dashcam-edge:latest
CMD ["dashcam", "--help"]
