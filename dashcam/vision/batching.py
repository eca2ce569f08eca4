"""Images to a model in batches: split to what the model and the device take, re-joined in order."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def batch_step(count: int, *, max_batch: int | None, fixed: int | None) -> int:
    """Images per call: a fixed batch axis takes exactly its size; else up to ``max_batch`` (None: all)."""
    if fixed:
        return fixed
    return max(1, min(count, max_batch)) if max_batch else max(1, count)


def run_batched(
    batch: np.ndarray,
    run: Callable[[np.ndarray], np.ndarray],
    *,
    max_batch: int | None = None,
    fixed: int | None = None,
) -> np.ndarray:
    """``run`` over ``batch`` (N, ...) in calls of :func:`batch_step` images, outputs concatenated in order.

    A model exported with a fixed batch gets a short last call filled with blank images, whose outputs are
    dropped. ``max_batch`` bounds the GPU memory one call needs (the device file's gpu.max_batch_size).
    """
    n = len(batch)
    if n == 0:
        raise ValueError("run_batched: no images")
    step = batch_step(n, max_batch=max_batch, fixed=fixed)
    parts = []
    for start in range(0, n, step):
        chunk = batch[start : start + step]
        real = len(chunk)
        if fixed and real < fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - real, *chunk.shape[1:]), chunk.dtype)])
        out = np.asarray(run(chunk))
        if len(out) < real:
            raise ValueError(f"the model returned {len(out)} results for a batch of {len(chunk)}")
        parts.append(out[:real])
    return np.concatenate(parts)
