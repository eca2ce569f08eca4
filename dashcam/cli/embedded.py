"""How a command that runs stages reaches them, and the embedded default it prepares first.

Three ways, chosen once per command:

- **in process** (one machine, the default): the stage jobs call the stage functions directly
  (:mod:`dashcam.stages.inprocess`). Nothing to start: `dashcam ingest` of one clip answers in seconds.
- **a Prefect server** (``PREFECT_API_URL`` set): the stage flows run in this process and are recorded on
  that server, as a worker's would be.
- **``--prefect``**: the stage flows on a temporary Prefect server of this command's own, booted in the
  background at once (its state stays under ``DASHCAM_DATA_DIR/prefect``, for `prefect server start` to show
  later). It costs ~7-13 s of start-up on 2 cores, and about a second of API round trips per flow run.

Every way first prepares the embedded default the same way: the data folder, the local storage areas,
the database schema, and for Prefect the home it keeps its own database in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

import typer

from dashcam.cli.common import err_console, fail

PrefectOpt = typer.Option(
    False,
    "--prefect",
    help="Run the stages as Prefect flows on a temporary local Prefect server (slower to start; its runs "
    "are kept under DASHCAM_DATA_DIR/prefect), instead of in this process.",
)

Mode = Literal["inprocess", "server", "temporary"]


def mode(prefect: bool) -> Mode:
    if os.environ.get("PREFECT_API_URL"):
        return "server"
    return "temporary" if prefect else "inprocess"


def load_config_or_fail() -> Any:
    from dashcam.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        fail(f"{exc.problems[0]}{more} (run `dashcam config validate`)")


def lock_data_folder(data_dir: Path, command: str) -> int:
    """Hold ``DATA/.lock`` for the life of this process (the kernel lets go when it dies, however it
    dies): one run per data folder, so two never race over its clips or Prefect's database migration."""
    import fcntl

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        fail(f"{data_dir}: cannot use this data folder: {exc.strerror or exc}")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").split()
        os.close(fd)
        pid, what = (holder + ["?", "?"])[:2]
        fail(
            f"another dashcam {what} (pid {pid}) is using this data folder ({data_dir}): "
            "wait for it to finish, or give this one another DASHCAM_DATA_DIR"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
    return fd


def prepare(cfg: Any, *, prefect_home: bool = False) -> None:
    """The embedded default's folders and schema, made once (every later command finds them), and what a
    process that died left behind (a half copy, temporary files) cleared away."""
    from dashcam.camera.importer import remove_stale_copies
    from dashcam.db.session import ensure_schema
    from dashcam.procs import pid_dead
    from dashcam.storage import Storage

    storage = Storage(cfg)
    try:
        for area in storage.areas.values():
            if area.is_local:
                Path(area.root).mkdir(parents=True, exist_ok=True)
                # other machines write into a shared area too: their pids mean nothing here
                area.clean_temp(pid_dead=pid_dead if cfg.embedded else None)
        if storage["raw"].is_local:
            remove_stale_copies(Path(storage["raw"].root) / ".incoming")
        if prefect_home:
            # Prefect's temporary server keeps its SQLite database here and cannot make the folder itself
            Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{exc.filename or cfg.settings.data_dir}: cannot create: {exc.strerror or exc}")
    ensure_schema(cfg.database_url(), config=cfg)


# Model loaders started behind a command's work: one still inside a native library (torch, onnxruntime) when
# the interpreter finalises makes the process abort ("terminate called without an active exception").
_LOADERS: list[Any] = []


def models_loading() -> bool:
    """Whether a background model load of this process is still running."""
    return any(t.is_alive() for t in _LOADERS)


class Stages:
    """The stage jobs, run the way :func:`mode` chose."""

    def __init__(self, how: Mode, cfg: Any, server: Any = None) -> None:
        self.mode = how
        self.cfg = cfg
        self._server = server
        self._ctx: Any = None

    @property
    def ctx(self) -> Any:
        """The in-process runner's stage context: models load into it once."""
        if self._ctx is None:
            from dashcam.stages.context import StageContext

            self._ctx = StageContext(config=self.cfg, device=self.cfg.settings.device)
        return self._ctx

    def load_models(self) -> None:
        if self.mode == "inprocess":
            from dashcam.stages.inprocess import load_models

            load_models(self.ctx)
        else:
            from flows.pipeline import load_models as load_into_flow_context

            load_into_flow_context()

    def load_models_behind(self) -> None:
        """Load the models in a background thread (in process only: the stage context takes one load of
        each model at a time, so a stage asking for one that is still loading waits for it)."""
        import threading

        from dashcam.stages.inprocess import load_models

        loader = threading.Thread(target=load_models, args=(self.ctx,), name="load-models", daemon=True)
        _LOADERS.append(loader)
        loader.start()

    @contextmanager
    def _flows(self) -> Iterator[None]:
        from flows.local_server import using

        with using(self._server):
            yield

    def ingest(self, **kwargs: Any) -> dict[str, Any]:
        if self.mode == "inprocess":
            from dashcam.stages import inprocess

            return inprocess.ingest(self.ctx, **kwargs)
        from flows.ingest import ingest

        with self._flows():
            return ingest(**kwargs)

    def pipeline(self, paths: list[str], *, archive: bool) -> dict[str, Any]:
        if self.mode == "inprocess":
            from dashcam.stages import inprocess

            return inprocess.pipeline(self.ctx, paths, archive_media=archive)
        from flows.pipeline import pipeline

        with self._flows():
            return pipeline(paths, archive=archive)

    def archive(self, clip_ids: list[int]) -> list[dict[str, Any]]:
        if self.mode == "inprocess":
            from dashcam.stages import inprocess

            return inprocess.archive(self.ctx, clip_ids)
        from flows.archive import archive

        with self._flows():
            return archive(clip_ids)

    def retention(self, *, dry_run: bool) -> dict[str, Any]:
        if self.mode == "inprocess":
            from dashcam.stages import inprocess

            return inprocess.retention(self.ctx, dry_run=dry_run)
        from flows.retention import retention

        with self._flows():
            return retention(dry_run=dry_run)


@contextmanager
def starting(what: str, quiet: bool) -> Iterator[None]:
    """Say what start-up is doing while it does it (a spinner on stderr), rather than sit silent."""
    if quiet:
        yield
        return
    with err_console.status(what, spinner="dots"):
        yield


@contextmanager
def stages(
    command: str,
    *,
    prefect: bool = False,
    quiet: bool = False,
    models: bool = False,
    check: Callable[[Any], None] | None = None,
) -> Iterator[Stages]:
    """Prepare the embedded default and yield the stages to run; ``models`` loads them during start-up,
    after ``check(config)`` (which fails in one line when they cannot be found).

    The data folder is this command's alone while it runs. Ctrl-C (or SIGTERM) abandons the clip at hand,
    releases its claim and ends with one line saying what finished (exit 130); a full disk ends the run
    with one line naming the place that is full.
    """
    from datetime import datetime, timezone

    from flows.local_server import booted_early

    how = mode(prefect)
    began = datetime.now(timezone.utc)
    cfg = load_config_or_fail()
    lock = lock_data_folder(cfg.settings.data_dir, command)
    try:
        # the temporary server boots while this process prepares the folder and loads the models
        with booted_early() if how == "temporary" else nullcontext() as server:
            with starting("preparing the data folder ...", quiet):
                prepare(cfg, prefect_home=how == "temporary")
            runner = Stages(how, cfg, server)
            if how != "inprocess":
                from flows.common import reset_context

                reset_context()  # the flows' per-process context follows this command's configuration
            if models:
                if check is not None:
                    check(cfg)
                if how == "inprocess":
                    # they load while the first clips are copied and hashed; a stage that needs one waits
                    runner.load_models_behind()
                else:
                    with starting("loading the models ...", quiet):
                        runner.load_models()
            if server is not None:
                from flows.local_server import LocalPrefectError

                with starting("starting the local Prefect server ...", quiet):
                    try:
                        server.wait()
                    except LocalPrefectError as exc:
                        fail(str(exc))
            yield runner
    except KeyboardInterrupt:
        _second_interrupt_exits_at_once()
        debug_traceback()
        err_console.print(f"interrupted: {interrupted_summary(cfg, began)}", markup=False, highlight=False)
        raise typer.Exit(interrupt_code()) from None
    except Exception as exc:
        from dashcam.storage import Storage, local_places, no_space, where_full

        if not no_space(exc):
            raise
        debug_traceback()
        fail(
            where_full(local_places(Storage(cfg), cfg.database_url()), exc)
            + "; free some space, then run it again"
        )
    finally:
        os.close(lock)


def interrupted_summary(cfg: Any, since: Any) -> str:
    """What this command finished before it was interrupted, and what to do now."""
    from sqlalchemy import select

    from dashcam.db.models import StageRun
    from dashcam.db.session import get_engine, session_scope

    done: dict[str, int] = {}
    abandoned: list[str] = []
    try:
        with session_scope(get_engine(cfg)) as s:
            rows = s.execute(
                select(StageRun.clip_id, StageRun.stage, StageRun.status, StageRun.error).where(
                    StageRun.finished_at >= since  # type: ignore[operator]
                )
            ).all()
    except Exception:  # noqa: BLE001 - the database is the reason we stopped, or gone: say less
        rows = []
    for clip_id, stage, status, error in rows:
        if status == "done":
            done[stage] = done.get(stage, 0) + 1
        elif error == "interrupted":
            abandoned.append(f"{stage} of clip {clip_id}")
    finished = ", ".join(f"{n} {stage}" for stage, n in done.items()) or "nothing"
    left = f"; {', '.join(abandoned)} abandoned" if abandoned else ""
    return f"finished {finished}{left}. Run the same command again to do the rest (finished work is kept)."


_INTERRUPT_CODE = [130]


def on_sigterm(signum: int, _frame: Any) -> None:
    """SIGTERM ends a command the way Ctrl-C does (claims released, one line), with exit code 143."""
    _INTERRUPT_CODE[0] = 128 + signum
    raise KeyboardInterrupt


def interrupt_code() -> int:
    return _INTERRUPT_CODE[0]


def _second_interrupt_exits_at_once() -> None:
    import signal

    def now(signum: int, _frame: Any) -> None:
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, now)
    signal.signal(signal.SIGTERM, now)


def debug_traceback() -> None:
    """With `dashcam --debug`, the traceback of the error being handled."""
    from dashcam.cli.common import DEBUG

    if DEBUG[0]:
        err_console.print_exception()
