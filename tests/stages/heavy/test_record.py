"""The heavy stage on real footage: cars tracked into sightings, GPS tags from the clip's own track."""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dashcam.db.models import Media, PlateRead, Sighting, SightingTrack, StageRun
from dashcam.db.session import session_scope
from dashcam.gps import Fix, write_gps
from dashcam.gps.track import distance_m
from dashcam.stages.context import StageContext
from dashcam.stages.heavy.record import run_heavy
from dashcam.stages.ingest.record import register_file
from dashcam.stages.preprocess.record import run_preprocess
from flows.common import reset_context
from tests.support import testdata_file

START = datetime(2023, 8, 15, 10, 34, 56, tzinfo=timezone.utc)


def _config(cfg_dir: Path, **vision: object) -> StageContext:
    doc = json.loads((cfg_dir / "config.json").read_text())
    doc["vision"] = vision
    (cfg_dir / "config.json").write_text(json.dumps(doc))
    reset_context()
    return StageContext.load()


def _route(seconds: int) -> list[Fix]:
    """Driving north-east at 54 km/h (15 m/s) from 50.0 N, 30.0 E."""
    fixes = []
    for t in range(seconds):
        d = 15.0 * t
        lat = 50.0 + (d * math.cos(math.radians(45))) / 111_320
        lon = 30.0 + (d * math.sin(math.radians(45))) / (111_320 * math.cos(math.radians(50.0)))
        fixes.append(Fix(float(t), START + timedelta(seconds=t), lat, lon, 54.0, 45.0))
    return fixes


def _window(detect: Any, read_plates: Any) -> Any:
    """The heavy stage's per-window state at 10 fps: six reads per track, every third frame."""
    from dashcam.stages.heavy.analysis import _Window

    return _Window(
        fps=10,
        conf=0.3,
        detect=detect,
        read_plates=read_plates,
        reads_per_track=6,
        every=3,
        timings=dict.fromkeys(("decode", "detect", "plates", "media"), 0.0),
    )


def _play(detect: Any, read_plates: Any, frames: int, frame_no: list[int], frame: Any) -> Any:
    """Frames 0..frames-1 at 10 fps through a window (``frame_no[0]`` tells the fakes which one is being
    looked at), flushed: the state of its one track."""
    w = _window(detect, read_plates)
    for i in range(frames):
        frame_no[0] = i
        w.add(i, i / 10, frame(i), 1)
    w.flush()
    (st,) = w.states.values()
    return st


def _run(ctx: StageContext, path: Path) -> int:
    clip_id = register_file(path, ctx).clip_id
    run_preprocess(clip_id, ctx)
    run_heavy(clip_id, ctx)
    return clip_id


def _snapshot(ctx: StageContext, clip_id: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    with session_scope(ctx.engine) as s:
        sights = [
            (r.id, r.track_id, r.label, r.first_s, r.last_s, r.best_s, r.lat, r.lon, r.plate_text)
            for r in s.execute(
                select(Sighting).where(Sighting.clip_id == clip_id).order_by(Sighting.id)
            ).scalars()
        ]
        reads = [
            (r.sighting_id, r.t, r.text)
            for r in s.execute(select(PlateRead).order_by(PlateRead.id)).scalars()
        ]
        media = [(m.kind, m.key, m.sha256) for m in s.execute(select(Media).order_by(Media.key)).scalars()]
    return sights, reads, media


def test_cars_are_tracked_into_sightings_tagged_with_the_route(pipeline_env: Path, tmp_path: Path) -> None:
    ctx = _config(pipeline_env, plate_detector=None)
    src = testdata_file("video/lanes/solidWhiteRight.mp4")  # 8.8 s of road with cars
    clip = tmp_path / "2023_0815_133456_000120F.MP4"
    route = _route(9)
    write_gps(src, clip, route)
    clip_id = _run(ctx, clip)
    sights, _, media = _snapshot(ctx, clip_id)
    cars = [s for s in sights if s[2] == "car"]
    assert len(cars) <= 16  # sightings over many frames, not a row per frame
    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Sighting).where(Sighting.clip_id == clip_id)).scalars().all()
        assert max(r.frames for r in rows) >= 40
        boxes = {r.id: (s.get(SightingTrack, r.id) or SightingTrack(sighting_id=0)).boxes for r in rows}
        # four cars come near (a red SUV, a grey and a maroon saloon, a maroon car leaving at the left
        # edge); the rest are far down the road: each near one is one sighting, not several
        near = [r for r in rows if max(b[4] - b[2] for b in boxes[r.id]) >= 40]
        assert 2 <= len(near) <= 5, [(r.first_s, r.last_s) for r in near]
        for r in rows:
            assert r.first_s <= r.best_s <= r.last_s
            assert len(boxes[r.id]) == r.frames
            # where the route was at that second (interpolated between the per-second fixes)
            t0 = int(r.best_s)
            a, b = route[min(t0, 8)], route[min(t0 + 1, 8)]
            f = r.best_s - t0
            lat, lon = a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f
            assert r.lat is not None and distance_m(r.lat, r.lon, lat, lon) < 10.0
            assert r.time_utc is not None
            assert (
                abs(
                    (
                        r.time_utc.replace(tzinfo=timezone.utc) - (START + timedelta(seconds=r.best_s))
                    ).total_seconds()
                )
                < 0.5
            )
            assert r.speed_kmh == pytest.approx(54.0, abs=0.5)
    kinds = {k for k, _, _ in media}
    assert {"thumbnail", "sighting_clip"} <= kinds
    for _, key, _ in media:
        assert ctx.storage["heavy_output"].exists(key)


def test_rerun_changes_nothing(pipeline_env: Path, tmp_path: Path) -> None:
    ctx = _config(pipeline_env, plate_detector=None)
    clip = tmp_path / "2023_0815_120000_000001F.MP4"
    shutil.copyfile(testdata_file("video/highway/test_video.mp4"), clip)
    clip_id = _run(ctx, clip)
    before = _snapshot(ctx, clip_id)
    assert before[0], "the highway clip has cars"
    assert all(s[6] is None for s in before[0])  # no GPS in this clip: sightings without position
    assert run_heavy(clip_id, ctx).skipped
    assert _snapshot(ctx, clip_id) == before
    # forget that it ran: the work is redone and lands on the same rows, keys and bytes
    with session_scope(ctx.engine) as s:
        s.execute(StageRun.__table__.delete().where(StageRun.stage == "heavy"))
    keys = sorted(ctx.storage["heavy_output"].keys())
    assert not run_heavy(clip_id, ctx).skipped
    after = _snapshot(ctx, clip_id)
    assert [s[1:] for s in after[0]] == [s[1:] for s in before[0]]
    assert [(k, key) for k, key, _ in after[2]] == [(k, key) for k, key, _ in before[2]]
    assert sorted(ctx.storage["heavy_output"].keys()) == keys
    with session_scope(ctx.engine) as s:
        assert s.execute(select(func.count()).select_from(Sighting)).scalar_one() == len(before[0])


def test_decode_error_mid_clip_keeps_what_was_done(pipeline_env: Path, tmp_path: Path) -> None:
    ctx = _config(pipeline_env, plate_detector=None)
    clip = tmp_path / "2023_0815_133456_000121F.MP4"
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), clip)
    clip_id = register_file(clip, ctx).clip_id
    run_preprocess(clip_id, ctx)
    # damage the second half of the picture data after preprocess chose its windows
    raw = ctx.storage["raw"].path(ctx.clip(clip_id).raw_key)
    data = bytearray(raw.read_bytes())
    cut = int(len(data) * 0.6)
    data[cut : len(data) - 30000] = bytes(len(data) - 30000 - cut)
    raw.write_bytes(bytes(data))
    res = run_heavy(clip_id, ctx)
    with session_scope(ctx.engine) as s:
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == "heavy")
        ).scalar_one()
        n = s.execute(
            select(func.count()).select_from(Sighting).where(Sighting.clip_id == clip_id)
        ).scalar_one()
    assert res.error is not None and "decode error" in res.error
    assert run.status == "done" and run.error == res.error
    assert n >= 1 and res.frames > 10


def test_merged_tracks_keep_one_plate_read_per_frame() -> None:
    from dashcam.stages.heavy.analysis import PlateObservation, SightingOut, _merge_same_plate

    def sighting(first: float, last: float, reads: list[tuple[float, float]]) -> SightingOut:
        return SightingOut(
            1,
            "car",
            0.9,
            first,
            last,
            first,
            [0, 0, 1, 1],
            [[first, 0, 0, 1, 1, 0.9]],
            reads=[PlateObservation(t, "AB12CDE", "AB12 CDE", c, [0, 0, 1, 1], evidence=c) for t, c in reads],
        )

    long = sighting(0.0, 4.0, [(1.0, 0.9), (2.0, 0.8)])
    short = sighting(1.5, 2.5, [(2.0, 0.95), (2.5, 0.7)])  # the same car split off by a label flip
    (merged,) = _merge_same_plate([long, short])
    assert [(r.t, r.confidence) for r in merged.reads] == [(1.0, 0.9), (2.0, 0.95), (2.5, 0.7)]


def test_a_scene_cut_ends_tracks_and_driving_does_not() -> None:
    """A car box at the same place before and after a cut is two cars; the same box through steady
    motion (real driving frames) is one."""
    import cv2
    import numpy as np

    from dashcam.video.decode import iter_frames
    from dashcam.vision.types import Detection

    box = (400.0, 300.0, 600.0, 450.0)

    def run(frames: list[np.ndarray]) -> int:
        def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
            return [[Detection(*box, 0.9, "car", 2)] for _ in batch]

        w = _window(detect, None)
        for i, img in enumerate(frames):
            w.add(i, i / 10, img, 1)
        w.flush()
        return len(w.tracker.tracks())

    driving = [f.image for f in iter_frames(testdata_file("video/lanes/solidWhiteRight.mp4"), fps=10)]
    assert run(driving) == 1
    # the same frames, then a different scene of similar brightness (the first frame mirrored and shifted)
    other = np.roll(cv2.flip(driving[0], 1), 200, axis=1)
    assert run(driving[:20] + [other] * 20) == 2


def test_a_plate_read_three_times_alike_is_settled() -> None:
    from dashcam.stages.heavy.analysis import PlateObservation, _TrackState

    def obs(t: float, text: str, conf: float, ev: float | None = None, h: float = 30) -> PlateObservation:
        return PlateObservation(t, text, text, conf, [0, 0, 2 * h, h], evidence=conf if ev is None else ev)

    st = _TrackState()
    for conf in (0.9, 0.95):
        st.reads.append(obs(len(st.reads) / 10, "AB12CDE", conf))
    assert not st.settled  # two reads are not yet a consensus
    st.reads.append(obs(0.2, "AB12CDF", 0.9))
    assert not st.settled  # a disagreement keeps the track being read
    for t in (0.3, 0.4, 0.5):
        st.reads.append(obs(t, "AB12CDE", 0.92))
    assert st.settled
    st.reads[-1] = obs(0.5, "AB12CDE", 0.5)
    assert not st.settled  # an unsure read is not agreement
    # sure reads of a plate still growing in the frame (an approaching car), small or blurred: a nearer
    # frame may read it better
    st.reads[-3:] = [
        obs(0.3, "AB12CDE", 0.99, 0.3, 14),
        obs(0.4, "AB12CDE", 0.99, 0.35, 16),
        obs(0.5, "AB12CDE", 0.99, 0.4, 18),
    ]
    assert not st.settled
    st.reads[-3:] = [obs(t, "AB12CDE", 0.99, 0.9, h) for t, h in ((0.3, 20), (0.4, 26), (0.5, 30))]
    assert st.settled  # growing, but each read already on good evidence
    st.reads[-3:] = [obs(t, "AB12CDE", 0.99, 0.4, h) for t, h in ((0.3, 18), (0.4, 17), (0.5, 17))]
    assert st.settled  # not growing (a car ahead keeping its distance): this is as good as it gets


def test_the_whole_frame_pass_leaves_vehicles_read_by_their_crops_alone() -> None:
    """Every 12th frame the whole frame is searched for plates whose vehicle was missed. A vehicle read
    through its crop in that frame, or done with reading, is passed as ``skip_inside``; the tiled search
    comes every other time."""
    import numpy as np

    from dashcam.vision.types import Detection

    near, far = (100.0, 300.0, 500.0, 600.0), (900.0, 320.0, 1100.0, 470.0)
    late = (600.0, 330.0, 800.0, 480.0)  # comes one frame later: its crop reads fall on other frames
    calls: list[tuple[int, list, list, bool | None]] = []
    frame_no = [0]

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        cars = [Detection(*near, 0.9, "car", 2), Detection(*far, 0.9, "car", 2)]
        if frame_no[0] >= 1:
            cars.append(Detection(*late, 0.9, "car", 2))
        return [cars for _ in batch]

    def read_plates(img: np.ndarray, boxes: list, skip_inside: list = (), tiles: bool | None = None) -> list:
        calls.append((frame_no[0], list(boxes), list(skip_inside), tiles))
        return []

    w = _window(detect, read_plates)
    img = np.zeros((720, 1280, 3), np.uint8)
    for i in range(25):
        frame_no[0] = i
        w.add(i, i / 10, img, 1)
    whole = [c for c in calls if not c[1]]
    assert [c[0] for c in whole] == [0, 12, 24]
    assert [c[3] for c in whole] == [True, False, True]
    # frame 0: both cars are read through their crops in the same frame, so the whole frame skips them
    assert sorted(whole[0][2]) == sorted([near, far])
    crops = {c[0] for c in calls if c[1]}
    assert 12 in crops and 24 in crops  # (frames_seen - 1) % 3 == 0 at these frames
    assert sorted(whole[1][2]) == sorted([near, far])  # the late car was not read at frame 12: searched
    assert 12 not in {c[0] for c in calls if late in c[1]}


def test_one_vehicle_seen_as_car_and_truck_is_one_box() -> None:
    from dashcam.stages.heavy.analysis import _one_box_per_object
    from dashcam.vision.types import Detection

    van_car = Detection(100, 100, 300, 250, 0.6, "car", 2)
    van_truck = Detection(105, 95, 305, 255, 0.5, "truck", 7)
    assert _one_box_per_object([van_truck, van_car]) == [van_car]
    # a car in front of a truck: the smaller box inside the bigger one is another vehicle
    truck = Detection(0, 0, 600, 400, 0.8, "truck", 7)
    car = Detection(200, 200, 350, 330, 0.7, "car", 2)
    assert _one_box_per_object([car, truck]) == [truck, car]
    # a person next to (even overlapping) a car is not in the vehicle group
    person = Detection(100, 100, 300, 250, 0.9, "person", 0)
    assert len(_one_box_per_object([person, van_car])) == 2


def test_an_unreadable_plate_is_read_again_until_it_reads_well() -> None:
    """An approaching car: its first reads are guesses at a plate too small to read. After its share of
    reads the track is still read every 12th frame, and the most confident reads are kept, so the plate
    read once it is big enough wins the vote."""
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from dashcam.vision.types import Detection

    car = (500.0, 300.0, 800.0, 600.0)
    plate = (600.0, 520.0, 700.0, 550.0)
    read_at: list[int] = []
    frame_no = [0]

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection(*car, 0.9, "car", 2)] for _ in batch]

    def read_plates(img: np.ndarray, boxes: list, **_: object) -> list:
        if not boxes:
            return []
        read_at.append(frame_no[0])
        far = frame_no[0] < 60  # guesses first, then the true plate, confidently
        text, conf = (f"20{frame_no[0] % 7}0", 0.6) if far else ("2GVX988", 0.99)
        return [SimpleNamespace(text=text, raw_text=text, confidence=conf, box=plate)]

    from dashcam.synth.plates import render_plate, spec_for

    w = _window(detect, read_plates)
    img = np.zeros((720, 1280, 3), np.uint8)
    # a sharp plate where the reads are (its evidence counts its sharpness and its 30 px height)
    img[520:550, 600:700] = cv2.resize(render_plate(spec_for("2GVX988", "eu"), 30), (100, 30))
    for i in range(120):
        frame_no[0] = i
        w.add(i, i / 10, img, 1)
    assert read_at[:6] == [0, 3, 6, 9, 12, 15]  # its share, every 3rd frame
    assert read_at[6:] == [24, 36, 48, 60, 72, 84]  # then every 12th, until three agree
    (st,) = w.states.values()
    assert st.settled and len(read_at) == 12  # three confident reads alike: done reading
    assert len(st.reads) <= 12 and [r.text for r in st.reads][-3:] == ["2GVX988"] * 3


def test_a_plate_recogniser_is_part_of_the_cache_key_and_reads_whole_boxes(
    pipeline_env: Path, tmp_path: Path
) -> None:
    """vision.ocr = plate_onnx: its model and plate config count in the key; video reads use its variants."""
    from dashcam.stages.heavy.record import heavy_key, plate_reader
    from tests.vision.ocr.test_plate_onnx import _config as plate_config
    from tests.vision.ocr.test_plate_onnx import _model

    model = _model(tmp_path / "rec.onnx", 3)
    yaml = plate_config(tmp_path / "rec_plate_config.yaml")
    ctx = _config(pipeline_env, ocr={"type": "plate_onnx", "model": str(model)})
    key = heavy_key(ctx, "a" * 64)
    assert heavy_key(ctx, "a" * 64) == key
    reader = plate_reader(ctx)
    assert (
        reader.crops.variants_of(reader.crops.ocr)
        == ("tight", "plate")
        == reader.whole.variants_of(reader.whole.ocr)
    )
    plate_config(yaml, img_width=96)  # the same model, another input size: another key
    second = heavy_key(ctx, "a" * 64)
    model.write_bytes(model.read_bytes() + b"\0")  # other weights under the same name: another key
    assert len({key, second, heavy_key(ctx, "a" * 64)}) == 3


def test_windows_a_few_seconds_apart_are_looked_at_as_one() -> None:
    """The cheap pass lost the vehicle for a few seconds between two windows: the heavy stage looks at the
    gap too, so the vehicle is one track with boxes all the way; windows further apart stay apart."""
    import numpy as np

    from dashcam.stages.heavy.analysis import bridge, process_clip
    from dashcam.vision.types import Detection

    assert bridge([(5.0, 8.0), (0.0, 2.0)], 6.0) == [(0.0, 8.0)]
    assert bridge([(0.0, 2.0), (8.5, 9.0)], 6.0) == [(0.0, 2.0), (8.5, 9.0)]
    assert bridge([(0.0, 2.0), (5.0, 8.0)], 0.0) == [(0.0, 2.0), (5.0, 8.0)]

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection(400.0, 300.0, 600.0, 450.0, 0.9, "car", 2)] for _ in batch]

    clip = testdata_file("video/lanes/solidWhiteRight.mp4")
    seen: dict[float, list[float]] = {}
    for gap in (0.0, 6.0):
        times: list[float] = []
        out = process_clip(
            clip,
            [(0.0, 2.0), (5.0, 8.0)],
            detect=detect,
            read_plates=None,
            fps=10,
            bridge_s=gap,
            on_frame=times.append,
        )
        cars = [s for s in out.sightings if s.label == "car"]
        assert len(cars) == 1
        seen[gap] = [b[0] for b in cars[0].boxes]
        assert out.frames == len(times)
    assert not any(2.2 < t < 4.8 for t in seen[0.0])  # not looked at: no box there
    assert sum(1 for t in seen[6.0] if 2.2 < t < 4.8) >= 20  # looked at: the car at every frame


def test_the_sharp_read_of_an_approaching_plate_wins() -> None:
    """An approaching car: its plate grows from 10 to 34 px and sharpens. While small and blurred it is read
    confidently wrong (S as 5, as real footage does); the few sharp reads at the end must carry the sighting.
    Before, three alike confident reads ended the reading at once and the blurred read stood."""
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from dashcam.stages.heavy.analysis import PlateObservation
    from dashcam.stages.heavy.votes import sighting_plate
    from dashcam.synth.plates import render_plate, spec_for
    from dashcam.vision.types import Detection

    car = (400.0, 200.0, 900.0, 650.0)
    frame_no = [0]

    def plate_height(i: int) -> int:
        return min(34, 10 + i // 3)

    def plate_box(i: int) -> tuple[float, float, float, float]:
        h = plate_height(i)
        w = round(h * 4.7)
        return (650.0 - w / 2, 560.0 - h / 2, 650.0 - w / 2 + w, 560.0 - h / 2 + h)

    def frame(i: int) -> np.ndarray:
        img = np.full((720, 1280, 3), 70, np.uint8)
        x1, y1, x2, y2 = (int(v) for v in plate_box(i))
        plate = cv2.resize(
            render_plate(spec_for("SD05BDS", "eu"), 120), (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA
        )
        far = plate_height(i) < 24  # soft while far (focus, motion), sharp from 24 px
        img[y1:y2, x1:x2] = cv2.GaussianBlur(plate, (0, 0), 1.6) if far else plate
        return img

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection(*car, 0.9, "car", 2)] for _ in batch]

    def read_plates(img: np.ndarray, boxes: list, **_: object) -> list:
        if not boxes:
            return []
        sharp = plate_height(frame_no[0]) >= 24
        text, conf = ("SD05BDS", 0.97) if sharp else ("5D05BD5", 0.95)
        return [SimpleNamespace(text=text, raw_text=text, confidence=conf, box=plate_box(frame_no[0]))]

    st = _play(detect, read_plates, 90, frame_no, frame)
    texts = [r.text for r in st.reads]
    assert "SD05BDS" in texts and texts.count("5D05BD5") > texts.count("SD05BDS")  # outnumbered
    assert sighting_plate(st.reads).text == "SD05BDS"
    best = max(st.reads, key=lambda r: r.evidence)
    assert best.text == "SD05BDS" and all(
        r.evidence < 0.75 * best.evidence for r in st.reads if r.text != best.text
    )
    # a crowd of unsure reads never outvotes one sure read: however many, they do not vote
    crowd = [PlateObservation(t / 10, "5D05BD5", "", 0.95, [0, 0, 50, 10], evidence=0.3) for t in range(40)]
    sure = PlateObservation(5.0, "SD05BDS", "", 0.97, [0, 0, 160, 34], evidence=0.9)
    assert sighting_plate([*crowd, sure]).text == "SD05BDS"
    assert "5D05BD5" in sighting_plate([*crowd, sure]).alternatives


def test_a_plate_cut_by_the_frames_edge_neither_settles_nor_outvotes_the_whole_plate() -> None:
    """A car coming in at the frame's left edge: its plate, cut by the edge, is read confidently as a part
    (D05BDS, its S out of the frame), then whole once the car is in (SD05BDS, a little less sure). Before,
    three alike confident reads of the part settled the track and the part was the sighting's plate."""
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from dashcam.stages.heavy.votes import sighting_plate
    from dashcam.synth.plates import render_plate, spec_for
    from dashcam.vision.types import Detection

    frame_no = [0]
    coming_in = 40  # frames with the plate cut by the edge

    def boxes(i: int) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
        if i < coming_in:  # the plate's first 30 px are out of the frame
            return (0.0, 380.0, 330.0, 640.0), (0.0, 540.0, 111.0, 570.0)
        return (40.0, 380.0, 370.0, 640.0), (60.0, 540.0, 201.0, 570.0)

    whole = cv2.resize(render_plate(spec_for("SD05BDS", "eu"), 120), (141, 30), interpolation=cv2.INTER_AREA)

    def frame(i: int) -> np.ndarray:
        img = np.full((720, 1280, 3), 70, np.uint8)
        if i < coming_in:
            img[540:570, 0:111] = whole[:, 30:]
        else:
            img[540:570, 60:201] = whole
        return img

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection(*boxes(frame_no[0])[0], 0.9, "car", 2)] for _ in batch]

    def read_plates(img: np.ndarray, vehicle_boxes: list, **_: object) -> list:
        if not vehicle_boxes:
            return []
        text, conf = ("D05BDS", 0.99) if frame_no[0] < coming_in else ("SD05BDS", 0.93)
        return [SimpleNamespace(text=text, raw_text=text, confidence=conf, box=boxes(frame_no[0])[1])]

    st = _play(detect, read_plates, 70, frame_no, frame)
    cut = [r for r in st.reads if r.at_edge]
    inside = [r for r in st.reads if not r.at_edge]
    assert len(cut) >= 3 and {r.text for r in cut} == {"D05BDS"}  # read alike and sure, yet not settled
    assert inside and {r.text for r in inside} == {"SD05BDS"}
    assert max(r.evidence for r in cut) < 0.75 * max(r.evidence for r in inside)
    plate = sighting_plate(st.reads)
    assert plate.text == "SD05BDS" and "D05BDS" in plate.alternatives


def test_vehicle_class_from_class_scores_over_the_track() -> None:
    """The int8 YOLO hesitates between car and truck on a saloon (a car box and a truck box on it, the truck
    a little ahead), then sees it clearly as a car. The summed class scores say car, and its share is kept;
    the label of the top box per frame said truck."""
    import numpy as np

    from dashcam.stages.heavy.votes import label_shares
    from dashcam.vision.types import Detection

    box = (300.0, 200.0, 700.0, 500.0)
    frame_no = [0]

    def detect(batch: list[np.ndarray]) -> list[list[Detection]]:
        unsure = frame_no[0] < 8
        car, truck = (0.45, 0.5) if unsure else (0.9, 0.15)
        return [
            [
                Detection(*box, car, "car", 2),
                Detection(box[0] + 4, box[1], box[2] + 4, box[3], truck, "truck", 7),
            ]
        ]

    w = _window(detect, None)
    img = np.zeros((720, 1280, 3), np.uint8)
    for i in range(10):
        frame_no[0] = i
        w.add(i, i / 10, img, 1)
    w.flush()
    (s,) = w.sightings([])
    assert s.label == "car"
    shares = label_shares(s.class_votes)
    assert list(shares) == ["car", "truck"]
    assert shares["car"] == pytest.approx((8 * 0.45 + 2 * 0.9) / (8 * 0.95 + 2 * 1.05), abs=1e-3)


def test_a_list_of_recognisers_is_read_and_keyed(pipeline_env: Path, tmp_path: Path) -> None:
    """vision.ocr = [rapidocr, easyocr]: the video reader runs both; EasyOCR's weights and the list count in
    the cache key (another order, another recogniser: another key)."""
    from dashcam.stages.heavy.record import heavy_key, plate_reader

    ctx = _config(pipeline_env, ocr={"type": "rapidocr"})
    alone = heavy_key(ctx, "a" * 64)
    ctx = _config(pipeline_env, ocr=[{"type": "rapidocr"}, {"type": "easyocr", "num_threads": 2}])
    both = heavy_key(ctx, "a" * 64)
    reader = plate_reader(ctx)
    assert (
        [o.backend for o in reader.crops.ocrs]
        == ["rapidocr", "easyocr"]
        == [o.backend for o in reader.whole.ocrs]
    )
    ctx = _config(pipeline_env, ocr=[{"type": "easyocr", "num_threads": 2}, {"type": "rapidocr"}])
    assert len({alone, both, heavy_key(ctx, "a" * 64)}) == 3
    # other EasyOCR weights under the same name: another key
    (tmp_path / "english_g2.pth").write_bytes(b"weights one")
    ctx = _config(pipeline_env, ocr=[{"type": "rapidocr"}, {"type": "easyocr", "model_dir": str(tmp_path)}])
    first = heavy_key(ctx, "a" * 64)
    (tmp_path / "english_g2.pth").write_bytes(b"weights two")
    assert heavy_key(ctx, "a" * 64) != first
