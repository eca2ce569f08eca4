"""What makes a stage's output what it is: versions and cache keys.

A stage's cache key is (clip content hash, stage version, model checksums, config hash): a retry or a
rerun with the same key must produce the same output, so it may skip the work; any change to the
inputs, the code version, the model or the relevant configuration gives a new key.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

STAGES = ("ingest", "preprocess", "heavy", "archive")

# Bump a stage's version when its output for the same input changes.
STAGE_VERSIONS = {"ingest": "1", "preprocess": "1", "heavy": "1", "archive": "1"}


def config_hash(*sections: BaseModel | dict[str, Any] | None) -> str:
    """Stable hash of the configuration sections a stage's output depends on."""
    docs = [s.model_dump(mode="json") if isinstance(s, BaseModel) else s for s in sections]
    blob = json.dumps(docs, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_sha(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def model_checksum(path: str | os.PathLike[str]) -> str:
    """sha256 of a model file (cached per path, size and modification time)."""
    st = os.stat(path)
    return _file_sha(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def stage_key(
    stage: str, clip_hash: str, *, models: list[str] | tuple[str, ...] = (), config: str = ""
) -> str:
    """The cache key of one stage for one clip."""
    if stage not in STAGE_VERSIONS:
        raise ValueError(f"unknown stage {stage!r}")
    model_part = hashlib.sha256("|".join(models).encode()).hexdigest()[:12] if models else "nomodel"
    return f"{stage}-v{STAGE_VERSIONS[stage]}-{clip_hash[:32]}-{model_part}-{config or 'noconfig'}"
