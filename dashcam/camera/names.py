"""Viofo/Novatek clip file names: what a name says about its clip, and which names are safe to write.

Styles seen on real cameras (the extension may be any case; ``.MOV`` is accepted too):

* ``2023_0815_123456_000120F.MP4``  standard (A129/A139 Pro/A229): date, time, sequence, channel
* ``2023_0815_123456_000120PF.MP4`` the same with a marker before the channel: P parking, E event
* ``20230815_123456_0001PF.MP4``    some A129 Pro firmware: no separator inside the date
* ``2023_0516_192739_F.MP4``        A139: no sequence
* ``20260406142122_000022.MP4``     A119 Mini 2 (single channel): compact stamp, sequence only

Channels: F front, R rear, I interior, T telephoto. The camera's clock has no time zone, so the
time parsed from a name is naive local camera time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Channel = Literal["F", "R", "I", "T"]
Kind = Literal["normal", "parking", "event"]

VIDEO_SUFFIXES = (".mp4", ".mov")
MAX_NAME_LEN = 255
_MARKERS: dict[str, Kind] = {"": "normal", "P": "parking", "E": "event"}

# One pattern for every style: both separators inside the stamp are optional, and so are the
# sequence, the marker and the channel (each style is then told apart by which parts it has).
_NAME_RE = re.compile(
    r"""^(?P<year>\d{4})(?P<sep1>_?)(?P<month>\d{2})(?P<day>\d{2})
    _?(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2})
    _(?P<seq>\d{1,8})?(?P<marker>[PE]?)(?P<channel>[FRIT]?)
    \.(?:mp4|mov)$""",
    re.VERBOSE | re.IGNORECASE,
)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_RESERVED = set('<>:"|?*')  # refused by Windows/SMB, and raw/ may live on the NAS share


class HostileName(ValueError):
    """A file name that could write outside its folder or confuse the tools downstream."""


@dataclass(frozen=True)
class ClipName:
    """What a clip's file name says about it."""

    name: str
    recorded_local: datetime | None  # naive camera-local time; the file time when the name matched nothing
    sequence: int | None
    channel: Channel | None
    kind: Kind
    style: str  # "standard", "nosep", "a139", "compact" or "unknown"
    matched: bool

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0]


def is_video_name(name: str) -> bool:
    """True for the file types the cameras record (MP4/MOV)."""
    return name.lower().endswith(VIDEO_SUFFIXES)


def _style(m: re.Match[str]) -> str:
    if m.group("seq") is None:
        return "a139"
    if not m.group("channel") and not m.group("marker") and not m.group("sep1"):
        return "compact"
    return "standard" if m.group("sep1") else "nosep"


def parse_clip_name(name: str, *, fallback_time: datetime | None = None) -> ClipName:
    """Parse a clip name in any known Viofo style; an unknown name keeps ``fallback_time`` (``matched`` is
    False: the caller says so, once)."""
    m = _NAME_RE.match(name)
    recorded: datetime | None = None
    if m and (m.group("seq") is not None or m.group("channel")):
        try:
            y, mo, d, h, mi, sec = (
                int(m.group(k)) for k in ("year", "month", "day", "hour", "minute", "second")
            )
            recorded = datetime(y, mo, d, h, mi, sec)
        except ValueError:
            recorded = None  # e.g. month 13: treat as an unknown name
    if m is None or recorded is None:
        return ClipName(name, fallback_time, None, None, "normal", "unknown", False)
    seq = m.group("seq")
    channel = m.group("channel").upper() or None
    return ClipName(
        name=name,
        recorded_local=recorded,
        sequence=int(seq) if seq is not None else None,
        channel=channel,  # type: ignore[arg-type]  # the pattern only lets F/R/I/T through
        kind=_MARKERS[m.group("marker").upper()],
        style=_style(m),
        matched=True,
    )


def moment_key(clip: ClipName) -> str | None:
    """Key shared by the front/rear/interior clips of one moment: the camera-local start time.

    The sequence number is left out on purpose: in parking mode each lens counts on its own, so
    the front and rear clips of one moment carry different sequences but the same stamp.
    """
    if clip.recorded_local is None:
        return None
    return clip.recorded_local.strftime("%Y%m%dT%H%M%S")


def group_moments(clips: Iterable[ClipName]) -> dict[str, dict[str, ClipName]]:
    """Group clips by :func:`moment_key`, then by channel ("F" for single-channel names)."""
    groups: dict[str, dict[str, ClipName]] = {}
    for clip in clips:
        key = moment_key(clip)
        if key is not None:
            groups.setdefault(key, {})[clip.channel or "F"] = clip
    return groups


def safe_name(name: str) -> str:
    """Return ``name`` if it is a plain file name that is safe to create; else raise :class:`HostileName`."""
    if not isinstance(name, str) or not name:
        raise HostileName("empty file name")
    shown = ascii(name)[1:-1][:80]
    if len(name) > MAX_NAME_LEN or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_LEN:
        raise HostileName(f"{shown}: name longer than {MAX_NAME_LEN} bytes")
    if "\x00" in name:
        raise HostileName(f"{shown}: name contains NUL")
    if "/" in name or "\\" in name:
        raise HostileName(f"{shown}: name contains a path separator")
    if ".." in name:
        raise HostileName(f"{shown}: name contains '..'")
    if _DRIVE_RE.match(name) or any(c in _RESERVED for c in name):
        raise HostileName(f"{shown}: name contains a drive letter or a character SMB shares refuse")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") or c == "\ufffd" for c in name):
        raise HostileName(f"{shown}: name contains control or invalid characters")
    if name[0] == "-":
        raise HostileName(f"{shown}: name starts with '-', which commands would read as an option")
    if name[0] in ".~ " or name[-1] in ". ":
        raise HostileName(
            f"{shown}: name starts or ends with a character reserved for hidden or temporary files"
        )
    if name.lower().endswith(".part"):
        raise HostileName(f"{shown}: name ends with .part, the suffix of unfinished downloads")
    return name
