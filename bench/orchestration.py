"""Orchestration overhead: short clips through the four work pools on loopback, Prefect's time vs the stages' work.

    DASHCAM_MODELS_DIR=../shared/models python bench/orchestration.py [--clips 200] [--query-seconds 1] [--batch-size 8]

The real deployment on this machine (dashcam.testing.cluster): a throwaway PostgreSQL, `prefect server start`,
`dashcam setup` (pools and their limits, blocks, the deployments of prefect.yaml with their schedules) and one
`prefect worker start` per device (nas-1, jetson-1, gpu-1, gpu-2, shed-1), polling every --query-seconds
(PREFECT_WORKER_QUERY_SECONDS: 1 as in the tests; Prefect's default is 10). N tiny synthetic clips (1 s at
320x180: one render, cached; each copy made unique by a trailing MP4 `free` box) are fed to the ingest
deployment as one folder; the clips then chain preprocess -> heavy -> archive as in production, in flow runs
of up to --batch-size clips (global.chain_batch_size; 1: one flow run per clip and stage). Inference is
negligible on purpose: what is measured is the orchestration.

Per clip-stage the stage's own work (its stage_run row: started_at -> finished_at) is set against its flow
run's life in Prefect (state history: Scheduled -> Pending -> Running -> Completed):

  slot wait  = scheduled -> a slot of the pool's concurrency limit is free (queueing, not overhead)
  overhead   = slot free -> end of the flow run, minus the work
             = pickup  (slot free -> Pending: the worker's poll interval, the server's query)
             + spawn   (Pending -> Running: a new python process per flow run), split at the run's
                       "Running 1 deployment pull step(s)" log line into python + `import prefect` + reading
                       the run and deployment, then importing the flow module and setting the run Running
             + engine  (flow run - stage task run: flow engine, stage context and blocks, chaining the next
                       stage's deployment, result persistence)
             + task    (stage task run - work: task engine, cache key, cached-result lookup, model loading
                       where it is outside the stage's record)

A flow run that carried several clips shares its overhead (and each part of it) evenly among them; work,
slot wait and lifetime stay each clip's own.
Ingest imports the whole folder in one flow run (as a camera sync does); its overhead is shown per clip.
Flow runs besides the one per clip and stage (scheduled ingest / reconcile runs, duplicates) are reported.
Everything (processes, databases, temp dirs) is cleaned up on exit, on errors, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import models_dir, synthetic_clip

from dashcam.testing.cluster import STAGE_POOL, STAGES, Cluster, throwaway_postgres, wait_for

CLIP_STAGES = STAGES[1:]  # chained per clip or batch of clips (ingest takes the whole folder in one run)
LOAD: list[float] = []  # the machine's 1-min load average, sampled while the clips go through


# ---------------------------------------------------------------- inputs


def unique_copy(data: bytes, tag: str) -> bytes:
    """The same MP4 with a trailing ``free`` box holding ``tag``: still a valid clip, another content hash."""
    payload = tag.encode()
    return data + (8 + len(payload)).to_bytes(4, "big") + b"free" + payload


def make_card(folder: Path, base: Path, n: int) -> list[str]:
    """``n`` distinct clips with Viofo names one minute apart (the card an SD import or a sync would see)."""
    from dashcam.synth import viofo_clip_name

    folder.mkdir(parents=True)
    data = base.read_bytes()
    start = datetime(2024, 5, 18, 9, 0, 0)
    names = []
    for i in range(n):
        name = viofo_clip_name(start + timedelta(minutes=i), sequence=i + 1)
        (folder / name).write_bytes(unique_copy(data, f"orchestration-bench-{i}"))
        names.append(name)
    return names


# ---------------------------------------------------------------- collection


def ts(value: Any) -> datetime | None:
    """An aware UTC datetime from Prefect's ISO text or a database value (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def secs(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def collect(c: Cluster) -> dict[str, Any]:
    """Everything the report needs, from Prefect's API and the results database."""
    flows = {f["id"]: f["name"] for f in c.api_all("/flows/filter")}
    runs = c.api_all("/flow_runs/filter", {"sort": "EXPECTED_START_TIME_ASC"})
    for r in runs:
        r["flow"] = flows.get(r["flow_id"], "?")
        states = c.api_get("/flow_run_states/", params={"flow_run_id": r["id"]})
        r["states"] = sorted(((ts(s["timestamp"]), s["type"]) for s in states), key=lambda x: x[0])
    tasks = c.api_all("/task_runs/filter")
    # a log line of each flow-run process splits its start-up: "Running 1 deployment pull step(s)" (python
    # up, prefect imported, run and deployment read); then the flow module is imported and the run set Running
    marks: dict[str, dict[str, datetime]] = defaultdict(dict)
    for log in c.api_all("/logs/filter", {"sort": "TIMESTAMP_ASC"}):
        fid, msg, at = log.get("flow_run_id"), log.get("message") or "", ts(log["timestamp"])
        if fid and at is not None and "deployment pull step" in msg:
            marks[fid].setdefault("pull", at)
    for r in runs:
        r["marks"] = marks.get(r["id"], {})
    pools = {}
    for pool in set(STAGE_POOL.values()):
        pools[pool] = c.api_get(f"/work_pools/{pool}")["concurrency_limit"]
    return {"runs": runs, "tasks": tasks, "pools": pools, "stage_runs": c.stage_runs()}


def slot_free_times(runs: list[dict[str, Any]], limit: int | None) -> dict[str, datetime]:
    """Per flow run of one pool: the moment it could have started (scheduled, and a pool slot free).

    A slot frees when an earlier run of the pool reaches a final state (its end time); with ``limit`` slots
    the run could start once fewer than ``limit`` earlier-started runs were still going.
    """
    started = sorted(
        ((start, r) for r in runs if (start := ts(r["start_time"])) is not None), key=lambda x: x[0]
    )
    out: dict[str, datetime] = {}
    for i, (start, r) in enumerate(started):
        ready = ts(r["expected_start_time"]) or start
        if limit is not None:
            # an earlier run still going (no end time yet) holds its slot past this start
            ends = sorted(e for _, p in started[:i] if (e := ts(p["end_time"]) or start) > ready)
            if len(ends) >= limit:
                ready = max(ready, ends[len(ends) - limit])
        out[r["id"]] = ready
    return out


def measure(data: dict[str, Any], n: int, fed_run_id: str) -> dict[str, Any]:
    """Per clip-stage timings, the ingest batch, hand-offs, totals and anything unexpected."""
    runs, tasks, sr = data["runs"], data["tasks"], data["stage_runs"]
    by_id = {r["id"]: r for r in runs}
    tasks_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tasks:
        tasks_of[t["flow_run_id"]].append(t)
    ready: dict[str, datetime] = {}
    for pool, limit in data["pools"].items():
        ready.update(slot_free_times([r for r in runs if r.get("work_pool_name") == pool], limit))

    fed = by_id[fed_run_id]
    t0 = ts(fed["created"])
    rows: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in CLIP_STAGES}
    problems: list[str] = []
    ends: list[datetime] = []
    # the clips each flow run did (chaining hands several clips to one run: its cost is shared among them)
    carried: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for clip_id, stages in sorted(sr.items()):
        for stage in CLIP_STAGES:
            row = stages.get(stage)
            if row is None or row.status != "done":
                problems.append(f"clip {clip_id}: {stage} {'missing' if row is None else row.status}")
                continue
            if row.attempts != 1:
                problems.append(f"clip {clip_id}: {stage} took {row.attempts} attempts")
            fr = by_id.get(row.flow_run_id or "")
            if fr is None or not fr["end_time"]:
                problems.append(f"clip {clip_id}: {stage} flow run {row.flow_run_id} not found or not ended")
                continue
            carried[(stage, fr["id"])].append(row)
    for (stage, fid), done in carried.items():
        fr, n_run = by_id[fid], len(done)
        start, end, sched = ts(fr["start_time"]), ts(fr["end_time"]), ts(fr["expected_start_time"])
        can = ready.get(fid, sched)
        works = [secs(ts(row.started_at), ts(row.finished_at)) or 0.0 for row in done]
        flow = secs(start, end) or 0.0
        names = {f"{stage}-{row.clip_id}" for row in done}
        task_s = [
            secs(ts(t["start_time"]), ts(t["end_time"])) or 0.0 for t in tasks_of[fid] if t["name"] in names
        ]
        pending = next((t for t, kind in fr["states"] if kind == "PENDING"), None)
        pull = fr["marks"].get("pull")
        # per clip-stage: the run's overhead shared by the clips it carried; the clip's own work and waits
        share = {
            "overhead": ((secs(can, end) or 0.0) - sum(works)) / n_run,
            "pickup": (secs(can, pending) or 0.0) / n_run,
            "spawn": (secs(pending, start) or 0.0) / n_run,
        }
        if pull is not None:
            share["boot"] = (secs(pending, pull) or 0.0) / n_run
            share["load"] = (secs(pull, start) or 0.0) / n_run
        if len(task_s) == n_run:
            share["engine"] = (flow - sum(task_s)) / n_run
            share["task"] = (sum(task_s) - sum(works)) / n_run
        m = rows[stage]
        m["clips per run"].append(float(n_run))
        for work in works:
            m["work"].append(work)
            for key, value in share.items():
                m[key].append(value)
            m["slot wait"].append(secs(sched, can) or 0.0)
            m["lifetime"].append(secs(sched, end) or 0.0)
            if stage == "archive" and end is not None:
                ends.append(end)

    # hand-offs: previous stage's work done -> this stage's work starts (everything in between)
    hops: dict[str, list[float]] = defaultdict(list)
    e2e: list[float] = []
    for stages in sr.values():
        for prev, stage in zip(STAGES, STAGES[1:], strict=False):
            a, b = stages.get(prev), stages.get(stage)
            if a is not None and b is not None and a.finished_at and b.started_at:
                hops[f"{prev} -> {stage}"].append(secs(ts(a.finished_at), ts(b.started_at)) or 0.0)
        if (a := stages.get("archive")) is not None and a.finished_at:
            e2e.append(secs(t0, ts(a.finished_at)) or 0.0)

    # the ingest batch: one flow run registering every clip, then triggering each clip's preprocess
    itasks = tasks_of[fed_run_id]
    register = [
        secs(ts(t["start_time"]), ts(t["end_time"])) or 0.0
        for t in itasks
        if t["name"].startswith("register-")
    ]
    imported = sum(
        secs(ts(t["start_time"]), ts(t["end_time"])) or 0.0 for t in itasks if t["name"].startswith("import-")
    )
    triggers = [t for t in itasks if t["name"].startswith("trigger-")]
    fed_start, fed_end = ts(fed["start_time"]), ts(fed["end_time"])
    fed_pending = next((t for t, kind in fed["states"] if kind == "PENDING"), None)
    last_register = max(
        (ts(t["end_time"]) for t in itasks if t["name"].startswith("register-")), default=None
    )
    ingest = {
        "pickup": secs(t0, fed_pending),
        "spawn": secs(fed_pending, fed_start),
        "run": secs(fed_start, fed_end),
        "import": imported,
        "register": register,
        "chain": secs(last_register, fed_end),
        "triggers": len(triggers),
        "overhead_per_clip": ((secs(t0, fed_end) or 0.0) - imported - sum(register)) / max(1, n),
    }

    # clip-stage flow runs besides the one that did the work (the one its stage_run row names)
    worked = {row.flow_run_id for st in sr.values() for row in st.values()}
    extra: list[dict[str, Any]] = []
    for r in runs:
        if r["flow"] not in CLIP_STAGES or r["id"] in worked:
            continue
        clip = ((r.get("parameters") or {}).get("clip_ids") or [None])[0]
        row = sr.get(clip, {}).get(r["flow"])
        original = by_id.get(row.flow_run_id) if row is not None else None
        start, original_end = ts(r["start_time"]), ts(original["end_time"]) if original else None
        extra.append(
            {
                "stage": r["flow"],
                "clip": clip,
                "state": r["state_type"],
                "by": "reconcile" if "recover" in (r.get("idempotency_key") or "") else "chain",
                "created_s": secs(t0, ts(r["created"])),
                "ran_s": secs(start, ts(r["end_time"])),
                "overlapped": start is not None and original_end is not None and start < original_end,
            }
        )
    others = Counter(
        f"{r['flow']} ({r['state_type']})"
        for r in runs
        if r["flow"] not in CLIP_STAGES and r["id"] != fed_run_id
    )
    not_done = Counter(
        f"{r['flow']} {r['state_type']}" for r in runs if r["state_type"] not in ("COMPLETED", "SCHEDULED")
    )
    # how busy each pool was: its flow runs from Pending to their end, over the wall time
    busy: dict[str, float] = defaultdict(float)
    for r in runs:
        pend = next((t for t, kind in r["states"] if kind == "PENDING"), None)
        if pend is not None and r["end_time"] and r.get("work_pool_name"):
            busy[r["work_pool_name"]] += secs(pend, ts(r["end_time"])) or 0.0
    wall = secs(t0, max(ends)) if ends else None
    work_sum = sum(sum(rows[s]["work"]) for s in CLIP_STAGES) + sum(register) + imported
    lifetimes = sum(
        secs(ts(r["start_time"]), ts(r["end_time"])) or 0.0 for r in runs if r["start_time"] and r["end_time"]
    )
    return {
        "stages": {s: dict(v) for s, v in rows.items()},
        "hops": dict(hops),
        "end_to_end": e2e,
        "ingest": ingest,
        "wall": wall,
        "archived": len(ends),
        "work_sum": work_sum,
        "flow_run_seconds": lifetimes,
        "flow_runs": len(runs),
        "duplicates": extra,
        "other_runs": dict(others),
        "not_completed": dict(not_done),
        "problems": problems,
        "pools": data["pools"],
        "busy": dict(busy),
    }


# ---------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def line(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<44} {0:>5}"
    return (
        f"  {label:<44} {len(values):>5} {pct(values, 0.5):>8.2f} {pct(values, 0.95):>8.2f} "
        f"{statistics.fmean(values):>8.2f} {sum(values):>9.1f}"
    )


LABELS = {
    "clips per run": "clips per flow run (n: flow runs)",
    "work": "work (stage_run started -> finished)",
    "overhead": "overhead (slot free -> end, minus work) / clips",
    "pickup": "  pickup (slot free -> Pending)",
    "spawn": "  spawn (Pending -> Running)",
    "boot": "    python, import prefect (-> pull step)",
    "load": "    import flow module (pull step -> Running)",
    "engine": "  engine (flow run - stage task run)",
    "task": "  task (stage task run - work)",
    "slot wait": "slot wait (scheduled -> slot free)",
    "lifetime": "lifetime (scheduled -> end)",
}


def report(m: dict[str, Any], args: argparse.Namespace, query_s: str) -> str:
    out = [
        f"{args.clips} clip(s) x {args.seconds:g} s {args.size} @ {args.fps:g} fps through nas -> edge -> gpu -> "
        "archive on loopback (PostgreSQL + prefect server, one process worker per device, two on gpu)",
        f"PREFECT_WORKER_QUERY_SECONDS={query_s} (Prefect's default: 10); pool concurrency limits: "
        + ", ".join(f"{p} {v if v is not None else 'none'}" for p, v in sorted(m["pools"].items()))
        + f"; chained in flow runs of up to {args.batch_size} clip(s)",
        "",
        f"  {'per clip-stage, seconds':<44} {'n':>5} {'p50':>8} {'p95':>8} {'mean':>8} {'sum':>9}",
    ]
    for stage in CLIP_STAGES:
        out.append(f"{stage} (pool {STAGE_POOL[stage]})")
        for key, label in LABELS.items():
            out.append(line(label, m["stages"][stage].get(key, [])))
    out.append("hand-offs (previous stage's work done -> this one's starts; includes slot waits)")
    for hop, values in m["hops"].items():
        out.append(line(hop, values))
    out.append(line("fed -> archive done, per clip", m["end_to_end"]))
    g = m["ingest"]
    out.append(f"ingest (pool nas): one flow run for all {args.clips} clips")
    out.append(line("register one clip (task run)", g["register"]))
    out.append(
        f"  pickup {g['pickup'] or 0:.2f} s, spawn {g['spawn'] or 0:.2f} s, run {g['run'] or 0:.1f} s: "
        f"import {g['import']:.1f} s, register {sum(g['register']):.1f} s, "
        f"chaining {g['triggers']} preprocess run(s) {g['chain'] or 0:.1f} s; "
        f"overhead per clip {g['overhead_per_clip']:.2f} s"
    )
    out.append("")
    wall = m["wall"]
    if wall:
        over = [v for s in CLIP_STAGES for v in m["stages"][s].get("overhead", [])]
        work = [v for s in CLIP_STAGES for v in m["stages"][s].get("work", [])]
        out.append(
            f"wall {wall:.1f} s (ingest run created -> last archive run ended) for {m['archived']} clip(s): "
            f"{m['archived'] / wall * 60:.1f} clips/min"
        )
        out.append(
            f"stage work {m['work_sum']:.1f} s in all ({m['work_sum'] / wall:.2f} x wall: the parallelism "
            f"achieved); flow runs were running {m['flow_run_seconds']:.1f} s in all "
            f"({m['flow_run_seconds'] / wall:.2f} x wall); {m['flow_runs']} flow runs"
        )
        out.append(
            "pools busy (their flow runs Pending -> end, over wall): "
            + ", ".join(f"{p} {v / wall:.2f}" for p, v in sorted(m["busy"].items()))
        )
        parts = {
            k: statistics.fmean(v)
            for k in ("pickup", "spawn", "engine", "task")
            if (v := [x for s in CLIP_STAGES for x in m["stages"][s].get(k, [])])
        }
        summary = (
            f"SUMMARY: {m['archived']} clips in {wall:.0f} s ({m['archived'] / wall * 60:.1f} clips/min); "
            f"Prefect overhead per clip-stage p50 {pct(over, 0.5):.2f} s / p95 {pct(over, 0.95):.2f} s / mean "
            f"{statistics.fmean(over):.2f} s (mean "
            + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            + f") vs stage work p50 {pct(work, 0.5):.2f} s; stage work sum {m['work_sum']:.0f} s = "
            f"{m['work_sum'] / wall:.2f} x wall"
        )
    else:
        summary = "SUMMARY: no clip was archived"
    out.append(f"other flow runs (schedules, reconcile): {m['other_runs'] or 'none'}")
    dups = m["duplicates"]
    if not dups:
        out.append("duplicated clip-stage flow runs: none")
    for (stage, by), group in sorted(Counter((d["stage"], d["by"]) for d in dups).items()):
        these = [d for d in dups if (d["stage"], d["by"]) == (stage, by)]
        ran = [d["ran_s"] for d in these if d["ran_s"] is not None]
        created = [d["created_s"] for d in these if d["created_s"] is not None]
        out.append(
            f"DUPLICATED: {group} extra {stage} flow run(s) created by {by} (clips "
            f"{', '.join(str(d['clip']) for d in these)}), {min(created):.0f}-{max(created):.0f} s after "
            f"feeding; states {dict(Counter(d['state'] for d in these))}; "
            + (f"{len(ran)} ran, {statistics.fmean(ran):.1f} s each (Running -> end); " if ran else "")
            + f"{sum(d['overlapped'] for d in these)} started before their original ended"
        )
    out.append(f"flow runs not Completed: {m['not_completed'] or 'none'}")
    if m["load"]:
        out.append(
            f"1-min load average while it ran (this machine: {os.cpu_count()} cores): min {min(m['load']):.1f}, "
            f"mean {statistics.fmean(m['load']):.1f}, max {max(m['load']):.1f}"
        )
    if m["problems"]:
        out.append(f"problems ({len(m['problems'])}): " + "; ".join(m["problems"][:20]))
    out += ["", summary]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def _rows(saved: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Stage runs saved by --raw, back as objects with attributes (timestamps as datetimes)."""
    from types import SimpleNamespace

    def row(d: dict[str, Any]) -> Any:
        return SimpleNamespace(**{k: ts(v) if k.endswith("_at") else v for k, v in d.items()})

    return {int(c): {st: row(r) for st, r in v.items()} for c, v in saved.items()}


def _interrupt(signum: int, _frame: Any) -> None:
    """Ctrl-C or SIGTERM: stop measuring and clean up; further signals are ignored until that is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=1.0, help="length of each clip")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument(
        "--query-seconds",
        default="1",
        help="PREFECT_WORKER_QUERY_SECONDS of the workers (default: 1, as the tests)",
    )
    ap.add_argument(
        "--batch-size", type=int, default=8, help="global.chain_batch_size: most clips per chained flow run"
    )
    ap.add_argument("--per-device", type=int, default=1, help="max_concurrent_tasks_per_device (pool limits)")
    ap.add_argument(
        "--timeout",
        type=float,
        help="give up after this many seconds of processing and report the clips done (default: 60 per clip)",
    )
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    ap.add_argument("--raw", type=Path, help="also write what was collected (flow runs, stage runs) here")
    ap.add_argument("--from-raw", type=Path, help="no run: report what --raw saved (same --clips etc.)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, storage) for inspection")
    args = ap.parse_args()
    if args.from_raw:
        saved = json.loads(args.from_raw.read_text())
        data = {**saved["data"], "stage_runs": _rows(saved["data"]["stage_runs"])}
        for r in data["runs"]:
            r["states"] = [(ts(at), kind) for at, kind in r["states"]]
            r["marks"] = {k: ts(v) for k, v in r["marks"].items()}
        print(
            report(
                measure(data, args.clips, saved["fed"]) | {"load": saved["load"]}, args, args.query_seconds
            )
        )
        return 0
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    w, h = (int(v) for v in args.size.split("x"))
    base = synthetic_clip(args.seconds, (w, h), fps=args.fps)
    work = Path(tempfile.mkdtemp(prefix="dashcam-bench-orch-"))
    failed = True
    try:
        card = work / "card"
        make_card(card, base, args.clips)
        config = {
            # production's lease (a 2-core machine under load renews late) and a quick retry
            "global": {
                "claim_lease_s": 120,
                "max_concurrent_tasks_per_device": args.per_device,
                "chain_batch_size": args.batch_size,
            },
        }
        env = {"PREFECT_WORKER_QUERY_SECONDS": args.query_seconds}
        t_setup = time.monotonic()
        with (
            throwaway_postgres() as pg_url,
            Cluster(work / "cluster", pg_url, models_dir=models_dir(), config=config, env=env) as c,
        ):
            try:
                c.server()
                c.upgrade_db()
                c.setup()
                c.workers()
                c.wait_workers_online()
                print(
                    f"deployment up in {time.monotonic() - t_setup:.0f} s; feeding {args.clips} clip(s)",
                    flush=True,
                )
                fed = c.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)
                complete = wait(c, args.clips, args.timeout or max(600.0, 60.0 * args.clips))
                data = collect(c)
            except Exception:
                print(c.log_tails(3000), file=sys.stderr)
                raise
        if args.raw:
            rows = {c: {st: dict(r._mapping) for st, r in v.items()} for c, v in data["stage_runs"].items()}
            doc = {"fed": fed, "load": LOAD, "data": {**data, "stage_runs": rows}}
            args.raw.write_text(json.dumps(doc, default=str))
        m = measure(data, args.clips, fed)
        m["load"] = LOAD
        print(report(m, args, args.query_seconds))
        if args.json:
            args.json.write_text(
                json.dumps({"args": vars(args) | {"json": str(args.json)}, **m}, default=str, indent=1)
            )
        failed = not complete or bool(m["problems"]) or m["archived"] < args.clips
    except KeyboardInterrupt:
        print("interrupted: stopped every process and database", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def wait(c: Cluster, n: int, timeout: float) -> bool:
    """Until ``n`` clips are archived and no flow run is still going (True), or ``timeout`` (False);
    progress every 30 s; ClusterError at the first failed stage or flow run."""
    t = last = time.monotonic()
    while (done := c.archived(allow_crashed=0)) < n:
        LOAD.append(os.getloadavg()[0])
        now = time.monotonic()
        if now - t > timeout:
            print(
                f"TIMED OUT after {timeout:.0f} s: {done} of {n} clips archived; reporting those", flush=True
            )
            return False
        if now - last >= 30:
            counts = Counter(s for st in c.stage_runs().values() for s, r in st.items() if r.status == "done")
            print(
                f"  {now - t:5.0f} s: done " + ", ".join(f"{s} {counts.get(s, 0)}" for s in STAGES),
                flush=True,
            )
            last = now
        time.sleep(2)
    # a stage is recorded done just before its flow run ends
    going = {"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}}}
    wait_for("the last flow runs to end", lambda: not c.api_all("/flow_runs/filter", going), 120, every=1)
    return True


if __name__ == "__main__":
    sys.exit(main())
