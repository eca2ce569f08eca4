"""Helpers every CLI command shares: one JSON document on stdout for --json, one-line errors on stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dashcam.logs import CONTROL_ESCAPES, json_mode

# soft_wrap: a line is never cut where the terminal (80 columns when there is none) ends, so a summary
# stays one line for the scripts and logs that read it
console = Console(stderr=False, soft_wrap=True, emoji=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False)

# the first word of what a command says on stderr, when it is a label: its log level in json mode
_LABELS = {
    "note": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "problem": logging.ERROR,
}
_QUIET_WORDS = {"interrupted", "kept", "models"}  # a stop asked for, a file kept, weights being fetched


class _LogLines:
    """``err_console``'s file in json mode: what a command says on stderr (a note, a failed clip, a problem)
    becomes one log line of ``dashcam.cli``, so stderr holds JSON lines only. Rich writes each print and
    then flushes: one print, one line."""

    encoding = "utf-8"

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        text = "".join(self._parts).strip()
        self._parts.clear()
        if not text:
            return
        word, _, rest = text.partition(" ")
        label = word.rstrip(":").lower()
        if word.endswith(":") and label in _LABELS:
            level, text = _LABELS[label], rest.strip()
        else:  # stderr is for what went wrong, unless it says otherwise
            level = logging.WARNING if label in _QUIET_WORDS else logging.ERROR
        logging.getLogger("dashcam.cli").log(level, "%s", text)

    def isatty(self) -> bool:
        return False


def follow_log_format() -> None:
    """Point ``err_console`` at the log in json mode, at stderr otherwise (each command calls it once)."""
    err_console.file = _LogLines() if json_mode() else None  # type: ignore[assignment]


JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout (for scripts).")


def _default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=_default, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """While working, anything libraries print goes to stderr: stdout is kept for the one JSON document."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use): the Python-level redirect is all there is
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


# `dashcam --debug`: show the traceback behind an error that is otherwise one line
DEBUG = [False]


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, no traceback (a JSON log line when ``logging.format`` is json)."""
    if json_mode():
        logging.getLogger("dashcam.cli").error("%s", message)
    else:
        err_console.print(f"[bold red]error:[/] {shown(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    if json_mode():
        logging.getLogger("dashcam.cli").warning("%s", message)
        return
    err_console.print(f"[yellow]warning:[/] {shown(message)}", highlight=False, soft_wrap=True)


def shown(text: object) -> str:
    """Text a user or a file controls (a file name, a box type, a plate), made safe to print inside our own
    markup: rich markup escaped (the consoles have emoji codes off), control characters as escapes (``new\\nline.mp4``)."""
    from rich.markup import escape

    return escape(str(text).translate(CONTROL_ESCAPES))


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress display on stderr (so --json output on stdout stays clean)."""
    prog = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not enabled or json_mode(),  # a bar is no log line
        transient=False,
    )
    with prog:
        yield prog
