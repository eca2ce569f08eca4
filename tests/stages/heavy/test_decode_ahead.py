"""The heavy stage decodes the next batch of frames while the detector works on the current one."""

from __future__ import annotations

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
