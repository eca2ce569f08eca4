#!/usr/bin/env bash
# Build the flow-run images of the docker pools, dashcam-edge and dashcam-gpu, where no image registry can
# be reached (infra/README.md, "Offline build").
#
# The images come from the same Dockerfiles a user with registry access builds with plain `docker build`;
# only their base images change, through the Dockerfiles' build args:
#   PYTHON_IMAGE, CUDA_IMAGE  dashcam/base:bookworm: Debian bookworm (python3 is 3.11) made by debootstrap
#                             from the Debian mirror apt already uses, then `docker import`
#   UV_IMAGE                  dashcam/uv:<version>: the uv and uvx binaries of the uv wheel from PyPI, at the
#                             version the Dockerfiles pin
# uv installs the locked dependencies from PyPI inside the build, on the host network (the default bridge may
# lead nowhere). The host's CA bundle goes in as a build secret, never into an image.
#
# Usage (root, or the docker group plus sudo for debootstrap):
#   infra/docker/build-images.sh                                  # dashcam-edge:latest, dashcam-gpu:latest
#   infra/docker/build-images.sh --gpu-extras "edge ocr" --tag ci # the gpu image's CPU variant (CI)
#   infra/docker/build-images.sh edge                             # one image
# Options:
#   --tag TAG           image tag (default: latest)
#   --gpu-extras LIST   extras of the gpu image (default: "gpu ocr", CUDA torch; "edge ocr": LiteRT + rapidocr)
#   --edgetpu auto|yes|no  put Coral's Edge TPU runtime in the edge image (auto: when its apt repository answers)
#   --rebuild-base      make the base image again even if a recent one exists
# Environment: DEBIAN_MIRROR (default: the first Debian mirror in apt's sources), DEBIAN_SECURITY_MIRROR,
# DASHCAM_IMAGE_CACHE (default
# ~/.cache/dashcam-images: the base's root file system and the uv wheel, kept between runs),
# DASHCAM_BASE_MAX_AGE_DAYS (default 30: an older base is made again, with the mirror's updates).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=latest
GPU_EXTRAS="gpu ocr"
EDGETPU=auto
REBUILD_BASE=0
IMAGES=()
while (($#)); do
  case $1 in
    --tag) TAG=$2; shift 2 ;;
    --gpu-extras) GPU_EXTRAS=$2; shift 2 ;;
    --edgetpu) EDGETPU=$2; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    edge|gpu) IMAGES+=("$1"); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
((${#IMAGES[@]})) || IMAGES=(edge gpu)
CACHE=${DASHCAM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dashcam-images}
MAX_AGE_DAYS=${DASHCAM_BASE_MAX_AGE_DAYS:-30}
BASE=dashcam/base:bookworm
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
mkdir -p "$CACHE"

say() { echo "build-images: $*" >&2; }

# --------------------------------------------------------------------------- a docker that builds with BuildKit
# The Dockerfiles use RUN --mount (cache, secret): BuildKit. Docker >= 23 builds with it through the buildx
# plugin only; Debian's docker.io (20.10) has it built in (DOCKER_BUILDKIT=1).
BUILD=()
for cli in docker /usr/bin/docker; do
  command -v "$cli" >/dev/null || continue
  if "$cli" buildx version >/dev/null 2>&1; then
    BUILD=("$cli" buildx build --load); DOCKER=$cli; break
  fi
  major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)
  if [[ $major =~ ^[0-9]+$ ]] && ((major < 23)); then
    BUILD=(env DOCKER_BUILDKIT=1 "$cli" build); DOCKER=$cli; break
  fi
done
if ((${#BUILD[@]} == 0)); then
  say "no docker that builds with BuildKit: install the buildx plugin, or Debian's docker.io"
  exit 1
fi
"$DOCKER" info >/dev/null 2>&1 || { say "the Docker engine does not answer ($DOCKER info): start dockerd"; exit 1; }

# --------------------------------------------------------------------------- base image: debootstrap + import
base_age_days() {
  local created
  created=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.dashcam.base.created"}}' "$BASE" 2>/dev/null) || return 1
  echo $(( ($(date -u +%s) - $(date -u -d "$created" +%s)) / 86400 ))
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  # deb822 sources (URIs:) or one-line ones (deb URI suite ...); the main archive, not security or ports
  local found
  found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' \
            | grep -E '/debian/?$' | head -1 || true)
  [ -n "$found" ] || found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; break } }' \
            | grep -E '/debian/?$' | head -1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

make_base() {
  local arch tarball age
  arch=$(dpkg --print-architecture)
  tarball="$CACHE/base-bookworm-$arch.tar.gz"
  if ((!REBUILD_BASE)) && age=$(base_age_days) && ((age <= MAX_AGE_DAYS)); then
    say "$BASE: present ($age day(s) old)"; return
  fi
  if ((!REBUILD_BASE)) && [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime -"$MAX_AGE_DAYS")" ]; then
    say "$BASE: importing the cached root file system $tarball"
  else
    command -v debootstrap >/dev/null || { say "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
    local mirror rootfs t0=$SECONDS
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/dashcam-rootfs.XXXXXX")
    say "$BASE: debootstrap bookworm from $mirror (a few minutes)"
    # python3: the interpreter the images run (3.11); passwd: useradd for the image's user
    $SUDO nice debootstrap --variant=minbase --include=python3,ca-certificates,passwd \
      bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
      || { say "debootstrap failed, see $CACHE/debootstrap.log"; $SUDO rm -rf "$rootfs"; exit 1; }
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
      "$mirror" "$mirror" "${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}" \
      | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null
    # no manuals, documentation or translations (~50 MB), now or from later apt installs; licences stay
    printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
      | $SUDO tee "$rootfs/etc/dpkg/dpkg.cfg.d/01-dashcam-slim" >/dev/null
    $SUDO find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
    $SUDO rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
    $SUDO tar -C "$rootfs" --numeric-owner -c . | nice gzip -1 >"$tarball.part"
    mv "$tarball.part" "$tarball"
    $SUDO rm -rf "$rootfs"
    say "$BASE: root file system made in $((SECONDS - t0)) s, cached as $tarball"
  fi
  "$DOCKER" import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.dashcam.base.created=$(date -u -r "$tarball" +%F)" \
    "$tarball" "$BASE" >/dev/null
}

# --------------------------------------------------------------------------- uv image: the wheel from PyPI
make_uv() {
  local version wheel dir
  version=$(sed -n 's|^ARG UV_IMAGE=.*:\([0-9][0-9.]*\)$|\1|p' "$ROOT/infra/docker/edge.Dockerfile")
  [ -n "$version" ] || { say "no uv version in edge.Dockerfile's ARG UV_IMAGE"; exit 1; }
  UV_IMAGE_LOCAL=dashcam/uv:$version
  if "$DOCKER" image inspect "$UV_IMAGE_LOCAL" >/dev/null 2>&1; then return; fi
  wheel=$(ls "$CACHE"/uv-"$version"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$CACHE" "uv==$version"
    wheel=$(ls "$CACHE"/uv-"$version"-*.whl | head -1)
  fi
  dir=$(mktemp -d)
  python3 - "$wheel" "$dir" <<'EOF'
import sys, zipfile
from pathlib import Path

wheel, out = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in ("uv", "uvx"):
        member = next(m for m in z.namelist() if m.endswith(f".data/scripts/{name}"))
        (out / name).write_bytes(z.read(member))
        (out / name).chmod(0o755)
EOF
  # the same layout as ghcr.io/astral-sh/uv: the two binaries at the root of an otherwise empty image
  tar -C "$dir" --owner=0 --group=0 -c uv uvx | "$DOCKER" import - "$UV_IMAGE_LOCAL" >/dev/null
  rm -rf "$dir"
  say "$UV_IMAGE_LOCAL: made from $(basename "$wheel")"
}

# --------------------------------------------------------------------------- the images
edgetpu_package() {
  case $EDGETPU in
    yes) echo libedgetpu1-std ;;
    no) echo "" ;;
    auto)
      if curl -fsS -o /dev/null --max-time 15 https://packages.cloud.google.com/apt/dists/coral-edgetpu-stable/Release 2>/dev/null; then
        echo libedgetpu1-std
      else
        say "Coral's apt repository does not answer: dashcam-edge is built WITHOUT the Edge TPU runtime" \
            "(the detector then runs its CPU model); --edgetpu yes to insist"
        echo ""
      fi ;;
    *) say "--edgetpu: auto, yes or no"; exit 2 ;;
  esac
}

build() {
  local name=$1 ref=dashcam-$1:$TAG t0=$SECONDS size
  local args=(--network host -f "$ROOT/infra/docker/$name.Dockerfile" -t "$ref"
              --build-arg "UV_IMAGE=$UV_IMAGE_LOCAL")
  local ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  [ -f "$ca" ] && args+=(--secret "id=ca_bundle,src=$ca")
  case $name in
    edge) args+=(--build-arg "PYTHON_IMAGE=$BASE" --build-arg "EDGETPU_RUNTIME=$(edgetpu_package)") ;;
    gpu) args+=(--build-arg "CUDA_IMAGE=$BASE" --build-arg "EXTRAS=$GPU_EXTRAS") ;;
  esac
  say "$ref: building"
  nice "${BUILD[@]}" "${args[@]}" "$ROOT"
  size=$("$DOCKER" image inspect -f '{{.Size}}' "$ref")
  echo "$ref  $((size / 1000000)) MB  built in $((SECONDS - t0)) s"
}

make_base
make_uv
for name in "${IMAGES[@]}"; do
  build "$name"
done
# the previous builds of these tags, now untagged
"$DOCKER" image prune -f --filter label=org.dashcam.image >/dev/null
