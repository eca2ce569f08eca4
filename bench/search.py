"""Benchmark: exact, fuzzy and map-area sighting search on 1M synthetic sightings, vs a naive full scan.

    .venv/bin/python bench/search.py [--rows 1000000] [--queries 200] [--postgres] [--keep DIR] [--db FILE]

Fills a fresh database (SQLite in a temp dir, or a throwaway PostgreSQL cluster with --postgres) with
clips, sightings and plate reads shaped like a year of driving around one city: plates drawn from a
population with a long tail of one-off cars and a head of daily neighbours, 10 % of reads with an OCR
confusion or a wrong character. Each query type runs --queries times through ``dashcam.search.search``
(p50/p95); the floor, measured in the same run, is the naive query: the same SQL with indexes defeated
(exact, map), or for fuzzy a rapidfuzz scan of the distinct plate texts kept in memory. Target: p95 < 100 ms and >= 20x the floor.

``--db FILE`` (SQLite) reuses a database this script filled before with the same --rows (the fill and the
plate reindex take minutes at 1M rows), and fills and keeps it when it is missing or holds another count.
The generator's state after the fill is kept beside it (FILE.rng.json), so a reused database gets the
very queries a fresh run would.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rapidfuzz import process  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from dashcam.db.session import make_engine, upgrade  # noqa: E402
from dashcam.search import (  # noqa: E402
    SearchQuery,
    fold_confusions,
    reindex_plates,
    search,
)

P95_TARGET_MS = 100.0
SPEEDUP_TARGET = 20.0
CENTRE = (48.137, 11.575)
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SPAN_S = 365 * 86400
LABELS = [
    ("car", 0.55),
    ("truck", 0.08),
    ("bus", 0.02),
    ("motorcycle", 0.03),
    ("person", 0.22),
    ("bicycle", 0.10),
]
PLATED = {"car", "truck", "bus", "motorcycle"}
CONFUSABLE = {
    "O": "0",
    "0": "O",
    "I": "1",
    "1": "I",
    "B": "8",
    "8": "B",
    "S": "5",
    "5": "S",
    "Z": "2",
    "2": "Z",
}
ALNUM = string.ascii_uppercase + string.digits


def new_plate(rng: random.Random) -> str:
    """A UK-style plate: two letters, two digits, three letters."""
    u = string.ascii_uppercase
    return (
        "".join(rng.choice(u) for _ in range(2))
        + f"{rng.randrange(100):02d}"
        + "".join(rng.choice(u) for _ in range(3))
    )


def misread(plate: str, rng: random.Random, *, edits: int = 1) -> str:
    """The plate with OCR-style damage: a confusable swap or a wrong, missing or extra character."""
    out = plate
    for _ in range(edits):
        i = rng.randrange(len(out))
        c = out[i]
        what = rng.random()
        if c in CONFUSABLE and what < 0.6:
            out = out[:i] + CONFUSABLE[c] + out[i + 1 :]
        elif what < 0.8:
            out = out[:i] + rng.choice(ALNUM) + out[i + 1 :]
        elif what < 0.9:
            out = out[:i] + out[i + 1 :]
        else:
            out = out[:i] + rng.choice(ALNUM) + out[i:]
    return out


class World:
    """The synthetic city: plates, hotspots (home, work, the supermarket) and a clock."""

    def __init__(self, rows: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.plates = [new_plate(self.rng) for _ in range(max(1000, rows // 4))]
        self.hotspots = [self.place(spread_km=15) for _ in range(300)]

    def place(self, spread_km: float = 2.0, around: tuple[float, float] = CENTRE) -> tuple[float, float]:
        lat = around[0] + self.rng.gauss(0, spread_km / 111.0)
        lon = around[1] + self.rng.gauss(0, spread_km / (111.0 * math.cos(math.radians(around[0]))))
        return round(lat, 6), round(lon, 6)

    def plate(self) -> str:
        """Zipf-like: a few plates (neighbours, commute) are seen very often, most once or twice."""
        return self.plates[int(len(self.plates) * self.rng.random() ** 2.5)]

    def where(self) -> tuple[float, float]:
        if self.rng.random() < 0.3:
            return self.place(spread_km=12)
        return self.place(spread_km=1.0, around=self.rng.choice(self.hotspots))


def track_json(gen: Any, t: float) -> tuple[str, str]:
    """A sighting's boxes and colour signature as the heavy stage writes them: a box a frame at 10 fps for a
    log-normal time in view (median 4 s, mean ~5.5 s, one in twenty over 14 s), six numbers rounded as the
    stage rounds them; 96 histogram shares to 5 decimals."""
    n = int(min(1200, max(3, gen.lognormal(math.log(40), 0.8))))
    box = np.array([t, gen.uniform(0, 1700), gen.uniform(300, 700), 0, 0])
    box[3], box[4] = box[1] + gen.uniform(30, 300), box[2] + gen.uniform(20, 200)
    drift = np.cumsum(gen.normal(0, 2.0, (n, 5)), axis=0)
    drift[:, 0] = np.arange(n) * 0.1
    rows = np.empty((n, 6))
    rows[:, :5] = box + drift
    rows[:, 0] = rows[:, 0].round(3)
    rows[:, 1:5] = rows[:, 1:5].round(1)
    rows[:, 5] = gen.uniform(0.1, 0.95, n).round(3)
    sig = gen.dirichlet(np.ones(96)).round(5)
    return json.dumps(rows.tolist()), json.dumps(sig.tolist())


def fill(engine: Engine, world: World, rows: int) -> dict[str, int]:
    """Bulk-insert clips, sightings (with their boxes and signatures) and plate reads; returns row counts."""
    rng = world.rng
    gen = np.random.default_rng(7)  # the tracks' own: the world's queries stay those of a fill without them
    pg = engine.dialect.name == "postgresql"
    per_clip = 20
    n_clips = math.ceil(rows / per_clip)
    now = datetime.now(timezone.utc)
    labels, weights = zip(*LABELS, strict=True)

    def ts(dt: datetime) -> Any:
        # SQLite keeps DateTime as text in SQLAlchemy's format; PostgreSQL takes the datetime
        return dt if pg else dt.strftime("%Y-%m-%d %H:%M:%S.%f")

    clips, sightings, reads, starts = [], [], [], []
    clip_start = {}
    for c in range(1, n_clips + 1):
        start = T0 + timedelta(seconds=rng.randrange(SPAN_S))
        clip_start[c] = start
        ch = "F" if c % 2 else "R"
        kind = "event" if rng.random() < 0.03 else ("parking" if rng.random() < 0.1 else "normal")
        clips.append(
            (
                c,
                f"{c:064x}",
                f"{start:%Y_%m%d_%H%M%S}_{c:06d}{ch}.MP4",
                ch,
                kind,
                kind == "event",
                False,
                100_000_000,
                60,
                ts(start),
                ts(now),
                ts(now),
                60.0,
            )
        )
    sid = rid = 0
    for c in range(1, n_clips + 1):
        spot = world.where()
        for track in range(min(per_clip, rows - sid)):
            sid += 1
            label = rng.choices(labels, weights)[0]
            t = rng.uniform(0, 58)
            when = clip_start[c] + timedelta(seconds=t)
            lat, lon = world.place(spread_km=0.3, around=spot)
            plate = conf = key = None
            if label in PLATED and rng.random() < 0.7:
                plate = world.plate()
                r = rng.random()
                if r < 0.07:
                    plate = misread(plate, rng)
                elif r < 0.10:
                    plate = misread(plate, rng, edits=2)
                conf = round(rng.uniform(0.4, 0.99), 3)
                key = fold_confusions(plate)
                for k in range(rng.randint(1, 3)):
                    rid += 1
                    reads.append((rid, sid, c, t + 0.2 * k, plate, plate, key, conf, ts(when), lat, lon))
            starts.append((sid, t))
            sightings.append(
                (sid, c, track, label, 0.8, t, t + 2, t + 1, ts(when), lat, lon, plate, key, conf, 10)
            )

    cols = {
        "clip": "id, content_hash, file_name, channel, kind, protected, pinned, size_bytes, gps_points, "
        "recorded_at, created_at, updated_at, duration_s",
        "sighting": "id, clip_id, track_id, label, score, first_s, last_s, best_s, time_utc, lat, lon, "
        "plate_text, plate_key, plate_confidence, frames",
        "plate_read": "id, sighting_id, clip_id, t, text_raw, text, plate_key, confidence, time_utc, lat, lon",
        "sighting_track": "sighting_id, boxes, signature",
    }
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # the tracks are made as they are written: all of them at once would hold gigabytes
        tracks = ((sid, *track_json(gen, t)) for sid, t in starts)
        for table, data in (
            ("clip", clips),
            ("sighting", sightings),
            ("plate_read", reads),
            ("sighting_track", tracks),
        ):
            if pg:
                with cur.copy(f"COPY {table} ({cols[table]}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in data:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(cols[table].split(",")))
                cur.executemany(f"INSERT INTO {table} ({cols[table]}) VALUES ({marks})", data)
        if pg:
            cur.execute("SELECT setval('sighting_id_seq', (SELECT max(id) FROM sighting))")
        raw.commit()
    finally:
        raw.close()
    return {
        "clips": len(clips),
        "sightings": len(sightings),
        "plate_reads": len(reads),
        "tracks": len(starts),
    }


def fill_indexed(engine: Engine, world: World, rows: int) -> None:
    """Fill a fresh database with ``rows`` sightings, build the plate index and ANALYZE, saying how long each took."""
    ms, counts = timed(lambda: fill(engine, world, rows))
    print(f"fill: {ms / 1000:.1f} s  {counts}")
    with Session(engine) as s:
        ms, (plates, variants) = timed(lambda: reindex_plates(session=s))
        s.commit()
    print(f"reindex_plates: {ms / 1000:.1f} s  ({plates:,} plates, {variants:,} deletion variants)")
    with engine.begin() as c:
        c.execute(text("ANALYZE"))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


# ---------------------------------------------------------------- the naive floor

NAIVE_ORDER = "ORDER BY s.plate_confidence DESC, s.time_utc DESC LIMIT 50"
NAIVE_SELECT = (
    "SELECT s.id, s.label, s.plate_text, s.plate_corrected, s.plate_confidence, s.time_utc, s.lat, s.lon, "
    "c.file_name FROM sighting s JOIN clip c ON c.id = s.clip_id"
)


def naive_exact(session: Session, plate: str) -> int:
    """The obvious query: the same filter on the effective plate, which no index serves."""
    sql = f"{NAIVE_SELECT} WHERE coalesce(s.plate_corrected, s.plate_text) = :p {NAIVE_ORDER}"
    return len(session.execute(text(sql), {"p": plate}).all())


class FuzzyScan:
    """The best simple fuzzy search a user would write: the distinct plate texts, confusion-folded once and
    kept in memory, scanned with rapidfuzz's Levenshtein (C++, early exit past the cutoff), then their
    sightings through the plate indexes. Loading the list is not timed: a user's script would keep it between
    queries. (The floor this replaces, a Python Levenshtein loop over the texts read anew per query, took
    ~3.9 s and made fuzzy search look 445x faster than anything a user would write.)"""

    def __init__(self, session: Session) -> None:
        self.texts = list(
            session.execute(
                text(
                    "SELECT DISTINCT coalesce(plate_corrected, plate_text) FROM sighting "
                    "WHERE plate_text IS NOT NULL"
                )
            ).scalars()
        )
        self.folded = [fold_confusions(t) for t in self.texts]

    def __call__(self, session: Session, plate: str, edits: int) -> int:
        found = process.extract(
            fold_confusions(plate), self.folded, scorer=Levenshtein.distance, score_cutoff=edits, limit=None
        )
        hits = [self.texts[i] for _, _, i in found]
        if not hits:
            return 0
        params = {f"p{i}": t for i, t in enumerate(hits)}
        marks = ", ".join(f":p{i}" for i in range(len(hits)))
        # the plate columns' own indexes serve this (SQLite: a multi-index OR), as they would a user's query;
        # the same rows as coalesce(plate_corrected, plate_text) IN (...), which scans the table
        sql = (
            f"{NAIVE_SELECT} WHERE (s.plate_corrected IN ({marks})"
            f" OR (s.plate_corrected IS NULL AND s.plate_text IN ({marks}))) {NAIVE_ORDER}"
        )
        return len(session.execute(text(sql), params).all())


def naive_near(session: Session, lat: float, lon: float, metres: float) -> int:
    """The circle test on every row (``+ 0`` keeps the (lat, lon) index out, as a table without one)."""
    k = math.cos(math.radians(lat))
    d = metres / 111_195.0
    sql = (
        f"{NAIVE_SELECT} WHERE (s.lat + 0 - :lat) * (s.lat + 0 - :lat) + (s.lon + 0 - :lon) * :k * (s.lon + 0 - :lon)"
        f" * :k <= :d ORDER BY s.time_utc DESC LIMIT 50"
    )
    return len(session.execute(text(sql), {"lat": lat, "lon": lon, "k": k, "d": d * d}).all())


class SqlClock:
    """Milliseconds spent inside the database driver (execute and fetch), to tell SQL from Python time."""

    def __init__(self, engine: Engine) -> None:
        self.ms = 0.0
        self._t = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._t = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.ms += (time.perf_counter() - self._t) * 1000


# ---------------------------------------------------------------- the run


def warm_os_cache(url: str) -> None:
    """Read a SQLite database file once, so the OS caches it for search() as it will for the naive query.

    The naive query runs once untimed and then scans every row, so it is always measured warm; a
    database filled long ago (--db), or pushed out by other work, would otherwise leave search() alone
    paying cold reads.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database:
        return
    for suffix in ("", "-wal"):
        path = Path(f"{u.database}{suffix}")
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 20):
                    pass


def rng_file(db: Path) -> Path:
    return db.with_name(db.name + ".rng.json")


def filled(url: str, rows: int, db: Path) -> bool:
    """Whether ``db`` is a database this script filled with ``rows`` sightings and indexed."""
    if not rng_file(db).is_file():
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM sighting")).scalar_one()
            plates = c.execute(text("SELECT count(*) FROM plate")).scalar_one()
            tracks = c.execute(text("SELECT count(*) FROM sighting_track")).scalar_one()
        return n == rows == tracks and plates > 0
    except Exception:  # no tables yet
        return False
    finally:
        engine.dispose()


@contextmanager
def database(postgres: bool, keep: Path | None, db: Path | None = None) -> Iterator[str]:
    if db is not None and not postgres:
        db.parent.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{db.resolve()}"
        return
    if postgres:
        from dashcam.testing.cluster import throwaway_postgres

        with throwaway_postgres() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="dashcam-bench-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "search.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{db}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="sightings to generate")
    ap.add_argument("--queries", type=int, default=200, help="runs of each query type")
    ap.add_argument("--naive", type=int, default=5, help="runs of each naive query")
    ap.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL cluster instead of SQLite"
    )
    ap.add_argument("--keep", type=Path, help="SQLite: build the database in this folder and keep it")
    ap.add_argument(
        "--db",
        type=Path,
        help="SQLite: reuse this database file when it holds --rows sightings, else fill it",
    )
    args = ap.parse_args()

    world = World(args.rows)
    rng = random.Random(11)
    ok = True
    with database(args.postgres, args.keep, args.db) as url:
        keep_db = args.db if args.db is not None and not args.postgres else None
        reuse = keep_db is not None and filled(url, args.rows, keep_db)
        if keep_db is not None and not reuse:
            for suffix in ("", "-wal", "-shm", ".rng.json"):
                Path(f"{keep_db}{suffix}").unlink(missing_ok=True)
        upgrade(url)
        engine = make_engine(url)
        print(f"database: {engine.dialect.name}, {args.rows:,} sightings")
        if reuse:
            assert keep_db is not None
            # the queries draw from where the fill left the generator, as in a fresh run
            version, internal, gauss = json.loads(rng_file(keep_db).read_text())
            world.rng.setstate((version, tuple(internal), gauss))
            print(f"reusing {keep_db} (filled before)")
        else:
            fill_indexed(engine, world, args.rows)
            if keep_db is not None:
                rng_file(keep_db).write_text(json.dumps(world.rng.getstate()))

        def exact_query() -> SearchQuery:
            return SearchQuery(plate=world.plate(), confusions=False)

        def fuzzy_query() -> SearchQuery:
            # what a user types from a blurred photo: one confusion and one wrong character
            return SearchQuery(plate=misread(misread(world.plate(), rng), rng), fuzzy=2)

        def near_query() -> SearchQuery:
            lat, lon = world.where()
            return SearchQuery(near=(lat, lon, rng.choice([100.0, 250.0, 500.0])))

        def bbox_query() -> SearchQuery:
            lat, lon = world.where()
            h = rng.choice([0.002, 0.005])
            return SearchQuery(bbox=(lat - h, lon - 1.5 * h, lat + h, lon + 1.5 * h))

        makers: dict[str, Callable[[], SearchQuery]] = {
            "exact": exact_query,
            "fuzzy (2 edits)": fuzzy_query,
            "map: near": near_query,
            "map: bbox": bbox_query,
        }
        results: dict[str, list[float]] = {}
        sql_ms: dict[str, list[float]] = {}
        hits: dict[str, list[int]] = {}
        clock = SqlClock(engine)
        warm_os_cache(url)
        with Session(engine) as s:
            for name, make in makers.items():
                for _ in range(5):  # warm the page cache and the statement caches
                    search(session=s, query=make())
                times, found, in_db = [], [], []
                for _ in range(args.queries):
                    q = make()
                    clock.ms = 0.0
                    ms, page = timed(lambda q=q: search(session=s, query=q))
                    times.append(ms)
                    in_db.append(clock.ms)
                    found.append(page.total or 0)
                results[name], hits[name], sql_ms[name] = times, found, in_db

            floors: dict[str, float] = {}
            fuzzy_scan = FuzzyScan(s)
            naive = {
                "exact": lambda: naive_exact(s, world.plate()),
                "fuzzy (2 edits)": lambda: fuzzy_scan(s, misread(misread(world.plate(), rng), rng), 2),
                "map: near": lambda: naive_near(s, *world.where(), 500.0),
            }
            for name, fn in naive.items():
                runs = args.naive
                fn()
                floors[name] = statistics.median(timed(fn)[0] for _ in range(runs))
            floors["map: bbox"] = floors["map: near"]
        engine.dispose()

    print()
    head = f"{'query':<17} {'p50 ms':>8} {'p95 ms':>8} {'sql p50':>8} {'sql p95':>8} {'hits p50':>9}"
    print(f"{head} {'naive ms':>10} {'x p95':>8}  verdict")
    for name, times in results.items():
        p50, p95 = statistics.median(times), pct(times, 95)
        ratio = floors[name] / p95
        good = p95 < P95_TARGET_MS and ratio >= SPEEDUP_TARGET
        ok &= good
        print(
            f"{name:<17} {p50:8.2f} {p95:8.2f} {statistics.median(sql_ms[name]):8.2f} {pct(sql_ms[name], 95):8.2f}"
            f" {statistics.median(hits[name]):9.0f} {floors[name]:10.1f} {ratio:8.1f}  {'PASS' if good else 'FAIL'}"
        )
    print("(p50/p95: search() end to end, Python included; sql: time inside the database driver)")
    print(
        f"\ntargets: p95 < {P95_TARGET_MS:.0f} ms and >= {SPEEDUP_TARGET:.0f}x the naive query (median of its runs)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
