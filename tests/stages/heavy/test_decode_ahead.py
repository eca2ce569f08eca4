"""The heavy stage decodes the next batch of frames while the detector works on the current one."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dashcam.stages.heavy import analysis as heavy
from dashcam.video.decode import Frame

BATCH = 8
N = 40


@pytest.mark.parametrize("batch", [1, BATCH])
def test_next_batch_is_decoded_while_the_detector_runs(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    decoded = 0
    progressed = threading.Condition()

    def frames(*_: Any, **__: Any) -> Iterator[Frame]:
        nonlocal decoded
        for i in range(N):
            img = np.full((36, 64, 3), i, np.uint8)
            with progressed:
                decoded += 1
                progressed.notify_all()
            yield Frame(i / 10, img, i == 0)

    monkeypatch.setattr(heavy, "iter_frames", frames)
    waited: list[bool] = []

    def detect(images: list[np.ndarray]) -> list[list[Any]]:
        # while this batch is "on the GPU", the decoder thread must get through the whole next batch
        first = int(images[0][0, 0, 0])
        want = min(N, first + 2 * len(images))
        with progressed:
            waited.append(progressed.wait_for(lambda: decoded >= want, timeout=20))
        return [[] for _ in images]

    out = heavy.process_clip(
        "clip.mp4", [(0.0, N / 10)], detect=detect, read_plates=None, fps=10, batch_size=batch
    )
    assert out.frames == N
    assert waited and all(waited)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread is Linux's")
@pytest.mark.parametrize("on_gpu", [False, True], ids=["cpu", "gpu"])
def test_on_a_cpu_frames_are_decoded_nicer_than_the_detector(
    monkeypatch: pytest.MonkeyPatch, on_gpu: bool
) -> None:
    """On a CPU the decode-ahead thread yields to the detector's threads (decode_setup); on a GPU it
    decodes at full priority. The detector's thread and the process keep their niceness."""

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: set[int] = set()

    def frames(*_: Any, **__: Any) -> Iterator[Frame]:
        for i in range(10):
            seen.add(niceness())  # in the thread that decodes
            yield Frame(i / 10, np.zeros((36, 64, 3), np.uint8), i == 0)

    monkeypatch.setattr(heavy, "iter_frames", frames)
    mine = niceness()
    setup = heavy.decode_setup(on_gpu)
    heavy.process_clip(
        "clip.mp4", [(0.0, 1.0)], detect=lambda ims: [[] for _ in ims], read_plates=None, fps=10, decode=setup
    )
    assert seen == {mine if on_gpu else min(19, mine + heavy.DECODE_NICE_CPU)}
    assert niceness() == mine and os.getpriority(os.PRIO_PROCESS, 0) == mine
