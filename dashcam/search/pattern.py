"""Plate patterns: a small regular-expression dialect checked where a pattern enters, matched by RE2.

A pattern is user text that reaches a regex engine for every plate in the index, so it must never be
able to run for ever. Python's ``re`` backtracks: a 29-character pattern held the server for 15 s.
RE2 (PyPI ``google-re2``) matches in time linear in the text, whatever the pattern, so SQLite's
REGEXP function and the watchlist run RE2 (:func:`regexp`, registered by :mod:`dashcam.db.session`).

PostgreSQL runs the same checked pattern with its own engine (``~*``). The dialect accepted here is the
part both engines read the same way, so a pattern finds the same plates on either backend:

- letters, digits, ``.``, bracket sets such as ``[A-Z]``, ``[^0-9]`` and ``[AB]``, ``\\d``;
- quantifiers ``? * +`` and ``{m}``, ``{m,}``, ``{m,n}`` with counts up to :data:`MAX_COUNT`;
- groups ``( )`` and ``(?: )``, alternation ``|``, anchors ``^ $``.

Anything else (back-references, look-arounds, inline flags, other escapes) is refused with one line
saying why. Patterns match the whole plate, ignoring case. Length and RE2 program size are capped, so a
pattern also costs bounded memory.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

MAX_LENGTH = 64
"""Longest pattern accepted (the watchlist column holds 64 characters)."""
MAX_COUNT = 32
"""Largest repetition count in ``{m,n}`` (plates have at most 16 characters; PostgreSQL stops at 255)."""
MAX_PROGRAM = 2000
"""Largest RE2 program (instructions) a pattern may compile to."""
_MAX_MEM = 1 << 20
_ALLOWED = re.compile(r"[A-Za-z0-9.\[\]^$\-?*+{},|():\\]*")
_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


class PatternError(ValueError):
    """A plate pattern that is refused; the message says why, in one line."""


def _options() -> Any:
    opts = re2.Options()
    opts.case_sensitive = False
    opts.never_capture = True  # a yes/no match needs no submatches: the fastest RE2 path
    opts.max_mem = _MAX_MEM
    opts.log_errors = False  # the caller reports the error, once
    return opts


def _check_syntax(pattern: str) -> None:
    if not pattern:
        raise PatternError("the pattern is empty")
    if len(pattern) > MAX_LENGTH:
        raise PatternError(f"the pattern has {len(pattern)} characters; at most {MAX_LENGTH} are allowed")
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if pattern[i + 1 : i + 2] != "d":
                raise PatternError(f"escape {pattern[i : i + 2]!r} is not allowed; only \\d (a digit) is")
            i += 2
            continue
        if c == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] != ":":
            raise PatternError("only (?: ) groups are allowed: no flags, look-arounds or named groups")
        if c == ":" and not pattern[max(0, i - 2) : i] == "(?":
            raise PatternError("':' is allowed only in a (?: ) group")
        if c == "{":
            m = _COUNT.match(pattern, i)
            if m is None or (not m.group(1) and m.group(2) is None):
                raise PatternError(f"bad repetition at position {i + 1}: use {{m}}, {{m,}} or {{m,n}}")
            counts = [int(g) for g in m.groups() if g]
            if not m.group(1):
                raise PatternError(f"bad repetition at position {i + 1}: {{,n}} needs a lower bound")
            if any(n > MAX_COUNT for n in counts):
                raise PatternError(f"repetition counts above {MAX_COUNT} are not allowed")
            i = m.end()
            continue
        i += 1
    if _ALLOWED.fullmatch(pattern) is None:
        bad = next(c for c in pattern if _ALLOWED.fullmatch(c) is None)
        raise PatternError(
            f"character {bad!r} is not allowed in a plate pattern "
            "(letters, digits, . [ ] ^ $ - ? * + { } , | ( ) and \\d)"
        )


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The RE2 program of a checked pattern (case-insensitive); :class:`PatternError` if refused."""
    _check_syntax(pattern)
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        msg = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"bad pattern: {msg}") from None
    if compiled.programsize > MAX_PROGRAM:
        raise PatternError(f"the pattern is too complex ({compiled.programsize} > {MAX_PROGRAM} RE2 steps)")
    return compiled


def check_pattern(pattern: str) -> str:
    """The pattern itself when it is accepted; raises :class:`PatternError` with the reason otherwise."""
    compile_pattern(pattern)
    return pattern


def full_match(pattern: str, text: str) -> bool:
    """True when the whole ``text`` matches the (accepted) ``pattern``, ignoring case."""
    return compile_pattern(pattern).fullmatch(text) is not None


@lru_cache(maxsize=64)
def _raw(expression: str) -> Any:
    opts = re2.Options()
    opts.max_mem = _MAX_MEM
    opts.log_errors = False
    return re2.compile(expression, opts)


def regexp(expression: str | None, text: str | None) -> bool | None:
    """SQLite's ``REGEXP`` (``text REGEXP expression``) through RE2: linear in the text, whatever the expression.

    SQLAlchemy's ``regexp_match`` on SQLite sends the expression as it is (with inline flags such as
    ``(?i)``); an expression RE2 refuses raises, and SQLite turns that into an error of the statement.
    """
    if expression is None or text is None:
        return None
    try:
        return _raw(expression).search(text) is not None
    except re2.error as exc:
        raise ValueError(f"RE2 refuses {expression!r}") from exc
