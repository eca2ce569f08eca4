"""Footage for `dashcam demo`: a few synthetic drives (and, with real test data at hand, real photos)."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from dashcam.cli.common import progress
from dashcam.settings import get_settings

DEMO_SIZE = (1280, 720)
DEMO_FPS = 15.0
REAL_PHOTOS = 6


def _real_photo_dir(folder: Path) -> Path | None:
    """A few real plate photos with their boxes (DASHCAM_TESTDATA), copied into a scratch folder."""
    data = get_settings().testdata
    if data is None or not (data / "plates" / "groundtruth.csv").is_file():
        return None
    src = data / "plates" / "eu"
    with (data / "plates" / "groundtruth.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["set"] == "eu" and (src / r["image"]).is_file()][
            :REAL_PHOTOS
        ]
    if not rows:
        return None
    dest = folder.parent / "demo-photos" / "eu"
    dest.mkdir(parents=True, exist_ok=True)
    for r in rows:
        shutil.copyfile(src / r["image"], dest / r["image"])
    with (dest / "groundtruth.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dest


def make_demo_clips(folder: Path, *, clips: int, seconds: float, quiet: bool = False) -> list[dict[str, Any]]:
    """Synthesise the demo clips (once: existing ones are kept, so a second demo does no new work)."""
    from dashcam.synth import synthesize
    from dashcam.synth.route import DEFAULT_START

    folder.mkdir(parents=True, exist_ok=True)
    made: list[dict[str, Any]] = []
    photos = _real_photo_dir(folder)
    jobs: list[dict[str, Any]] = [
        {
            "seed": i,
            "seconds": seconds,
            "sequence": i + 1,
            "start_utc": DEFAULT_START + timedelta(seconds=i * seconds),
        }
        for i in range(clips)
    ]
    if photos is not None:
        jobs.append(
            {
                "seed": 99,
                "images_dir": photos,
                "sequence": clips + 1,
                "start_utc": DEFAULT_START + timedelta(seconds=clips * seconds),
            }
        )
    with progress(enabled=not quiet) as prog:
        bar = prog.add_task("synthesise", total=len(jobs))
        for job in jobs:
            marker = folder / f".demo-{job['sequence']}.done"
            if marker.is_file():
                made.append({"clip": marker.read_text().strip()})
                prog.advance(bar)
                continue
            res = synthesize(folder, size=DEMO_SIZE, fps=DEMO_FPS, viofo_name=True, **job)
            marker.write_text(str(res.path))
            made.append({"clip": str(res.path), "plates": res.plates, "truth": str(res.truth_path)})
            prog.advance(bar)
    return made
