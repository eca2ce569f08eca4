"""The cheap pass on real footage with the real coarse detector (YOLOv8n TFLite on CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dashcam.db.models import StageRun, Window
from dashcam.db.session import session_scope
from dashcam.stages.context import NotRetryable, StageContext
from dashcam.stages.ingest.record import register_file
from dashcam.stages.keys import STAGE_VERSIONS
from dashcam.stages.preprocess.analysis import CoarseBox, Manifest, merge_windows
from dashcam.stages.preprocess.record import run_preprocess
from tests.media import still_clip
from tests.support import testdata_file


@pytest.fixture
def ctx(pipeline_env: Path) -> StageContext:
    return StageContext.load()


def _register(ctx: StageContext, src: Path, tmp_path: Path, name: str) -> int:
    dst = tmp_path / "in" / name
    dst.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, dst)
    return register_file(dst, ctx).clip_id


def test_merge_windows_pads_merges_and_clamps() -> None:
    box = lambda t: [CoarseBox(t, "car", 0.9, [0, 0, 1, 1])]  # noqa: E731
    wins = merge_windows(
        [(5.0, box(5.0)), (0.2, box(0.2)), (1.5, box(1.5)), (9.9, box(9.9))], pad=1.0, duration=10.0
    )
    assert [(w.start, w.end) for w in wins] == [(0.0, 2.5), (4.0, 6.0), (8.9, 10.0)]
    assert len(wins[0].boxes) == 2


def test_real_road_clip_passes_its_cars_on(ctx: StageContext, tmp_path: Path) -> None:
    clip_id = _register(
        ctx, testdata_file("video/lanes/solidWhiteRight.mp4"), tmp_path, "2023_0815_123456_000120F.MP4"
    )
    res = run_preprocess(clip_id, ctx)
    assert not res.skipped and res.error is None
    m = Manifest.from_json(ctx.storage["preproc"].open(res.manifest_key).read())
    assert m.sample_mode == "keyframes"  # keyframes every 1.2 s: nothing else is decoded
    assert m.samples == 8
    # cars are in view all along this clip: the windows cover nearly all of it
    assert m.seconds_passed >= 0.9 * m.duration_s
    assert {"car"} <= {label for w in m.windows for label in w.labels}
    with session_scope(ctx.engine) as s:
        wins = s.execute(select(Window).where(Window.clip_id == clip_id)).scalars().all()
        assert len(wins) == len(m.windows)
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == "preprocess")
        ).scalar_one()
        assert run.status == "done" and run.output_key == res.manifest_key


def test_rerun_skips_and_manifest_is_deterministic(ctx: StageContext, tmp_path: Path) -> None:
    clip_id = _register(
        ctx, testdata_file("video/highway/test_video.mp4"), tmp_path, "2023_0815_120000_000001F.MP4"
    )
    first = run_preprocess(clip_id, ctx)
    area = ctx.storage["preproc"]
    blob = area.open(first.manifest_key).read()
    # the manifest names the version the stage's cache key carries (one place keeps it)
    assert Manifest.from_json(blob).stage_version == STAGE_VERSIONS["preprocess"]
    again = run_preprocess(clip_id, ctx)
    assert again.skipped and again.windows == first.windows
    # forget the stage run: the work is redone and yields the very same bytes
    with session_scope(ctx.engine) as s:
        s.execute(StageRun.__table__.delete().where(StageRun.stage == "preprocess"))
    area.delete(first.manifest_key)
    redo = run_preprocess(clip_id, ctx)
    assert not redo.skipped
    assert area.open(first.manifest_key).read() == blob
    with session_scope(ctx.engine) as s:
        assert (
            len(s.execute(select(Window).where(Window.clip_id == clip_id)).scalars().all()) == first.windows
        )


def test_parked_camera_on_an_empty_street_passes_almost_nothing(ctx: StageContext, tmp_path: Path) -> None:
    # a road with no vehicle on it; a car on the far carriageway shows at the left edge, cut by the frame
    empty = testdata_file("video/highway/test_images/test2.jpg")
    clip = still_clip(tmp_path / "2023_0815_230000_000050PF.MP4", empty, seconds=60)
    clip_id = register_file(clip, ctx).clip_id
    res = run_preprocess(clip_id, ctx)
    m = Manifest.from_json(ctx.storage["preproc"].open(res.manifest_key).read())
    # at most the first look's window: the still scene after it is gated out
    assert m.seconds_passed <= 2 * ctx.config.global_config.detection.window_pad_s
    assert all(w.start == 0.0 for w in m.windows)
    assert m.static_samples >= m.samples - 1  # one look at the scene, the rest gated out


def test_parked_camera_facing_parked_cars_passes_one_short_window(ctx: StageContext, tmp_path: Path) -> None:
    cars = testdata_file("video/highway/test_images/test1.jpg")
    clip = still_clip(tmp_path / "2023_0815_230000_000051PF.MP4", cars, seconds=60)
    res = run_preprocess(register_file(clip, ctx).clip_id, ctx)
    assert res.windows == 1 and res.seconds_passed <= 2 * ctx.config.global_config.detection.window_pad_s
    assert res.seconds_passed < 0.05 * res.duration_s


def test_corrupt_clip_fails_with_a_reason_recorded(ctx: StageContext, tmp_path: Path) -> None:
    src = testdata_file("video/lanes/solidWhiteRight.mp4")
    bad = tmp_path / "2023_0815_123456_000121F.MP4"
    data = bytearray(src.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 : len(data) - 40000] = bytes(len(data) - 40000 - mdat - 8)  # the picture data is gone
    bad.write_bytes(bytes(data))
    reg = register_file(bad, ctx)  # the boxes are intact: ingest cannot tell
    with pytest.raises(NotRetryable) as exc:
        run_preprocess(reg.clip_id, ctx)
    assert str(exc.value).startswith("2023_0815_123456_000121F.MP4: decode error")
    with session_scope(ctx.engine) as s:
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == reg.clip_id, StageRun.stage == "preprocess")
        ).scalar_one()
    assert run.status == "failed"
    assert run.error == str(exc.value) and "\n" not in run.error


def test_two_samples_in_one_call_find_what_each_finds_alone(ctx: StageContext) -> None:
    """Two wide samples stacked into one detector input: each one's cars come back in its own pixels,
    where the sample alone puts them, and a sample without cars gets none from its neighbour."""
    import cv2

    from dashcam.stages.preprocess.analysis import detect_samples
    from dashcam.stages.preprocess.record import coarse_config
    from dashcam.vision.boxes import iou_matrix

    det = ctx.detector("coarse", coarse_config(ctx))
    cars = cv2.resize(cv2.imread(str(testdata_file("video/highway/test_images/test1.jpg"))), (640, 360))
    empty = cv2.resize(cv2.imread(str(testdata_file("video/highway/test_images/test2.jpg"))), (640, 360))

    def vehicles(dets: list) -> list:  # type: ignore[type-arg]
        return [d for d in dets if d.label in ("car", "truck", "bus") and d.score >= 0.3]

    (alone,) = detect_samples(det, [cars])
    alone = vehicles(alone)
    assert alone, "the highway still has cars"
    for pair in ([cars, empty], [empty, cars]):
        got = detect_samples(det, pair)
        k = 0 if pair[0] is cars else 1
        paired = vehicles(got[k])
        assert not vehicles(got[1 - k])
        assert len(paired) >= len(alone) - 1
        iou = iou_matrix(
            np.array([[d.x1, d.y1, d.x2, d.y2] for d in alone]),
            np.array([[d.x1, d.y1, d.x2, d.y2] for d in paired]),
        )
        assert (iou.max(axis=1) >= 0.6).sum() >= len(alone) - 1, iou


def test_lane_crop_finds_distant_cars_the_paired_sample_misses(ctx: StageContext) -> None:
    """A real highway photo shrunk to a quarter and set where a dashcam's horizon is, in a 1280 x 720 frame:
    its cars are 20-30 px tall, as distant cars ahead are. In the 640 px sample, paired with another (the
    first look), the detector finds none of them; the second look, the lane ahead at twice the scale,
    finds them, boxed in sample pixels inside the shrunk photo."""
    import cv2

    from dashcam.stages.preprocess.analysis import SAMPLE_WIDTH, detect_samples
    from dashcam.stages.preprocess.record import coarse_config

    det = ctx.detector("coarse", coarse_config(ctx))
    photo = cv2.imread(str(testdata_file("video/highway/test_images/test1.jpg")))
    empty = cv2.imread(str(testdata_file("video/highway/test_images/test2.jpg")))
    frame = cv2.resize(cv2.GaussianBlur(photo, (0, 0), 25), (1280, 720))
    small = cv2.resize(photo, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    y0, x0 = int(0.47 * 720 - h / 2), (1280 - w) // 2
    frame[y0 : y0 + h, x0 : x0 + w] = small

    def vehicles(dets: list) -> list:  # type: ignore[type-arg]
        return [d for d in dets if d.label in ("car", "truck", "bus") and d.score >= 0.3]

    def sample(img: np.ndarray) -> np.ndarray:  # as the stage decodes it
        return cv2.resize(img, (SAMPLE_WIDTH, SAMPLE_WIDTH * 9 // 16), interpolation=cv2.INTER_AREA)

    assert not vehicles(detect_samples(det, [sample(frame), sample(empty)])[0])
    found = vehicles(detect_samples(det, [sample(frame)], lane_crop=True)[0])
    assert len(found) >= 2
    f = SAMPLE_WIDTH / 1280
    for d in found:
        assert (x0 - 2) * f <= d.x1 < d.x2 <= (x0 + w + 2) * f, d
        assert (y0 - 2) * f <= d.y1 < d.y2 <= (y0 + h + 2) * f, d


def test_prefetch_keeps_order_passes_errors_and_stops_cleanly() -> None:
    import threading

    from dashcam.stages.preprocess.analysis import prefetch
    from dashcam.video.decode import VideoError

    def frames(n: int, fail_at: int | None = None):  # type: ignore[no-untyped-def]
        for i in range(n):
            if i == fail_at:
                raise VideoError(f"clip.mp4: decode error after {i} s")
            yield i

    assert list(prefetch(frames(50), 4)) == list(range(50))
    got: list[int] = []
    with pytest.raises(VideoError, match="after 7 s"):
        for f in prefetch(frames(50, fail_at=7), 4):
            got.append(f)
    assert got == list(range(7))  # what came before the error is kept, in order
    before = threading.active_count()
    it = prefetch(frames(10_000), 2)
    assert next(it) == 0
    it.close()  # the consumer stops early (a decode error upstream, a crash): the thread ends too
    assert threading.active_count() == before


@pytest.mark.parametrize("gop_s", [1.0, 10.0], ids=["keyframe-a-second", "keyframe-every-10s"])
def test_parked_camera_passes_on_the_car_that_drives_past_after_three_minutes(
    ctx: StageContext, tmp_path: Path, gop_s: float
) -> None:
    """Minutes of a still scene are looked at ever more rarely, yet the car that comes after three minutes
    is passed on for as long as a user would see it; with long GOPs, their still insides are not decoded."""
    from dashcam.synth import synthesize

    made = synthesize(
        tmp_path / "src" / "2023_0815_230000_000052PF.MP4",
        seconds=200,
        fps=10,
        size=(640, 360),
        parked=True,
        passing_at=[180.0],
        gop_s=gop_s,
        preset="ultrafast",
    )
    (car,) = made.truth["vehicles"]
    seen = [s["t"] for s in car["samples"] if s["box"][3] - s["box"][1] >= 40]  # a car a user would count
    assert seen and min(seen) >= 180.0
    res = run_preprocess(register_file(made.path, ctx).clip_id, ctx)
    m = Manifest.from_json(ctx.storage["preproc"].open(res.manifest_key).read())
    missed = [t for t in seen if not any(w.start <= t <= w.end for w in m.windows)]
    assert not missed, (
        f"car in view but not passed on at {missed[:5]}... windows {m.windows} {m.samples} {m.static_samples} {m.keyframes_skipped} {made.path}"
    )
    assert m.seconds_passed < 30  # the minutes before it are not
    if gop_s == 1.0:
        # 200 keyframes; the still three minutes cost a few dozen looks
        assert m.keyframes_skipped >= 120 and m.samples <= 80, (m.samples, m.keyframes_skipped)
    else:
        assert m.samples <= 60, m.samples  # 20 long GOPs: the still ones' insides never decoded
