"""Enciphered LIGOGPSINFO records: a substitution of the characters 0x30-0x5f, learnt from the clip itself.

Some cameras replace each digit (and letter) of the clear record by another character. ExifTool recovers the
digits from the ones digit of the seconds, which counts 0-9 and wraps: once ten different characters have
followed one another, their cycle is the digits' order, and the millennium digit of the year ("2") fixes
where the cycle starts. Records are held back until then. The hemisphere letters are enciphered too; they are
known only when a coordinate carries a minus sign. ExifTool then assumes north-east and warns that the
position may be wrong; here such records are refused instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dashcam.gps.layouts.base import LayoutUnsupported

ENCIPHERED = re.compile(rb"^####.{4}([0-_])[0-_]{3}/[0-_]{2}/[0-_]{2} ..([0-_])..([0-_]).([0-_]) ", re.S)
ENCIPHERABLE = range(0x30, 0x60)


@dataclass
class Cipher:
    """What one clip has taught so far (kept in the block context's state)."""

    pending: list[tuple[float, bytes]] = field(default_factory=list)  # (video second, record) held back
    pending_from: int = 0  # file offset of the first block held back
    follows: dict[int, list[int]] = field(default_factory=dict)  # seconds digit -> digits seen after it
    last: int | None = None
    table: bytes | None = None  # 256-byte translation, once known
    refused: str | None = None


def _order(start: int, follows: dict[int, list[int]], order: list[int], used: set[int]) -> bool:
    """Extend ``order`` along ``follows`` into a cycle of ten characters back to its first (ExifTool's search,
    which tries every branch because a skipped GPS second adds a second successor)."""
    ch = start
    while ch in follows:
        if len(order) < 10:
            if ch in used:
                return False
        else:
            return len(order) == 10 and ch == order[0]
        order.append(ch)
        used.add(ch)
        successors = follows[ch]
        if len(successors) == 1:
            ch = successors[0]
            continue
        keep = len(order)
        for nxt in successors:
            if _order(nxt, follows, order, set(used)):
                return True
            del order[keep:]
        return False
    return False


def enciphered(record: bytes) -> bool:
    m = ENCIPHERED.match(record)
    return m is not None and m.group(2) == m.group(3)


def _learn(cipher: Cipher, record: bytes, m: re.Match[bytes]) -> bool:
    """Note the record's seconds digit; True once the table is known."""
    millennium, colon, ones = m.group(1)[0], m.group(2)[0], m.group(4)[0]
    last, cipher.last = cipher.last, ones
    if last is None or last == ones:
        return False
    successors = cipher.follows.setdefault(last, [])
    if ones in successors:
        return False
    successors.append(ones)
    if len(cipher.follows) < 10:
        return False
    if len(cipher.follows) > 10:
        cipher.follows = {}  # not a clean digit sequence: start again
        return False
    order: list[int] = []
    if not _order(last, cipher.follows, order, set()) or millennium not in order:
        return False
    two = order.index(millennium)
    table = {colon: ord(":")}
    for digit in range(10):
        table[order[(digit + two - 2 + 10) % 10]] = 0x30 + digit
    sep = re.escape(bytes([colon]))
    signs = re.search(rb" ([0-_])" + sep + rb"(-?).*? ([0-_])" + sep + rb"(-?)", record)
    if signs is None or not (signs.group(2) or signs.group(4)):
        cipher.refused = "enciphered LIGOGPSINFO without a signed coordinate: hemisphere unknown"
        return False
    table[signs.group(1)[0]] = ord("S" if signs.group(2) else "N")
    table[signs.group(3)[0]] = ord("W" if signs.group(4) else "E")
    full = bytearray(range(256))
    for c in ENCIPHERABLE:
        full[c] = table.get(c, ord("?"))
    cipher.table = bytes(full)
    return True


def _clear(cipher: Cipher, record: bytes) -> bytes:
    assert cipher.table is not None
    return record[4:8] + record[8:].rstrip(b"\0").translate(cipher.table)


def decipher(cipher: Cipher, record: bytes, t: float, offset: int = 0) -> list[tuple[float, bytes]]:
    """Clear records (4-byte header first) ready to parse, with their video seconds: [] while still learning.

    Raises :class:`LayoutUnsupported` for a record that is not of this form or whose cipher cannot be known.
    """
    if cipher.refused:
        raise LayoutUnsupported(cipher.refused)
    m = ENCIPHERED.match(record)
    if m is None or m.group(2) != m.group(3):
        raise LayoutUnsupported("LIGOGPSINFO record neither encrypted nor enciphered as known")
    if cipher.table is not None:
        return [(t, _clear(cipher, record))]
    if not cipher.pending:
        cipher.pending_from = offset
    cipher.pending.append((t, record))
    if not _learn(cipher, record, m):
        if cipher.refused:
            raise LayoutUnsupported(cipher.refused)
        return []
    ready = [(when, _clear(cipher, rec)) for when, rec in cipher.pending]
    cipher.pending.clear()
    return ready
