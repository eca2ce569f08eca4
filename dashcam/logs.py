"""Log lines of every process: text for people, or one JSON object per line for a central log store.

``logging`` in config.json picks the format (``text`` or ``json``), the least level and an optional syslog
target; every process follows it: the commands (:func:`configure`, called by the ``dashcam`` root command),
the web UI and API and the heartbeat (commands too), and Prefect workers and the flow runs they start,
which build the same handlers from ``infra/logging/prefect-logging.yml`` (PREFECT_LOGGING_SETTINGS_PATH)
through :func:`console_handler` and :func:`syslog_handler`.

A JSON line holds ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``device``
(DASHCAM_DEVICE or the hostname), ``flow_run_id`` and ``clip_id`` (null where unknown), ``exc_info`` when
there is a traceback, and any extra fields of the record (Prefect's ``flow_run_name``, ``task_run_id``...).
The clip and flow run come from the record (Prefect's run loggers carry ``flow_run_id``), from
:func:`working_on` (a stage sets it while it works on a clip), or from the flow-run process's environment
(``PREFECT__FLOW_RUN_ID``, set by the worker that started it).

No line carries a secret (:mod:`dashcam.secretmask` masks every field, text lines too), and a text line
stays one line: control characters in a message are written as escapes.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

CONTROL_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
"""str.translate table: control characters as escapes, so a line stays a line (``new\\nline.mp4``)."""
PREFECT_LOGGING_YML = Path(__file__).resolve().parents[1] / "infra" / "logging" / "prefect-logging.yml"
"""The logging config of Prefect workers and flow runs (PREFECT_LOGGING_SETTINGS_PATH)."""
CLI_TEXT = "%(levelname)s %(name)s: %(message)s"
SYSLOG_IDENT = "dashcam: "
SYSLOG_MAX_BYTES = 7000
"""A JSON line sent to syslog stays below rsyslog's default message size (8 KiB with its header): longer
fields are cut, so the line that arrives still parses."""
OWN_LOGGERS = ("dashcam", "webui", "flows", "blocks", "uvicorn")
"""Loggers that log at the configured level (other libraries: from WARNING up, or DEBUG with -v)."""
# record attributes that are noise in a JSON line (uvicorn's ANSI-coloured copy of the message, Prefect's flag)
_DROPPED = ("color_message", "send_to_api")

_clip: ContextVar[int | None] = ContextVar("dashcam_clip", default=None)
_flow_run: ContextVar[str | None] = ContextVar("dashcam_flow_run", default=None)


class LogSetup(NamedTuple):
    """The ``logging`` section of config.json (its defaults when there is none)."""

    format: str = "text"
    level: str | None = None
    syslog: str | None = None
    problem: str | None = None  # why the section was not used, one line


_ACTIVE: list[LogSetup] = []


@contextmanager
def working_on(clip_id: int | None, flow_run_id: str | None = None) -> Iterator[None]:
    """Lines logged inside carry this clip (and flow run) id."""
    tokens = (_clip.set(clip_id), _flow_run.set(flow_run_id) if flow_run_id else None)
    try:
        yield
    finally:
        _clip.reset(tokens[0])
        if tokens[1] is not None:
            _flow_run.reset(tokens[1])


def flow_run_of(record: logging.LogRecord) -> str | None:
    found = getattr(record, "flow_run_id", None) or _flow_run.get() or os.environ.get("PREFECT__FLOW_RUN_ID")
    return str(found) if found else None


def clip_of(record: logging.LogRecord) -> int | None:
    found = getattr(record, "clip_id", None)
    if found is None:
        found = _clip.get()
    try:
        return int(found) if found is not None else None
    except (TypeError, ValueError):
        return None


def device_name() -> str:
    return os.environ.get("DASHCAM_DEVICE") or socket.gethostname()


# ---------------------------------------------------------------- formatters


class TextFormatter(logging.Formatter):
    """A line for people: masked, and a file name's newline or escape sequence shown as an escape."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        from dashcam.secretmask import mask

        return mask(super().formatMessage(record)).translate(CONTROL_ESCAPES)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        from dashcam.secretmask import mask

        return mask(super().formatException(ei))


def json_formatter(max_bytes: int | None = None) -> logging.Formatter:
    """python-json-logger's formatter with our fields, masking and size limit (imported only in json mode)."""
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    from dashcam.secretmask import mask_value

    device = device_name()

    class _Json(JsonFormatter):
        def add_fields(
            self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
        ) -> None:
            log_data["timestamp"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            )
            super().add_fields(log_data, record, message)
            log_data["device"] = device
            log_data["flow_run_id"] = flow_run_of(record)
            log_data["clip_id"] = clip_of(record)

        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            return {k: mask_value(v) for k, v in log_data.items()}

        def serialize_log_record(self, log_data: dict[str, Any]) -> str:
            line = super().serialize_log_record(log_data)
            if max_bytes is None:
                return line
            # cut the longest text field in half until the line fits: a traceback keeps its end
            for _ in range(32):
                if len(line.encode()) <= max_bytes:
                    break
                texts = [k for k, v in log_data.items() if isinstance(v, str) and len(v) > 64]
                if not texts:
                    break
                key = max(texts, key=lambda k: len(log_data[k]))
                value = log_data[key]
                keep = len(value) // 2
                log_data[key] = "..." + value[-keep:] if key == "exc_info" else value[:keep] + "..."
                log_data["truncated"] = True
                line = super().serialize_log_record(log_data)
            return line

    return _Json(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, *_DROPPED],
        json_default=str,
    )


# ---------------------------------------------------------------- syslog


class SyslogHandler(logging.handlers.SysLogHandler):
    """Lines to a syslog daemon: a unix socket path, ``tcp://host:port`` or ``udp://host:port``.

    A daemon that is down (not started yet, restarting) never stops the process: the line is dropped, one
    note goes to stderr, and the next line tries to connect again. Over TCP each message ends in a newline
    (rsyslog's imtcp frames by line).
    """

    def __init__(self, target: str):
        self.target = target
        self._warned = False
        if target.startswith("/"):
            super().__init__(address=target)
        else:
            parts = urlsplit(target)
            kind = socket.SOCK_STREAM if parts.scheme == "tcp" else socket.SOCK_DGRAM
            super().__init__(address=(parts.hostname or "", parts.port or 514), socktype=kind)
        self.ident = SYSLOG_IDENT
        self.append_nul = False

    @property
    def _stream(self) -> bool:
        return not self.unixsocket and self.socktype == socket.SOCK_STREAM

    def createSocket(self) -> None:  # noqa: N802 - logging's name
        try:
            super().createSocket()
        except OSError:  # a TCP server that is down: the next line tries again
            self.socket = None  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record) + ("\n" if self._stream else "")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        exc = sys.exc_info()[1]
        if self.socket is not None and not self.unixsocket:
            self.socket.close()
        if not self.unixsocket:
            self.socket = None  # type: ignore[assignment]
        if not self._warned:
            self._warned = True
            from dashcam.secretmask import mask

            sys.stderr.write(f"dashcam: cannot send log lines to {mask(self.target)}: {exc}\n")


# ---------------------------------------------------------------- the setup of a process


def log_setup() -> LogSetup:
    """This device's ``logging`` section; defaults when the config directory has none (or a bad one).

    Read straight from config.json, so a command without one does not import the config models.
    """
    from dashcam.settings import get_settings

    path = get_settings().config_dir / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LogSetup()  # no config (the embedded default), or one the command itself will report
    if not isinstance(raw, dict):
        return LogSetup()
    camera = raw.get("camera")
    if isinstance(camera, dict) and isinstance(camera.get("password_env"), str):
        from dashcam.secretmask import add_secret

        add_secret(os.environ.get(camera["password_env"]))
    section = raw.get("logging")
    if section is None:
        return LogSetup()
    from pydantic import ValidationError

    from dashcam.config import LoggingSection

    try:
        s = LoggingSection.model_validate(section)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("logging", *err["loc"]))
        return LogSetup(problem=f"config.json: {where}: {err['msg']} (logging stays text on stderr)")
    return LogSetup(s.format, s.level, s.syslog)


def _handlers(setup: LogSetup, text_format: str) -> list[logging.Handler]:
    stream = logging.StreamHandler()
    stream.setFormatter(json_formatter() if setup.format == "json" else TextFormatter(text_format))
    out: list[logging.Handler] = [stream]
    if setup.syslog:
        sys_h = SyslogHandler(setup.syslog)
        sys_h.setFormatter(
            json_formatter(SYSLOG_MAX_BYTES) if setup.format == "json" else TextFormatter(text_format)
        )
        out.append(sys_h)
    return out


def configure(*, verbose: bool = False) -> LogSetup:
    """The logging of a ``dashcam`` command: stderr (text or JSON), and syslog when configured."""
    setup = log_setup()
    json_mode = setup.format == "json"
    level = "DEBUG" if verbose else (setup.level or ("INFO" if json_mode else "WARNING"))
    # other libraries' INFO lines (alembic's plugin list, every httpx request) are noise: they log from
    # WARNING up unless DEBUG was asked for; ours and the web server's at the level asked for
    root = level if level in ("DEBUG", "ERROR") else "WARNING"
    top = logging.getLogger()
    for old in [h for h in top.handlers if getattr(h, "dashcam", False)]:  # an earlier configure()
        top.removeHandler(old)
        old.close()
    # like logging.basicConfig: a process that installed handlers of its own (pytest, an embedding program)
    # keeps them, and its levels
    if not top.handlers:
        for h in _handlers(setup, CLI_TEXT):
            h.setLevel(level)  # a logger Prefect's config sets to INFO later still writes nothing below it
            h.dashcam = True  # type: ignore[attr-defined]
            top.addHandler(h)
        top.setLevel(root)
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(level)
    if json_mode and PREFECT_LOGGING_YML.is_file():
        # Prefect configures its loggers when it is first imported (`dashcam setup`, the web UI's status):
        # with its own file it would give uvicorn a text handler of its own
        os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(PREFECT_LOGGING_YML))
    _ACTIVE[:] = [setup._replace(level=level)]
    if setup.problem:
        logging.getLogger(__name__).warning("%s", setup.problem)
    return active()


def active() -> LogSetup:
    """The setup :func:`configure` made in this process, with the level in force (defaults before)."""
    return _ACTIVE[0] if _ACTIVE else LogSetup()


def json_mode() -> bool:
    return active().format == "json"


def adopt(*names: str) -> None:
    """Send these loggers' lines through the root handlers (uvicorn's own handlers write text)."""
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


# ---------------------------------------------------------------- Prefect's logging config


def console_handler(fmt: str = CLI_TEXT) -> logging.Handler:
    """stderr in the configured format: the ``console`` handler of infra/logging/prefect-logging.yml."""
    setup = log_setup()
    _ACTIVE[:] = [setup]
    handler = _handlers(setup._replace(syslog=None), fmt)[0]
    if setup.level:
        handler.setLevel(setup.level)
    return handler


def syslog_handler(fmt: str = CLI_TEXT) -> logging.Handler:
    """The configured syslog target, or a handler that drops everything: the yml's ``syslog`` handler."""
    setup = log_setup()
    if not setup.syslog:
        return logging.NullHandler()
    handler = _handlers(setup, fmt)[1]
    if setup.level:
        handler.setLevel(setup.level)
    return handler
