"""The whole main job on this machine: video seconds processed per wall second, with the time per stage.

    DASHCAM_MODELS_DIR=../shared/models python bench/pipeline.py [--clips 2] [--seconds 30] [--size 1920x1080]

Synthetic 1080p drives (rendered once and cached; rendering is not timed) go through `dashcam run FOLDER`, the
command a user types, as a child process on a fresh data folder: the wall time runs from starting the command
to its exit, so it holds everything the user waits for (Python and imports, the embedded Prefect server and
its new database, model loading, every stage, the summary). Per-stage times come from the stage runs the
pipeline records. Target on 2 CPU cores: >= 1.0x (faster than real time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, footage_folder, models_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument(
        "--again", action="store_true", help="also time a second run over new clips, same data folder"
    )
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="dashcam-bench-"))
    try:
        footage = footage_folder(work, args.clips, args.seconds, (w, h))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DASHCAM_"))}
        env.update(DASHCAM_DATA_DIR=str(work / "data"), DASHCAM_MODELS_DIR=str(models_dir()))
        dashcam = [sys.executable, "-c", "from dashcam.cli import main; main()"]
        video = args.clips * args.seconds
        runs = [("first run (new data folder, new Prefect database)", footage)]
        if args.again:
            again = work / "again"
            again.mkdir()
            for i, clip in enumerate(sorted(footage.iterdir())):
                # the same drives as other files (a trailing MP4 `free` box makes another content hash)
                data = clip.read_bytes() + (12).to_bytes(4, "big") + b"free" + f"ag{i:02d}".encode()
                (again / f"2024_0518_1030{i:02d}_{i + 101:06d}F.MP4").write_bytes(data)
            runs.append(("a later run (same data folder, new clips)", again))
        print(
            f"{args.clips} clip(s) x {args.seconds:g} s at {args.size}; `dashcam run FOLDER --json` on {os.cpu_count()} cores"
        )
        for label, folder in runs:
            t = time.perf_counter()
            proc = subprocess.run(
                [*dashcam, "run", str(folder), "--json"], cwd=ROOT, env=env, capture_output=True, text=True
            )
            wall = time.perf_counter() - t
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                print(f"dashcam run exited {proc.returncode}", file=sys.stderr)
                return 1
            summary = json.loads(proc.stdout)
            per_stage = stage_seconds(work / "data", summary["clip_ids"])
            print(f"{label}:")
            print(
                f"  {summary['sightings']} sightings, {summary['plates']} plates, "
                f"{len(summary['failures'])} failures"
            )
            print(f"  wall {wall:.1f} s for {video:.0f} s of video: {video / wall:.2f}x real time")
            for stage, secs in per_stage.items():
                alone = f"{video / secs:.2f}x real time alone" if secs else "-"
                print(f"    {stage:<10} {secs:7.1f} s  ({alone})")
            outside = wall - sum(per_stage.values())
            print(f"    {'outside':<10} {outside:7.1f} s  (start-up, Prefect, model loading, summary)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def stage_seconds(data_dir: Path, clip_ids: list[int]) -> dict[str, float]:
    """Seconds per stage, summed over the clips, from the stage runs in the embedded database."""
    os.environ["DASHCAM_DATA_DIR"] = str(data_dir)
    os.environ.pop("DASHCAM_CONFIG_DIR", None)
    os.environ.pop("DASHCAM_DATABASE_URL", None)
    from sqlalchemy import select

    from dashcam.db.models import StageRun
    from dashcam.db.session import session_scope
    from dashcam.stages.context import StageContext

    ctx = StageContext.load()
    out: dict[str, float] = {}
    with session_scope(ctx.engine) as s:
        for r in s.execute(select(StageRun).where(StageRun.clip_id.in_(clip_ids))).scalars():  # type: ignore[attr-defined]
            out[r.stage] = out.get(r.stage, 0.0) + (r.duration_s or 0.0)
    ctx.engine.dispose()
    return out


if __name__ == "__main__":
    sys.exit(main())
