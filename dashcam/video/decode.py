"""Decoding with PyAV: probing and full-rate decoding of time windows (GOP by GOP: :mod:`dashcam.video.gop`).

Errors surface as :class:`VideoError` with one line naming the file and the problem. A decode error
in the middle of a clip raises only after every frame before it has been yielded, so callers keep
what was done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dashcam.video.mp4box import open_regular

T = TypeVar("T")

log = logging.getLogger(__name__)


class VideoError(ValueError):
    """A video cannot be opened or decoded (message: one line naming the file)."""


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    width: int
    height: int
    frames: int | None
    codec: str


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from the start of the clip
    image: np.ndarray  # BGR, uint8, HxWx3
    keyframe: bool


def _open(path: str | os.PathLike[str]) -> Any:
    import av

    p = Path(path)
    try:
        with open_regular(p) as f:  # a FIFO or a device would block the demuxer for ever
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise VideoError(f"{p.name}: no such file") from None
    except OSError as exc:
        raise VideoError(f"{p.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise VideoError(f"{p.name}: empty file")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"{p.name}: not a readable video ({_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{p.name}: has no video stream")
    return container


def _reason(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.splitlines()[0].strip() or type(exc).__name__


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    container = _open(path)
    try:
        return _info(container)
    finally:
        container.close()


def _info(container: Any) -> VideoInfo:
    vs = container.streams.video[0]
    fps = float(vs.average_rate or vs.guessed_rate or 0) or 30.0
    if vs.duration is not None and vs.time_base is not None:
        duration = float(vs.duration * vs.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = (vs.frames or 0) / fps
    return VideoInfo(
        duration_s=duration,
        fps=fps,
        width=vs.codec_context.width,
        height=vs.codec_context.height,
        frames=vs.frames or None,
        codec=vs.codec_context.name,
    )


def _small_i420(frame: Any, width: int, height: int) -> np.ndarray:
    """The Y, U and V planes each shrunk (area averaging), laid out as one I420 image."""
    import cv2

    w, h = frame.width, frame.height
    out = []
    for plane, (pw, ph, tw, th) in zip(
        frame.planes,
        (
            (w, h, width, height),
            (w // 2, h // 2, width // 2, height // 2),
            (w // 2, h // 2, width // 2, height // 2),
        ),
        strict=False,
    ):
        data = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
        out.append(cv2.resize(data, (tw, th), interpolation=cv2.INTER_AREA).ravel())
    return np.concatenate(out).reshape(height * 3 // 2, width)


def _to_bgr(frame: Any, max_width: int | None) -> np.ndarray:
    # yuv420p (what cameras record) goes through OpenCV's vectorised BT.601 limited-range conversion:
    # 2-4x cheaper than swscale's bgr24 path at full size, and shrinking the planes first is cheaper
    # still (bench/heavy.py, bench/preprocess.py); other formats go through swscale
    fast = frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0
    if max_width and frame.width > max_width:
        h = int(round(frame.height * max_width / frame.width / 2)) * 2
        if fast and max_width % 2 == 0:
            import cv2

            return cv2.cvtColor(_small_i420(frame, max_width, h), cv2.COLOR_YUV2BGR_I420)
        return frame.to_ndarray(format="bgr24", width=max_width, height=h)
    if fast:
        import cv2

        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")


def _t(frame: Any, time_base: Fraction | None) -> float:
    if frame.pts is None or time_base is None:
        return float(frame.time or 0.0)
    return float(frame.pts * time_base)


def iter_frames(
    path: str | os.PathLike[str],
    *,
    start: float = 0.0,
    end: float | None = None,
    fps: float | None = None,
    max_width: int | None = None,
    threads: int = 0,
) -> Iterator[Frame]:
    """Decode ``[start, end)`` and yield frames at up to ``fps`` (None: every frame).

    Seeks to the keyframe before ``start``; frames before ``start`` are decoded but not converted.
    """
    import av

    name = Path(path).name
    container = _open(path)
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        if threads:
            vs.thread_count = threads
        tb = vs.time_base
        t0 = float(vs.start_time * tb) if vs.start_time is not None and tb else 0.0
        if start > 0 and tb:
            container.seek(int((start + t0) / tb), stream=vs, backward=True, any_frame=False)
        step = 1.0 / fps if fps else 0.0
        next_t = start
        last_t = -1.0
        try:
            for frame in container.decode(vs):
                t = _t(frame, tb) - t0
                if t < start - 1e-6 or t <= last_t:
                    continue
                if end is not None and t >= end:
                    break
                if step and t + 1e-6 < next_t:
                    continue
                last_t = t
                if step:
                    next_t = max(next_t + step, t + step * 0.5)
                yield Frame(t, _to_bgr(frame, max_width), bool(frame.key_frame))
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{name}: decode error after {max(last_t, start):.2f} s: {_reason(exc)}"
            ) from None
    finally:
        container.close()


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's niceness by ``nice`` (Linux keeps it per thread; elsewhere nothing)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):  # a container that forbids it: the thread runs as it was
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))


def prefetch(items: Iterator[T], depth: int, *, nice: int = 0) -> Iterator[T]:
    """The same frames in the same order, decoded by a thread ahead of the consumer (decoding and the
    detectors release the GIL, so they overlap); an error comes out where it happened in the sequence.
    ``nice``: that thread's niceness is raised by this much (:func:`lower_thread_priority`)."""
    if depth <= 0:
        yield from items
        return
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        lower_thread_priority(nice)
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if (
                close is not None
            ):  # a consumer that stopped early: the decoder's file is closed now, not at GC
                close()

    worker = threading.Thread(target=produce, name="decode-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            with contextlib.suppress(queue.Empty):
                q.get_nowait()
            worker.join(timeout=0.05)
