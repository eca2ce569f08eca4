"""Whole-archive operations behind `dashcam archive verify|rekey|encrypt`: one object at a time, each one's
outcome counted, and a bad object reported by its key while the rest go on.

* **verify**: every archived medium against its row (size and sha256 of the plain text, so every chunk's tag
  of a sealed object is checked), plus how many objects are sealed and how many plain.
* **rekey**: every sealed object's data key re-wrapped from the current archive key to a new one; the media
  bytes are not rewritten. Interrupted, it is run again with the same keys: objects already on the new key
  are counted and left alone.
* **encrypt**: objects written before encryption was turned on are sealed in place, each checked against its
  media row before and read back after, and swapped in atomically.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from dashcam.crypt.area import SealedArea
from dashcam.crypt.keys import EncryptionProblem, Key
from dashcam.crypt.sealed import SealedReader
from dashcam.db.models import Media
from dashcam.db.session import session_scope

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one pass over the archive did; ``problems`` holds one line per object that failed."""

    objects: int = 0
    sealed: int = 0
    plain: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        log.error("archive: %s", line)


def _rows(engine: Engine) -> dict[str, Media]:
    with session_scope(engine) as s:
        rows = {m.key: m for m in s.execute(select(Media).where(col(Media.area) == "archive")).scalars()}
        s.expunge_all()
    return rows


def verify(area: SealedArea, engine: Engine) -> Outcome:
    """Every archived medium read in full and checked against its row."""
    out = Outcome()
    for key, m in sorted(_rows(engine).items()):
        out.objects += 1
        try:
            if not area.exists(key):
                out.problem(f"{key}: missing")
                continue
            if area.sealed(key):
                out.sealed += 1
            else:
                out.plain += 1
            size = area.size(key)
            digest = area.sha256(key) if size == m.size_bytes else None
        except (EncryptionProblem, OSError) as exc:
            out.problem(f"{key}: {str(exc).removeprefix(f'{area.name}/{key}: ')}")
            continue
        if size != m.size_bytes:
            out.problem(f"{key}: size {size} != {m.size_bytes} in its row")
        elif digest != m.sha256:
            out.problem(f"{key}: sha256 {digest[:12] if digest else '?'} != {m.sha256[:12]} in its row")
        else:
            out.unchanged += 1
    return out


def rekey(area: SealedArea, old: Key, new: Key) -> Outcome:
    """Re-wrap every sealed object in the archive area from ``old`` to ``new``."""
    out = Outcome()
    for key in area.keys(""):
        out.objects += 1
        try:
            if not area.sealed(key):
                out.plain += 1
                continue
            out.sealed += 1
            changed = area.rewrap(key, old, new)
            # proof it opens with the new key alone: header, length, and the first chunk's tag
            with area.raw_open(key) as raw, SealedReader(raw, new, key, area.where(key)) as back:
                back.chunk(0)
        except (EncryptionProblem, OSError) as exc:
            out.problem(f"{key}: {str(exc).removeprefix(f'{area.name}/{key}: ')}")
            continue
        if changed:
            out.changed += 1
        else:
            out.unchanged += 1
    return out


def seal_all(area: SealedArea, engine: Engine) -> Outcome:
    """Seal every plain object of the archive with the archive key in force."""
    out = Outcome()
    rows = _rows(engine)
    for key in area.keys(""):
        out.objects += 1
        m = rows.get(key)
        try:
            if area.seal_in_place(key, m.sha256 if m is not None else None):
                out.changed += 1
            else:
                out.unchanged += 1
        except (EncryptionProblem, OSError) as exc:
            out.problem(f"{key}: {str(exc).removeprefix(f'{area.name}/{key}: ')}")
    out.sealed, out.plain = out.changed + out.unchanged, len(out.problems)
    return out
