"""Start-up and everyday commands: what a user waits for before any work, against `import prefect` as the floor.

    DASHCAM_MODELS_DIR=../shared/models DASHCAM_TESTDATA=../shared/testdata python bench/startup.py [--repeat 3]

Each command runs the way a user types it: the installed `dashcam` script as a fresh process, a fresh home
and no PREFECT_*/DASHCAM_* variables but the data and models folders. The floor, measured in the same run,
is `python -c "import prefect"`: the least any command that went through Prefect would cost. Medians of
``--repeat`` runs; "fresh" means a data folder that does not exist yet.

Targets: `--help` <= 1 s, `gps FILE` <= 2 s, `ingest --from` of one clip <= 8 s fresh and <= 4 s after,
and `dashcam run` time outside the stages (wall minus the stage runs it records) <= 5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import models_dir, testdata
from pipeline import stage_seconds

DASHCAM = str(Path(sys.executable).parent / "dashcam")


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return took


def median_of(n: int, run: Callable[[int], float]) -> float:
    return statistics.median(run(i) for i in range(n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measure (the median is shown)")
    args = ap.parse_args()
    clip = testdata() / "video" / "highway" / "test_video.mp4"  # 1.5 s, 1280x720, real
    gps_clip = testdata() / "gps" / "vantrue_fixtures" / "vantrue-n2x.mp4"
    work = Path(tempfile.mkdtemp(prefix="dashcam-startup-"))
    n = args.repeat

    def env(tag: str, **extra: str) -> dict[str, str]:
        home = work / f"home-{tag}"
        home.mkdir(exist_ok=True)
        return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}

    def folder_of_one(tag: str) -> Path:
        d = work / f"in-{tag}"
        d.mkdir()
        # the same bytes under another name would be a known clip: a trailing MP4 `free` box makes it new
        data = clip.read_bytes() + (12).to_bytes(4, "big") + b"free" + tag.encode()[:4].ljust(4, b"-")
        dst = d / f"2024_0518_0930{len(tag) % 60:02d}_{abs(hash(tag)) % 999999:06d}F.MP4"
        dst.write_bytes(data)
        # written a minute ago, as a card copied before the import: a file written a moment ago makes the
        # import wait `import.stable_s` (2 s) to be sure nothing is still writing it
        old = time.time() - 60
        os.utime(dst, (old, old))
        return d

    try:
        rows: list[tuple[str, float, float | None]] = []
        floor = median_of(n, lambda i: timed([sys.executable, "-c", "import prefect"], env("floor"), work))
        rows.append(('floor: python -c "import prefect"', floor, None))
        rows.append(
            ("dashcam --help", median_of(n, lambda i: timed([DASHCAM, "--help"], env("h"), work)), 1.0)
        )
        rows.append(
            (
                "dashcam gps FILE",
                median_of(n, lambda i: timed([DASHCAM, "gps", str(gps_clip)], env("g"), work)),
                2.0,
            )
        )

        def ingest_fresh(i: int) -> float:
            data = work / f"data-fresh-{i}"
            return timed(
                [DASHCAM, "ingest", "--from", str(folder_of_one(f"f{i}"))],
                env(f"f{i}", DASHCAM_DATA_DIR=str(data)),
                work,
            )

        rows.append(("dashcam ingest --from (1 clip, fresh folder)", median_of(n, ingest_fresh), 8.0))
        later = work / "data-later"
        timed(
            [DASHCAM, "ingest", "--from", str(folder_of_one("first"))],
            env("l", DASHCAM_DATA_DIR=str(later)),
            work,
        )
        rows.append(
            (
                "dashcam ingest --from (1 clip, after)",
                median_of(
                    n,
                    lambda i: timed(
                        [DASHCAM, "ingest", "--from", str(folder_of_one(f"l{i}"))],
                        env("l", DASHCAM_DATA_DIR=str(later)),
                        work,
                    ),
                ),
                4.0,
            )
        )

        # the other way to run the stages on one machine: Prefect flows on a temporary server (`--prefect`)
        def ingest_prefect(tag: str, data: Path) -> float:
            return timed(
                [DASHCAM, "ingest", "--prefect", "--from", str(folder_of_one(tag))],
                env("p", DASHCAM_DATA_DIR=str(data)),
                work,
            )

        rows.append(
            (
                "  the same with --prefect (fresh folder)",
                median_of(n, lambda i: ingest_prefect(f"pf{i}", work / f"data-prefect-{i}")),
                None,
            )
        )
        rows.append(
            (
                "  the same with --prefect (after)",
                median_of(n, lambda i: ingest_prefect(f"pa{i}", work / "data-prefect-0")),
                None,
            )
        )

        def run_outside(i: int, fresh: bool) -> float:
            data = work / (f"data-run-{i}" if fresh else "data-run-later")
            folder = folder_of_one(f"r{int(fresh)}{i}")
            e = env("r", DASHCAM_DATA_DIR=str(data), DASHCAM_MODELS_DIR=str(models_dir()))
            wall = timed([DASHCAM, "run", str(folder), "--json"], e, work)
            ids = _clip_ids(data, folder)
            return wall - sum(stage_seconds(data, ids).values())

        rows.append(
            (
                "dashcam run, outside the stages (fresh folder)",
                median_of(n, lambda i: run_outside(i, True)),
                5.0,
            )
        )
        run_outside(99, False)  # the later runs find the folder and its database made
        rows.append(
            ("dashcam run, outside the stages (after)", median_of(n, lambda i: run_outside(i, False)), 5.0)
        )

        print(f"median of {n} run(s), {shutil.which('nproc') and subprocess.getoutput('nproc')} cores")
        print(f"{'measure':<50} {'seconds':>8} {'/floor':>7} {'target':>7} {'met':>4}")
        for name, secs, target in rows:
            met = "" if target is None else ("yes" if secs <= target else "NO")
            tgt = "" if target is None else f"{target:.0f}"
            print(f"{name:<50} {secs:8.2f} {secs / floor:7.2f} {tgt:>7} {met:>4}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _clip_ids(data: Path, folder: Path) -> list[int]:
    import sqlite3

    names = [p.name for p in folder.iterdir()]
    with sqlite3.connect(data / "dashcam.db") as c:
        marks = ",".join("?" * len(names))
        return [int(r[0]) for r in c.execute(f"select id from clip where file_name in ({marks})", names)]


if __name__ == "__main__":
    sys.exit(main())
