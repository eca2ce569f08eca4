"""One vehicle, one sighting, as a user runs it: a synthetic drive written by the camera as two files goes
through `dashcam run` (a subprocess on a fresh data folder); each car that drives on over the file split is
one sighting in each file, the second linked to the first, and no sighting holds two cars."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dashcam.gps import Fix, write_gps
from dashcam.synth import synthesize
from dashcam.synth.synth import viofo_clip_name
from tests.support import models_dir

pytestmark = pytest.mark.slow
SECONDS, CUT = 24.0, 12.0


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _two_files(src: Path, truth: dict[str, Any], folder: Path) -> list[tuple[str, float]]:
    """The drive as the camera writes it: two files cut at a keyframe, each with its own GPS."""
    start = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00"))
    out = []
    for k, t0 in enumerate((0.0, CUT)):
        name = viofo_clip_name((start + timedelta(seconds=t0)).replace(tzinfo=None), sequence=k + 1)
        tmp = folder.parent / f"cut{k}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-ss", f"{t0:g}", "-i", str(src), "-t", f"{CUT:g}", "-c", "copy"]
            + [str(tmp)],
            check=True,
        )
        fixes = [
            Fix(f["t"] - t0, datetime.fromisoformat(f["time_utc"].replace("Z", "+00:00")), f["lat"], f["lon"])
            for f in truth["route"]
            if t0 <= f["t"] < t0 + CUT
        ]
        write_gps(tmp, folder / name, fixes)
        out.append((name, t0))
    return out


def test_cars_over_a_file_split_are_linked_and_never_merged(tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed to cut the drive into camera files (apt-get install ffmpeg)")
    made = synthesize(tmp_path / "drive.mp4", seconds=SECONDS, size=(1280, 720), seed=11, preset="ultrafast")
    truth = made.truth
    footage = tmp_path / "footage"
    footage.mkdir()
    files = dict(_two_files(made.path, truth, footage))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DASHCAM_"))}
    env.update(DASHCAM_DATA_DIR=str(tmp_path / "data"), DASHCAM_MODELS_DIR=str(models_dir()))
    dashcam = Path(sys.executable).with_name("dashcam")
    proc = subprocess.run(
        [str(dashcam), "run", str(footage), "--json", "--no-archive"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["clips"] == 2

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'dashcam.db'}")
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT s.id, s.label, t.boxes, s.continues_id, c.file_name FROM sighting s "
                "JOIN clip c ON c.id = s.clip_id JOIN sighting_track t ON t.sighting_id = s.id"
            )
        ).all()
    engine.dispose()
    samples = defaultdict(dict)  # drive second -> vehicle -> box
    for v in truth["vehicles"]:
        for s in v["samples"]:
            b = s["box"]
            samples[round(s["t"])][v["id"]] = [max(0, b[0]), max(0, b[1]), min(1280, b[2]), min(720, b[3])]
    owner: dict[int, Counter[int]] = {}
    for sid, label, boxes, _, name in rows:
        if label not in ("car", "truck", "bus", "motorcycle"):
            continue
        votes: Counter[int] = Counter()
        for b in json.loads(boxes):
            t = b[0] + files[name]
            if abs(t - round(t)) < 0.02:
                for vid, gt in samples.get(round(t), {}).items():
                    if _iou(gt, b[1:5]) >= 0.5:
                        votes[vid] += 1
        owner[sid] = votes
    # no sighting holds two vehicles
    assert all(len([n for n in v.values() if n >= 2]) <= 1 for v in owner.values()), owner
    first = {sid for sid, *_, name in rows if files[name] == 0.0}
    links = {sid: cont for sid, _, _, cont, _ in rows if cont is not None}
    crossing = [
        v["id"] for v in truth["vehicles"] if any(a < CUT - 1 and b > CUT + 1 for a, b in v["in_view"])
    ]
    assert len(crossing) == 3

    def best(sid: int) -> int | None:
        return owner[sid].most_common(1)[0][0] if owner.get(sid) else None

    # each car found in both files: its sighting in the second continues its sighting in the first
    both = [
        vid
        for vid in crossing
        if any(best(sid) == vid for sid in first)
        and any(best(sid) == vid for sid in owner if sid not in first)
    ]
    linked = [vid for sid, prev in links.items() for vid in both if best(sid) == vid == best(prev)]
    assert len(both) >= 2 and sorted(linked) == sorted(both), (links, {s: dict(v) for s, v in owner.items()})
    assert all(prev in first for prev in links.values())
    # one sighting per car a file, at most one more for the whole drive (the detector loses cars for seconds)
    per_vehicle = Counter(best(sid) for sid in owner if best(sid) is not None)
    extra = sum(n - 1 for n in per_vehicle.values()) - len(both)
    assert extra <= 1, per_vehicle
