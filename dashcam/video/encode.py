"""H.264 encoding with PyAV: browser-playable MP4 (yuv420p, faststart), written atomically by callers."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_mp4(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    crf: int = 23,
    preset: str = "veryfast",
    gop: int | None = None,
) -> int:
    """Encode BGR frames to an H.264 MP4 at ``path``; returns the number of frames written."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    n = 0
    with av.open(str(Path(path)), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = None
        for image in frames:
            if stream is None:
                h, w = image.shape[:2]
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": preset}
                if gop:
                    stream.codec_context.gop_size = gop
            if image.shape[0] != stream.height or image.shape[1] != stream.width:
                image = np.ascontiguousarray(image[: stream.height, : stream.width])
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode(None):
                out.mux(packet)
    return n
