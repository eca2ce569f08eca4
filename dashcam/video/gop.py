"""A video read GOP by GOP: every packet demuxed, only what the caller asks for decoded.

A GOP is a keyframe and the frames that depend on it, up to the next keyframe. Reading its packets costs
almost nothing next to decoding them, and their sizes already tell how much the picture changes inside
it (:attr:`Gop.activity`): a still scene encodes to tiny difference frames. So a caller can look at a
keyframe alone (decoded by itself: keyframes of camera footage are IDR frames), at a whole GOP, or at
nothing, GOP by GOP, after seeing what came before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashcam.video.decode import Frame, VideoError, VideoInfo, _info, _open, _reason, _t, _to_bgr

log = logging.getLogger(__name__)


@dataclass
class Gop:
    index: int
    t: float  # the keyframe's time, seconds from the start of the clip
    end: float  # the next keyframe's time (the clip's end for the last GOP)
    packets: list[Any] = field(repr=False)  # the keyframe's packet first
    window: int = 30  # packets in about a second: motion is measured over that span

    @property
    def key_bytes(self) -> int:
        return int(self.packets[0].size)

    @property
    def activity(self) -> float:
        """Bytes per difference frame over the GOP's busiest second, per byte of its keyframe: ~0.001 for
        a still scene of a camera that encodes by quality, far more where something moves (scale-free:
        resolution and bitrate cancel). The busiest second, not the mean: a car that passes in two seconds
        of an eight-second GOP is still plain to see."""
        sizes = [int(p.size) for p in self.packets[1:]]
        if not sizes:
            return 0.0
        n = min(self.window, len(sizes))
        run = best = sum(sizes[:n])
        for i in range(n, len(sizes)):
            run += sizes[i] - sizes[i - n]
            best = max(best, run)
        return best / n / max(1, self.key_bytes)


class GopReader:
    """The GOPs of a clip's first video stream, in order, and decoding on request."""

    def __init__(self, path: str | os.PathLike[str], *, max_width: int | None = None) -> None:
        import av

        self.name = Path(path).name
        self.max_width = max_width
        self._container = _open(path)
        vs = self._container.streams.video[0]
        self._vs = vs
        self.info: VideoInfo = _info(self._container)
        self._tb = vs.time_base
        self._t0 = float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0
        self.duration = self.info.duration_s
        self._window = max(1, round(float(vs.average_rate or vs.guessed_rate or 30)))
        codec = vs.codec_context
        # keyframes alone: slice threads only, so a frame comes out of the packet that carries it
        self._key = av.CodecContext.create(codec.name, "r")
        self._key.extradata = codec.extradata
        self._key.thread_type = "SLICE"
        # whole GOPs: frame threads for speed, drained at the end of each GOP
        self._all = av.CodecContext.create(codec.name, "r")
        self._all.extradata = codec.extradata
        self._all.thread_type = "AUTO"

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> GopReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _time(self, pkt: Any) -> float | None:
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        return None if ts is None or self._tb is None else float(ts * self._tb) - self._t0

    def gops(self) -> Iterator[Gop]:
        """Each GOP with its packets, demuxed (not decoded); a damaged stream ends in :class:`VideoError`
        after the GOPs before the damage."""
        import av

        current: Gop | None = None
        index = packets = 0
        try:
            for pkt in self._container.demux(self._vs):
                if pkt.size == 0:
                    continue
                packets += 1
                t = self._time(pkt)
                if pkt.is_keyframe and t is not None:
                    if current is not None:
                        current.end = t
                        yield current
                        index += 1
                    current = Gop(index, t, self.duration, [pkt], self._window)
                elif current is not None:
                    current.packets.append(pkt)
                # packets before the first keyframe cannot be decoded on their own: skipped
        except av.error.FFmpegError as exc:
            after = f" after {current.t:.2f} s" if current is not None else ""
            raise VideoError(f"{self.name}: read error{after}: {_reason(exc)}") from None
        if current is not None:
            current.end = max(current.end, current.t)
            yield current
        elif packets:
            # a camera's clip starts with a keyframe; a stream with none is damaged (zeroed picture data
            # reads as packets that the parser finds no keyframe in), never an empty clip
            raise VideoError(f"{self.name}: decode error: no keyframe in {packets} video packets")

    def keyframe(self, gop: Gop) -> Frame:
        """The GOP's keyframe, decoded by itself."""
        frames = self._decode(self._key, gop.packets[:1], gop)
        if not frames:
            raise VideoError(f"{self.name}: keyframe at {gop.t:.2f} s gave no picture")
        f = frames[0]
        return Frame(gop.t if f.pts is None else _t(f, self._tb) - self._t0, _to_bgr(f, self.max_width), True)

    def frames(self, gop: Gop, every: float) -> list[Frame]:
        """The GOP's frames after its keyframe, at most one per ``every`` seconds (all with 0)."""
        out: list[Frame] = []
        next_t = gop.t + every
        for f in self._decode(self._all, gop.packets, gop):
            t = _t(f, self._tb) - self._t0
            if t <= gop.t + 1e-6 or t + 1e-6 < next_t:
                continue
            out.append(Frame(t, _to_bgr(f, self.max_width), bool(f.key_frame)))
            next_t = max(next_t + every, t + every * 0.5)
        return out

    def _decode(self, ctx: Any, packets: list[Any], gop: Gop) -> list[Any]:
        import av

        frames: list[Any] = []
        try:
            for pkt in packets:
                frames += ctx.decode(pkt)
            frames += ctx.decode(None)  # drain what the decoder still holds
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.name}: decode error after {gop.t:.2f} s: {_reason(exc)}") from None
        finally:
            ctx.flush_buffers()  # ready for a GOP that need not follow this one
        return frames
