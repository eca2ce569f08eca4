"""Shared helpers of the benchmarks: the decode floor, cached synthetic footage, the real models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("DASHCAM_BENCH_CACHE", Path.home() / ".cache" / "dashcam" / "bench"))


def ffmpeg_floor(path: Path) -> float:
    """Seconds `ffmpeg -f null` takes to decode the whole video stream: the decode floor."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SystemExit("ffmpeg is needed for the decode floor (apt-get install ffmpeg)")
    t = time.perf_counter()
    subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"], check=True)
    return time.perf_counter() - t


def synthetic_clip(
    seconds: float,
    size: tuple[int, int],
    fps: float = 30.0,
    seed: int = 0,
    *,
    parked: bool = False,
    passing_at: tuple[float, ...] = (),
) -> Path:
    """A synthetic drive (or with ``parked`` a still scene, with a vehicle driving past at each of
    ``passing_at``), made once and cached (rendering minutes of 1080p takes a while)."""
    from dashcam.synth import synthesize

    kind = ("parked" + "".join(f"-{t:g}" for t in passing_at) + "-") if parked else ""
    out = CACHE / f"synth-{kind}{int(seconds)}s-{size[0]}x{size[1]}-{int(fps)}fps-{seed}.mp4"
    if not out.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"rendering {out.name} (once; cached in {CACHE}) ...", flush=True)
        synthesize(
            out,
            seconds=seconds,
            size=size,
            fps=fps,
            seed=seed,
            preset="ultrafast",
            parked=parked,
            passing_at=list(passing_at) or None,
        )
    return out


def models_dir() -> Path:
    d = os.environ.get("DASHCAM_MODELS_DIR")
    if not d:
        raise SystemExit("set DASHCAM_MODELS_DIR to the folder with the model files")
    return Path(d).resolve()


def testdata() -> Path:
    d = os.environ.get("DASHCAM_TESTDATA")
    if not d:
        raise SystemExit("set DASHCAM_TESTDATA to the real test data folder")
    return Path(d).resolve()


def footage_folder(work: Path, clips: int, seconds: float, size: tuple[int, int]) -> Path:
    """``work/footage`` holding ``clips`` synthetic drives (seeds 0..clips-1), named as a Viofo names them."""
    footage = work / "footage"
    footage.mkdir()
    for i in range(clips):
        src = synthetic_clip(seconds, size, seed=i)
        shutil.copyfile(src, footage / f"2024_0518_0930{i:02d}_{i + 1:06d}F.MP4")
    return footage
