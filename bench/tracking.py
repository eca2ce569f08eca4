"""One vehicle, one sighting: the whole `dashcam run` scored against the truth of synthetic drives.

    DASHCAM_MODELS_DIR=../shared/models .venv/bin/python bench/tracking.py [--seeds 1,2,3,4,5]
        [--seconds 30] [--size 1280x720] [--split 0] [--json OUT.json]

Each seed's drive is made by `dashcam synth --seconds S --size WxH --seed N` (cached: rendering is not
timed) and goes through `dashcam run FOLDER --json --no-archive`, a child process on a fresh data folder,
as a user runs it. ``--split K`` renders a drive of K x S seconds and cuts it at S-second keyframes into K
consecutive camera files (Viofo names, sequence numbers, GPS), so a car passing over a file split is
scored as the user sees it. The stored sightings are then matched to the truth's per-second vehicle boxes
(clipped to the frame) at IoU >= 0.5:

- found / missed: vehicles in view for 2 s or more that one sighting or more belongs to (a sighting
  belongs to the vehicle it matches most often);
- extra: sightings beyond the first of each vehicle (one car split in two is one extra); sightings linked
  across a clip boundary (``continues_id``) count as one;
- no vehicle: vehicle sightings that match no vehicle at any second;
- merged: sightings matching two vehicles at 2 seconds or more each;
- IDF1 per drive: identity F1 over the truth boxes 20 px tall or more (smaller ones are neither
  required nor counted against a sighting that matches them);
- recall per box height, and the heavy stage's seconds per decoded frame (its stage-run time);
- the wall and CPU seconds (user + system) of the whole `dashcam run`, and the load average after it: on a
  machine shared with other work the wall time is the machine's, the CPU seconds the run's own (2 cores
  run it faster than real time when they are under twice the drive's length).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from _common import CACHE, ROOT, models_dir

from dashcam.vision.boxes import iou as _iou

IOU = 0.5
MIN_IN_VIEW_S = 2.0
IGNORE_BELOW_PX = 20.0
MIN_VISIBLE = 0.5  # of a vehicle's box, unhidden by nearer vehicles: "in plain view"
HEIGHT_BINS = (0, 20, 40, 80, 160, 10_000)
VEHICLE_LABELS = {"car", "truck", "bus", "motorcycle"}
DASHCAM = [sys.executable, "-c", "from dashcam.cli import main; main()"]


@dataclass
class Found:
    """One sighting as stored: the drive's time of each box, and the link to the part before it."""

    id: int
    label: str
    boxes: dict[float, tuple[float, float, float, float]]  # drive time (s, rounded) -> box
    continues_id: int | None = None
    merged_from: int = 1


@dataclass
class Score:
    seed: int
    vehicles: int = 0
    found: int = 0
    missed: list[int] = field(default_factory=list)
    sightings: int = 0
    extra: int = 0
    no_vehicle: int = 0
    merged: int = 0
    idf1: float = 0.0
    idf1_seen: float = 0.0
    plain_vehicles: int = 0
    plain_missed: list[int] = field(default_factory=list)
    heavy_s: float = 0.0
    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    merged_tracks: int = 0
    merged_vehicles: list[list[int]] = field(default_factory=list)  # per merged sighting: its vehicles
    by_height: dict[str, list[int]] = field(default_factory=dict)  # bin -> [found, total]
    split_vehicles: dict[int, int] = field(default_factory=dict)


# ---------------------------------------------------------------- footage


def render(seed: int, seconds: float, size: str, split: int) -> list[tuple[Path, float]]:
    """The drive's files (made once, cached) with each one's start in drive time."""
    total = seconds * max(1, split)
    base = CACHE / f"tracking-{int(total)}s-{size}-seed{seed}.mp4"
    if not base.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"rendering {base.name} (once; cached in {CACHE}) ...", flush=True)
        cmd = [*DASHCAM, "synth", str(base), "--seconds", f"{total:g}", "--size", size, "--seed", str(seed)]
        subprocess.run([*cmd, "--json"], cwd=ROOT, check=True, capture_output=True)
    if split <= 1:
        return [(base, 0.0)]
    return cut(base, seconds, split)


def cut(base: Path, seconds: float, parts: int) -> list[tuple[Path, float]]:
    """Consecutive camera files of one drive: stream copies cut at keyframes, each with its GPS."""
    from datetime import datetime, timedelta

    from dashcam.gps import Fix, write_gps
    from dashcam.synth.synth import viofo_clip_name

    truth = json.loads(Path(f"{base}.truth.json").read_text())
    start = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00"))
    out = []
    for k in range(parts):
        t0 = k * seconds
        name = viofo_clip_name((start + timedelta(seconds=t0)).replace(tzinfo=None), sequence=k + 1)
        dest = base.with_name(f"{base.stem}-part{k + 1}") / name
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.cut.mp4")
            subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-ss", f"{t0:g}", "-i", str(base), "-t", f"{seconds:g}"]
                + ["-c", "copy", "-an", str(tmp)],
                check=True,
            )
            fixes = [
                Fix(
                    r["t"] - t0,
                    datetime.fromisoformat(r["time_utc"].replace("Z", "+00:00")),
                    r["lat"],
                    r["lon"],
                    r.get("speed_kmh"),
                    r.get("heading"),
                )
                for r in truth["route"]
                if t0 <= r["t"] < t0 + seconds
            ]
            write_gps(tmp, dest, fixes)
            tmp.unlink()
        out.append((dest, t0))
    return out


# ---------------------------------------------------------------- running


def run_drive(
    files: list[tuple[Path, float]], work: Path
) -> tuple[float, float, dict[str, Any], list[Found], Path]:
    """Wall seconds and CPU seconds (user + system, the command and its children) of `dashcam run`, its
    summary, its sightings and its data folder. On a shared machine the CPU seconds say more than the wall."""
    footage = work / "footage"
    footage.mkdir(parents=True)
    starts = {}
    for i, (f, t0) in enumerate(files):
        name = f.name if len(files) > 1 else f"2024_0518_093000_{i + 1:06d}F.MP4"
        shutil.copyfile(f, footage / name)
        starts[name] = t0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DASHCAM_"))}
    env.update(DASHCAM_DATA_DIR=str(work / "data"), DASHCAM_MODELS_DIR=str(models_dir()))
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [*DASHCAM, "run", str(footage), "--json", "--no-archive"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"dashcam run exited {proc.returncode}: {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    return wall, cpu, summary, read_sightings(work / "data", starts), work / "data"


def read_sightings(data_dir: Path, starts: dict[str, float]) -> list[Found]:
    """Vehicle sightings of the run, their boxes in drive time (each clip's start added)."""
    import sqlite3

    con = sqlite3.connect(data_dir / "dashcam.db")
    con.row_factory = sqlite3.Row
    cols = {r[1] for r in con.execute("PRAGMA table_info(sighting)")}
    extra = ", ".join(c for c in ("continues_id", "merged_from") if c in cols)
    rows = con.execute(
        "SELECT s.id, s.label, t.boxes, c.file_name" + (f", {extra}" if extra else "") + " FROM sighting s "
        "JOIN clip c ON c.id = s.clip_id LEFT JOIN sighting_track t ON t.sighting_id = s.id"
    ).fetchall()
    out = []
    for r in rows:
        if r["label"] not in VEHICLE_LABELS:
            continue
        t0 = starts.get(r["file_name"], 0.0)
        boxes = {round(b[0] + t0, 2): (b[1], b[2], b[3], b[4]) for b in json.loads(r["boxes"] or "[]")}
        keys = r.keys()
        out.append(
            Found(
                r["id"],
                r["label"],
                boxes,
                r["continues_id"] if "continues_id" in keys else None,
                (r["merged_from"] or 1) if "merged_from" in keys else 1,
            )
        )
    con.close()
    return out


def heavy_stats(data_dir: Path) -> tuple[float, int, dict[str, float]]:
    import sqlite3

    con = sqlite3.connect(data_dir / "dashcam.db")
    secs, frames, timings = 0.0, 0, Counter()
    for dur, stats in con.execute("SELECT duration_s, stats FROM stage_run WHERE stage = 'heavy'"):
        secs += dur or 0.0
        st = json.loads(stats or "{}")
        frames += int(st.get("frames", 0))
        timings.update(st.get("timings") or {})
    con.close()
    return secs, frames, dict(timings)


# ---------------------------------------------------------------- scoring


def _clip(b: list[float], w: int, h: int) -> tuple[float, float, float, float]:
    return (max(0.0, b[0]), max(0.0, b[1]), min(float(w), b[2]), min(float(h), b[3]))


def chains(found: list[Found]) -> list[list[Found]]:
    """Sightings linked over clip boundaries, as one chain each (what a user counts as one)."""
    by_id = {f.id: f for f in found}
    head: dict[int, int] = {}

    def root(f: Found) -> int:
        seen = set()
        while f.continues_id in by_id and f.id not in seen:
            seen.add(f.id)
            f = by_id[f.continues_id]  # type: ignore[index]
        return f.id

    groups: dict[int, list[Found]] = defaultdict(list)
    for f in found:
        head[f.id] = root(f)
        groups[head[f.id]].append(f)
    return list(groups.values())


def visible(boxes: dict[int, tuple[float, float, float, float]]) -> dict[int, float]:
    """The part of each vehicle's box that no nearer vehicle hides (on a flat road the nearer one's box
    reaches lower in the frame), sampled on a 16 x 16 grid of points."""
    out = {}
    g = (np.arange(16) + 0.5) / 16
    for vid, b in boxes.items():
        xs, ys = np.meshgrid(b[0] + g * (b[2] - b[0]), b[1] + g * (b[3] - b[1]))
        hid = np.zeros_like(xs, dtype=bool)
        for other, o in boxes.items():
            if other != vid and o[3] > b[3]:
                hid |= (xs >= o[0]) & (xs <= o[2]) & (ys >= o[1]) & (ys <= o[3])
        out[vid] = 1.0 - float(hid.mean())
    return out


def score(seed: int, truth: dict[str, Any], found: list[Found]) -> Score:
    w, h = truth["size"]
    sc = Score(seed)
    times: dict[float, dict[int, tuple[float, float, float, float]]] = defaultdict(dict)
    for v in truth["vehicles"]:
        for s in v["samples"]:
            times[round(s["t"], 2)][v["id"]] = _clip(s["box"], w, h)
    groups = chains(found)
    sc.sightings = len(groups)
    sc.merged_tracks = sum(f.merged_from - 1 for f in found)
    pred: dict[float, dict[int, tuple[float, float, float, float]]] = defaultdict(dict)
    for gi, g in enumerate(groups):
        for f in g:
            for t, b in f.boxes.items():
                pred[t][gi] = b
    # matches per second: truth vehicle -> sighting group, one to one, best IoU first
    hits: Counter[tuple[int, int]] = Counter()
    big_hits: Counter[tuple[int, int]] = Counter()  # the same, where the vehicle is big enough to count
    seen_hits: Counter[tuple[int, int]] = Counter()  # ... and at least half of it in sight
    gt_total = pred_total = seen_total = seen_pred = 0
    bins = [f"{lo}-{hi}" if hi < 10_000 else f">={lo}" for lo, hi in pairwise(HEIGHT_BINS)]
    found_bins: Counter[str] = Counter()
    total_bins: Counter[str] = Counter()
    vis = {t: visible(gts) for t, gts in times.items()}
    for t, gts in times.items():
        ps = pred.get(t, {})
        pairs = sorted(
            ((_iou(gb, pb), vid, gi) for vid, gb in gts.items() for gi, pb in ps.items()), reverse=True
        )
        matched: dict[int, int] = {}  # sighting group -> vehicle
        for iou, vid, gi in pairs:
            if iou < IOU or vid in matched.values() or gi in matched:
                continue
            matched[gi] = vid
            hits[(vid, gi)] += 1
        small = {vid for vid, gb in gts.items() if gb[3] - gb[1] < IGNORE_BELOW_PX}
        hidden = small | {vid for vid in gts if vis[t][vid] < MIN_VISIBLE}
        for gi, vid in matched.items():
            if vid not in small:
                big_hits[(vid, gi)] += 1
            if vid not in hidden:
                seen_hits[(vid, gi)] += 1
        for vid, gb in gts.items():
            hgt = gb[3] - gb[1]
            if hgt <= 0:
                continue
            k = next(i for i in range(len(bins)) if HEIGHT_BINS[i] <= hgt < HEIGHT_BINS[i + 1])
            total_bins[bins[k]] += 1
            found_bins[bins[k]] += vid in matched.values()
            gt_total += vid not in small
            seen_total += vid not in hidden
        # a box on a vehicle too small (or too hidden) to count is neither required nor wrong
        for ignored, acc in ((small, 0), (hidden, 1)):
            n = sum(
                1
                for gi, pb in ps.items()
                if matched.get(gi) not in ignored
                and not (gi not in matched and any(_iou(gts[v], pb) >= IOU for v in ignored))
            )
            if acc:
                seen_pred += n
            else:
                pred_total += n
    sc.by_height = {b: [found_bins[b], total_bins[b]] for b in bins}
    # sightings with no box at a whole second: match them to the truth between two seconds (at the
    # clip's ends, where only one second is known, to the nearest one within half a second)
    per_group: dict[int, Counter[int]] = defaultdict(Counter)
    for (vid, gi), n in hits.items():
        per_group[gi][vid] += n
    for gi, g in enumerate(groups):
        if gi in per_group:
            continue
        for f in g:
            for t, b in f.boxes.items():
                lo, hi = round(float(np.floor(t)), 2), round(float(np.ceil(t)), 2)
                near = round(float(np.round(t)), 2)
                for vid in set(times.get(lo, {})) | set(times.get(hi, {})):
                    if vid in times.get(lo, {}) and vid in times.get(hi, {}):
                        a, c = times[lo][vid], times[hi][vid]
                        k = t - lo
                        ref = tuple(a[i] + (c[i] - a[i]) * k for i in range(4))
                    elif vid in times.get(near, {}) and abs(t - near) <= 0.5:
                        ref = times[near][vid]
                    else:
                        continue
                    if _iou(ref, b) >= IOU:
                        per_group[gi][vid] += 1
    owner_of: dict[int, int] = {}
    for gi in range(len(groups)):
        votes = per_group.get(gi)
        if not votes:
            sc.no_vehicle += 1
            continue
        ranked = votes.most_common()
        owner_of[gi] = ranked[0][0]
        if len(ranked) > 1 and ranked[1][1] >= 2:
            sc.merged += 1
            sc.merged_vehicles.append([v for v, n in ranked if n >= 2])
    by_vehicle = Counter(owner_of.values())
    for v in truth["vehicles"]:
        in_view = sum(b - a for a, b in v["in_view"])
        n = by_vehicle.get(v["id"], 0)
        sc.extra += max(0, n - 1)
        if n > 1:
            sc.split_vehicles[v["id"]] = n
        if in_view >= MIN_IN_VIEW_S:
            sc.vehicles += 1
            if n:
                sc.found += 1
            else:
                sc.missed.append(v["id"])
        # in plain view: at least half of it unhidden by nearer vehicles, at whole seconds
        plain = sum(1 for t in times if v["id"] in vis[t] and vis[t][v["id"]] >= MIN_VISIBLE)
        if in_view >= MIN_IN_VIEW_S and plain >= MIN_IN_VIEW_S:
            sc.plain_vehicles += 1
            if not n:
                sc.plain_missed.append(v["id"])
    sc.idf1 = idf1(big_hits, gt_total, pred_total)
    sc.idf1_seen = idf1(seen_hits, seen_total, seen_pred)
    return sc


def idf1(hits: Counter[tuple[int, int]], gt_total: int, pred_total: int) -> float:
    """Identity F1: the one-to-one pairing of vehicles and sightings that agrees on the most boxes."""
    from scipy.optimize import linear_sum_assignment

    if not hits or gt_total + pred_total == 0:
        return 0.0
    vs = sorted({v for v, _ in hits})
    gs = sorted({g for _, g in hits})
    m = np.zeros((len(vs), len(gs)))
    for (v, g), n in hits.items():
        m[vs.index(v), gs.index(g)] = n
    r, c = linear_sum_assignment(-m)
    return 100.0 * 2 * float(m[r, c].sum()) / (gt_total + pred_total)


# ---------------------------------------------------------------- report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--split", type=int, default=0, help="cut each drive into this many consecutive files")
    ap.add_argument("--json", type=Path, help="write the per-drive scores here")
    ap.add_argument("--keep", action="store_true", help="keep the data folders (printed)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    scores: list[Score] = []
    print(
        f"`dashcam run --no-archive` on synthetic {args.seconds:g} s {args.size} drives"
        + (f", each cut into {args.split} files" if args.split > 1 else "")
        + f", {os.cpu_count()} cores"
    )
    print(
        f"{'seed':>4} {'vehicles':>8} {'found':>5} {'missed':>6} {'sightings':>9} {'extra':>5} "
        f"{'no-veh':>6} {'merged':>6} {'IDF1':>5} {'plain':>5} {'p-miss':>6} {'IDF1-p':>6} "
        f"{'heavy ms/frame':>14} {'wall s':>6} {'cpu s':>6} {'load':>5}"
    )
    for seed in seeds:
        files = render(seed, args.seconds, args.size, args.split)
        base = files[0][0] if len(files) == 1 else CACHE / files[0][0].parent.name.rsplit("-part", 1)[0]
        truth = json.loads(Path(f"{base}.truth.json").read_text())
        work = Path(tempfile.mkdtemp(prefix="dashcam-tracking-"))
        try:
            wall, cpu, _summary, found, data = run_drive(files, work)
            sc = score(seed, truth, found)
            sc.heavy_s, sc.frames, timings = heavy_stats(data)
            sc.wall_s, sc.cpu_s = wall, cpu
        finally:
            if args.keep:
                print(f"  data folder: {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        scores.append(sc)
        ms = 1000 * sc.heavy_s / max(1, sc.frames)
        print(
            f"{seed:>4} {sc.vehicles:>8} {sc.found:>5} {len(sc.missed):>6} {sc.sightings:>9} {sc.extra:>5} "
            f"{sc.no_vehicle:>6} {sc.merged:>6} {sc.idf1:>5.1f} {sc.plain_vehicles:>5} {len(sc.plain_missed):>6} "
            f"{sc.idf1_seen:>6.1f} {ms:>14.1f} {wall:>6.1f} {cpu:>6.1f} {os.getloadavg()[0]:>5.1f}"
            + (f"  missed {sc.missed}" if sc.missed else "")
            + (f"  split {sc.split_vehicles}" if sc.split_vehicles else "")
            + (f"  merged {sc.merged_vehicles}" if sc.merged_vehicles else "")
            + (f"  ({sc.merged_tracks} tracks merged)" if sc.merged_tracks else ""),
            flush=True,
        )
        print(f"       heavy timings {json.dumps({k: round(v, 2) for k, v in timings.items()})}")
    tot = Score(0)
    for s in scores:
        tot.vehicles += s.vehicles
        tot.found += s.found
        tot.missed += s.missed
        tot.sightings += s.sightings
        tot.extra += s.extra
        tot.no_vehicle += s.no_vehicle
        tot.merged += s.merged
        tot.plain_vehicles += s.plain_vehicles
        tot.plain_missed += s.plain_missed
        tot.heavy_s += s.heavy_s
        tot.frames += s.frames
        for b, (f, n) in s.by_height.items():
            cur = tot.by_height.setdefault(b, [0, 0])
            cur[0] += f
            cur[1] += n
    mean_idf1 = float(np.mean([s.idf1 for s in scores])) if scores else 0.0
    mean_seen = float(np.mean([s.idf1_seen for s in scores])) if scores else 0.0
    print(
        f"all  {tot.vehicles:>8} {tot.found:>5} {len(tot.missed):>6} {tot.sightings:>9} {tot.extra:>5} "
        f"{tot.no_vehicle:>6} {tot.merged:>6} {mean_idf1:>5.1f} {tot.plain_vehicles:>5} {len(tot.plain_missed):>6} "
        f"{mean_seen:>6.1f} {1000 * tot.heavy_s / max(1, tot.frames):>14.1f}"
        f"   (IDF1: mean of the drives, min {min((s.idf1 for s in scores), default=0):.1f})"
    )
    print(
        "plain: vehicles in plain view (at least half unhidden by nearer ones) for 2 s or more; p-miss: of "
        "those, missed; IDF1-p: IDF1 over the boxes in plain view"
    )
    print(
        "recall per truth box height (px), truth boxes at whole seconds found in a sighting: "
        + ", ".join(f"{b}: {f}/{n} ({100 * f / max(1, n):.0f} %)" for b, (f, n) in tot.by_height.items())
    )
    if args.json:
        args.json.write_text(json.dumps([s.__dict__ for s in scores], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
