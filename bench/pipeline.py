"""The whole main job on this machine: video seconds processed per wall second, with the time per stage.

    DASHCAM_MODELS_DIR=../shared/models python bench/pipeline.py [--clips 3] [--seconds 60] [--size 1920x1080]

Synthetic 1080p drives (cached) go through `dashcam run`'s pipeline on a fresh embedded default; the per-stage
times come from the stage runs the pipeline records. Target on 2 CPU cores: >= 1.0x (faster than real time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import models_dir, synthetic_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1920x1080")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="dashcam-bench-"))
    footage = work / "footage"
    footage.mkdir()
    for i in range(args.clips):
        shutil.copyfile(
            synthetic_clip(args.seconds, (w, h), seed=i), footage / f"2024_0518_0930{i:02d}_{i + 1:06d}F.MP4"
        )
    os.environ.update(
        DASHCAM_DATA_DIR=str(work / "data"),
        DASHCAM_MODELS_DIR=str(models_dir()),
        PREFECT_HOME=str(work / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    os.environ.pop("DASHCAM_CONFIG_DIR", None)
    from sqlalchemy import select

    from dashcam.db.models import StageRun
    from dashcam.db.session import session_scope
    from dashcam.stages import StageContext
    from flows.pipeline import pipeline

    t = time.perf_counter()
    summary = pipeline([str(footage)])
    wall = time.perf_counter() - t
    video = args.clips * args.seconds
    ctx = StageContext.load()
    per_stage: dict[str, float] = {}
    with session_scope(ctx.engine) as s:
        for r in s.execute(select(StageRun)).scalars():
            per_stage[r.stage] = per_stage.get(r.stage, 0.0) + (r.duration_s or 0.0)
    print(
        f"{args.clips} clip(s) x {args.seconds:g} s at {args.size}: {summary['sightings']} sightings, "
        f"{summary['plates']} plates, {len(summary['failures'])} failures"
    )
    print(f"wall {wall:.1f} s for {video:.0f} s of video: {video / wall:.2f}x real time")
    for stage, secs in per_stage.items():
        print(f"  {stage:<10} {secs:7.1f} s  ({video / secs if secs else float('inf'):.2f}x real time alone)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
