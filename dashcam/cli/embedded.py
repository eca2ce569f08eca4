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


def prepare(cfg: Any, *, prefect_home: bool = False) -> None:
    """The embedded default's folders and schema, made once (every later command finds them)."""
    from dashcam.db.session import ensure_schema
    from dashcam.storage import Storage

    try:
        cfg.settings.data_dir.mkdir(parents=True, exist_ok=True)
        for area in Storage(cfg).areas.values():
            if area.is_local:
                Path(area.root).mkdir(parents=True, exist_ok=True)
        if prefect_home:
            # Prefect's temporary server keeps its SQLite database here and cannot make the folder itself
            Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{exc.filename or cfg.settings.data_dir}: cannot create: {exc.strerror or exc}")
    ensure_schema(cfg.database_url())


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
            from dashcam.stages import StageContext

            self._ctx = StageContext(config=self.cfg, device=self.cfg.settings.device)
        return self._ctx

    def load_models(self) -> None:
        if self.mode == "inprocess":
            from dashcam.stages.inprocess import load_models

            load_models(self.ctx)
        else:
            from flows.pipeline import load_models as load_into_flow_context

            load_into_flow_context()

    @contextmanager
    def _flows(self) -> Iterator[None]:
        from dashcam.local_prefect import using

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
    *,
    prefect: bool = False,
    quiet: bool = False,
    models: bool = False,
    check: Callable[[Any], None] | None = None,
) -> Iterator[Stages]:
    """Prepare the embedded default and yield the stages to run; ``models`` loads them during start-up,
    after ``check(config)`` (which fails in one line when they cannot be found)."""
    from dashcam.local_prefect import booted_early

    how = mode(prefect)
    # the temporary server boots while this process prepares the folder and loads the models
    with booted_early() if how == "temporary" else nullcontext() as server:
        with starting("preparing the data folder ...", quiet):
            cfg = load_config_or_fail()
            prepare(cfg, prefect_home=how == "temporary")
        runner = Stages(how, cfg, server)
        if how != "inprocess":
            from flows.common import reset_context

            reset_context()  # the flows' per-process context follows this command's configuration
        if models:
            if check is not None:
                check(cfg)
            with starting("loading the models ...", quiet):
                runner.load_models()
        if server is not None:
            from dashcam.local_prefect import LocalPrefectError

            with starting("starting the local Prefect server ...", quiet):
                try:
                    server.wait()
                except LocalPrefectError as exc:
                    fail(str(exc))
        yield runner
