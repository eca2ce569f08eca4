"""`dashcam run` and `dashcam demo`: the main job on one machine (embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, progress, stdout_to_stderr
from dashcam.local_prefect import LocalPrefect, LocalPrefectError, booted_early, using


def _prepare() -> Any:
    """Config, storage areas and schema of the embedded default; models checked before any work."""
    from dashcam.config import ConfigError, load_config
    from dashcam.db.session import ensure_schema
    from dashcam.storage import Storage

    try:
        cfg = load_config()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")
    for area in Storage(cfg).areas.values():
        if area.is_local:
            Path(area.root).mkdir(parents=True, exist_ok=True)
    ensure_schema(cfg.database_url())
    _check_models(cfg)
    return cfg


def _check_models(cfg: Any) -> None:
    """Every model the stages will load must be found; the standard weights are pulled where they can be."""
    from dashcam.vision.errors import ModelDownloadError, ModelNotFound

    try:
        _resolve_models(cfg)
        return
    except ModelNotFound as exc:
        missing = str(exc)
    from dashcam.vision.defaults import STANDARD_PULL
    from dashcam.vision.models import pull, user_cache_dir

    err_console.print(
        f"models missing ({missing.split(' (looked in')[0]}); downloading the standard weights ..."
    )
    try:
        for name in STANDARD_PULL:
            pull(name, user_cache_dir(), timeout=60)
        _resolve_models(cfg)
    except (ModelDownloadError, ModelNotFound, OSError) as exc:
        fail(
            f"{missing.split(' (looked in')[0]}, and the standard weights could not be downloaded "
            f"({str(exc).splitlines()[0][:160]}): set DASHCAM_MODELS_DIR to a folder holding the model files, "
            f"or run `dashcam models pull {' '.join(STANDARD_PULL)}` where there is internet"
        )


def _resolve_models(cfg: Any) -> None:
    from dashcam.pipeline import model_files
    from dashcam.stages import StageContext
    from dashcam.stages.heavy import vehicle_detector_config
    from dashcam.stages.preprocess import coarse_config
    from dashcam.vision.defaults import plate_detector

    ctx = StageContext(config=cfg)
    for det in (
        coarse_config(ctx),
        vehicle_detector_config(ctx),
        plate_detector(cfg.global_config.vision, models_dir=ctx.models_dir),
    ):
        if det is not None:
            model_files(det, ctx.models_dir)


def run_paths(
    paths: list[Path], *, json_out: bool, archive: bool = True, server: LocalPrefect | None = None
) -> dict[str, Any]:
    """Run the pipeline flow in-process with progress bars; returns its summary. With ``server`` (booting
    since the command started), the models load while it boots and the flows use it."""
    from flows.common import reset_context, set_reporter
    from flows.pipeline import load_models, pipeline

    reset_context()
    if server is not None:
        load_models()
        try:
            server.wait()
        except LocalPrefectError as exc:
            fail(str(exc))
    with using(server), stdout_to_stderr(json_out), progress(enabled=not json_out) as prog:
        bars: dict[str, Any] = {}
        total: list[int | None] = [None]

        def bar(stage: str) -> Any:
            if stage not in bars:
                bars[stage] = prog.add_task(stage, total=total[0])
            return bars[stage]

        def on_event(stage: str, clip_id: int | None, name: str, what: str) -> None:
            if stage == "pipeline" and what.startswith("clips="):
                total[0] = int(what.split("=", 1)[1])
                for s in ("preprocess", "heavy", "archive") if archive else ("preprocess", "heavy"):
                    prog.update(bar(s), total=total[0])
                return
            prog.update(bar(stage), advance=1, description=f"{stage:<10} {name[:40]} {what}")

        set_reporter(on_event)
        try:
            return pipeline([str(p.resolve()) for p in paths], archive=archive)
        finally:
            set_reporter(None)


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(
        f"[bold]{summary['clips']}[/] clip(s): [bold]{summary['sightings']}[/] sighting(s), "
        f"[bold]{summary['plates']}[/] plate(s), [bold]{len(summary['failures'])}[/] failure(s)",
        highlight=False,
    )
    for f in summary["failures"]:
        err_console.print(f"[red]failed[/] {f['stage']}: {f['error']}", highlight=False, soft_wrap=True)


def run(
    paths: list[Path] = typer.Argument(..., help="Clip files or folders of clips."),
    no_archive: bool = typer.Option(False, "--no-archive", help="Stop after the heavy stage."),
    json_out: bool = JsonOpt,
) -> None:
    """Process footage end to end on this machine: ingest, preprocess, heavy, archive."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"{missing[0]}: no such file or folder")
    with booted_early() as server:
        _prepare()
        summary = run_paths(paths, json_out=json_out, archive=not no_archive, server=server)
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary)
        console.print(
            "search it: `dashcam search --plate TEXT`, or open the web UI: `dashcam ui`", highlight=False
        )
    if summary["failures"]:
        raise typer.Exit(1)


def demo(
    clips: int = typer.Option(3, "--clips", min=1, max=20, help="How many clips to synthesise."),
    seconds: float = typer.Option(12.0, "--seconds", min=2, help="Length of each clip."),
    json_out: bool = JsonOpt,
) -> None:
    """Synthesise a few clips, run them through the pipeline, and show what was found."""
    with booted_early() as server:
        cfg = _prepare()
        from dashcam.cli.demo import make_demo_clips

        folder = cfg.settings.data_dir / "demo-footage"
        with stdout_to_stderr(json_out):
            made = make_demo_clips(folder, clips=clips, seconds=seconds, quiet=json_out)
        summary = run_paths([folder], json_out=json_out, server=server)
    summary["footage"] = str(folder)
    summary["truth"] = made
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary)
        console.print(f"footage and ground truth: {folder}", highlight=False)
        console.print(
            "next: `dashcam search --plate <TEXT> --fuzzy 1`, or the web UI: `dashcam ui` then http://127.0.0.1:8000",
            highlight=False,
        )
    if summary["failures"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
