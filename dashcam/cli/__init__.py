"""The ``dashcam`` command. Each command group lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer

from dashcam import __version__

app = typer.Typer(
    name="dashcam",
    help="Turn raw dashcam footage into searchable, labeled, GPS-tagged data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order here is the order in `dashcam --help`.
COMMAND_MODULES = [
    "run",
    "ingest",
    "gps",
    "plates",
    "search",
    "synth",
    "config",
    "db",
    "models",
    "setup",
    "archive",
    "ui",
    "api",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dashcam-processor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback behind an error (otherwise one line)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    from dashcam import logs
    from dashcam.cli.common import DEBUG, follow_log_format

    DEBUG[0] = debug
    # text lines stay lines (a file name's newline is shown as an escape), and no line carries a secret;
    # `logging` in config.json may ask for JSON lines and a syslog target (dashcam.logs)
    logs.configure(verbose=verbose or debug)
    follow_log_format()


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"dashcam.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != f"dashcam.cli.{_name}":
            raise
        continue
    _mod.register(app)


def _embedded_prefect_env() -> None:
    """Without a Prefect server, keep Prefect's ephemeral state under DASHCAM_DATA_DIR, and quiet."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if os.environ.get("PREFECT_API_URL"):
        return
    from dashcam.settings import get_settings

    home = get_settings().data_dir / "prefect"
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(home / "results"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")


def main() -> None:
    import faulthandler
    import logging
    import signal

    from dashcam.cli.embedded import models_loading, on_sigterm
    from dashcam.settings import SettingsError, read_env

    try:
        read_env()  # a DASHCAM_* variable of the wrong type: one line before anything starts
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    _embedded_prefect_env()
    signal.signal(signal.SIGTERM, on_sigterm)
    # a command that seems stuck: `kill -USR1 PID` prints where each of its threads is, on its stderr
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    code: int | str | None = 0
    try:
        _main()
    except SystemExit as done:
        code = done.code
        raise
    except BaseException as exc:  # Ctrl-C outside a command's own handling, or --debug's traceback
        code = 130 if isinstance(exc, KeyboardInterrupt) else 1
        if models_loading():
            traceback.print_exc()
        raise
    finally:
        if models_loading():
            # the command ended (a full disk, a bad folder) while models still load behind it: leave without
            # finalising the interpreter under that thread, with the command's own exit code
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _main() -> None:
    import logging

    try:
        app()
    except Exception as exc:  # noqa: BLE001 - what no command expected: one line, the rest with --debug
        from dashcam import logs
        from dashcam.cli.common import DEBUG, err_console, shown
        from dashcam.crypt.keys import EncryptionProblem

        if DEBUG[0]:
            raise
        if isinstance(exc, EncryptionProblem):  # a key to set or a file to fix: said as it is
            err_console.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
            raise SystemExit(1) from None
        text = str(exc).strip().splitlines()
        if logs.json_mode():
            logging.getLogger("dashcam.cli").error(
                "%s: %s", type(exc).__name__, text[0] if text else "", exc_info=exc
            )
            raise SystemExit(1) from None
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {shown(text[0] if text else '')} "
            "(run it again with `dashcam --debug ...` for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(1) from None
