"""The search box's language: plate text, object labels, dates and a few filter words, in any order.

    AB 12 CDE                    a plate (spaces and dashes do not matter)
    car 2024-05-01               cars seen that day (the camera's local day)
    truck 2024-05-01..2024-05-07 a range of days (the end day included)
    after:2024-05-01 before:2024-06-01T08:00
    2024-05-01 utc               dates and times in UTC instead of each clip's own clock
    rear event ~2 AB12CD         rear camera, event clips, plates within two edits

Words the parser knows become filters; whatever is left is the plate. It returns keyword arguments for
:class:`dashcam.search.SearchQuery` (the same query ``dashcam search`` runs) and chips saying what it
understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from dashcam.vision.labels import COCO_NAMES

LABELS = {n for n in COCO_NAMES if " " not in n}
_PLURAL = {f"{n}s": n for n in LABELS} | {"buses": "bus", "people": "person", "persons": "person"}
_CHANNEL = {"front": "F", "rear": "R", "back": "R", "interior": "I", "inside": "I", "tele": "T"}
_DAY = r"\d{4}-\d{2}-\d{2}"
_WHEN = rf"{_DAY}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?"


@dataclass
class Parsed:
    fields: dict[str, Any] = field(default_factory=dict)
    chips: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _at(text: str, *, end: bool = False) -> datetime:
    """A date (the whole day: its end when ``end``) or a date-time, on the clips' own clock (naive)."""
    if len(text) == 10:
        d = date.fromisoformat(text) + timedelta(days=1 if end else 0)
        return datetime.combine(d, time())
    return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=None)


def parse(text: str, *, today: date | None = None) -> Parsed:
    out = Parsed()
    plate: list[str] = []
    in_utc = False
    today = today or datetime.now().date()  # this machine's day: the household's
    for raw in text.split():
        tok = raw.strip(",;").lower()
        try:
            if m := re.fullmatch(rf"({_WHEN})\.\.({_WHEN})", tok, re.I):
                out.fields["local_since"], out.fields["local_until"] = _at(m[1]), _at(m[2], end=True)
                out.chips.append(f"{m[1]} – {m[2]}")
            elif re.fullmatch(_DAY, tok):
                out.fields["local_since"], out.fields["local_until"] = _at(tok), _at(tok, end=True)
                out.chips.append(f"on {tok}")
            elif m := re.fullmatch(rf"(after|since|before|until):({_WHEN})", tok, re.I):
                after = m[1] in ("after", "since")
                out.fields["local_since" if after else "local_until"] = _at(m[2], end=not after)
                out.chips.append(f"{m[1]} {m[2]}")
            elif tok in ("today", "yesterday"):
                d = today - timedelta(days=0 if tok == "today" else 1)
                out.fields["local_since"], out.fields["local_until"] = (
                    _at(d.isoformat()),
                    _at(d.isoformat(), end=True),
                )
                out.chips.append(tok)
            elif tok in LABELS or tok in _PLURAL:
                out.fields["label"] = _PLURAL.get(tok, tok)
                out.chips.append(out.fields["label"])
            elif tok in _CHANNEL:
                out.fields["channel"] = _CHANNEL[tok]
                out.chips.append(f"{tok} camera")
            elif tok in ("event", "events", "parking"):
                out.fields["kinds"] = ("event",) if tok.startswith("event") else ("parking",)
                out.chips.append(f"{out.fields['kinds'][0]} clips")
            elif tok in ("protected", "pinned", "kept"):
                out.fields["protected_only"] = True
                out.chips.append("protected or pinned")
            elif m := re.fullmatch(r"~([0-2])", tok):
                out.fields["fuzzy"] = int(m[1])
                out.chips.append(f"within {m[1]} edits")
            elif tok == "utc":
                in_utc = True
                out.chips.append("times in UTC")
            elif tok == "exact":
                out.fields["fuzzy"], out.fields["confusions"] = 0, False
                out.chips.append("exact plate")
            elif re.fullmatch(r"[a-z0-9\-·.]+", tok):
                plate.append(tok)
            else:
                out.errors.append(f"did not understand {raw!r}")
        except ValueError:
            out.errors.append(f"not a date: {raw!r}")
    if in_utc:  # the same dates, read as instants in UTC
        for name in ("since", "until"):
            if (value := out.fields.pop(f"local_{name}", None)) is not None:
                out.fields[name] = value.replace(tzinfo=timezone.utc)
    joined = re.sub(r"[^A-Za-z0-9]", "", "".join(plate)).upper()
    if joined:
        out.fields["plate"] = joined
        out.chips.insert(0, f"plate {joined}")
    return out
