"""The decoding thread ahead of the consumer (``prefetch``)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from dashcam.video.decode import prefetch


def _priorities(n: int) -> Iterator[tuple[int, int]]:
    """(thread id, its nice value), read in whichever thread produces the items."""
    for _ in range(n):
        tid = threading.get_native_id()
        yield tid, os.getpriority(os.PRIO_PROCESS, tid)


@pytest.mark.skipif(sys.platform != "linux", reason="a per-thread nice value is Linux's")
def test_a_niced_decoder_runs_below_the_consumer_and_leaves_the_consumer_as_it_was() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    got = list(prefetch(_priorities(5), 2, nice=19))
    assert {tid for tid, _ in got} != {threading.get_native_id()}  # produced in the decoding thread
    assert {nice for _, nice in got} == {19}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    # a later decoder without it is not lowered: the setting dies with its thread
    assert {nice for _, nice in prefetch(_priorities(3), 2)} == {mine}
