"""Clips synthesised once per test session (encoding is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashcam.synth import SynthResult, synthesize

PLATES = ["AB12CDE", "7ABC123", "XY34ZZZ"]
SIZE = (1280, 720)
FPS = 15.0
SECONDS = 16.0


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """A 16 s 1280x720 drive with three given plates, named like a Viofo clip (camera at UTC+2)."""
    folder: Path = tmp_path_factory.mktemp("synth")
    return synthesize(
        folder,
        seconds=SECONDS,
        fps=FPS,
        size=SIZE,
        plates=PLATES,
        seed=7,
        viofo_name=True,
        sequence=120,
        utc_offset_hours=2,
    )
