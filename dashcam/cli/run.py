"""`dashcam run` and `dashcam demo`: the main job on one machine (embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dashcam.cli.common import (
    JsonOpt,
    console,
    err_console,
    fail,
    print_json,
    progress,
    shown,
    stdout_to_stderr,
)
from dashcam.cli.embedded import PrefectOpt, Stages, stages


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
    from dashcam.stages.context import StageContext
    from dashcam.stages.heavy.record import vehicle_detector_config
    from dashcam.stages.keys import model_files
    from dashcam.stages.preprocess.record import coarse_config
    from dashcam.vision.defaults import plate_detector

    ctx = StageContext(config=cfg)
    for det in (
        coarse_config(ctx),
        vehicle_detector_config(ctx),
        plate_detector(cfg.global_config.vision, models_dir=ctx.models_dir),
    ):
        if det is not None:
            model_files(det, ctx.models_dir)


def run_paths(stages: Stages, paths: list[Path], *, json_out: bool, archive: bool = True) -> dict[str, Any]:
    """The whole job over files and folders, with a progress bar per stage; returns its summary."""
    from dashcam.stages.jobs import set_reporter

    with stdout_to_stderr(json_out), progress(enabled=not json_out) as prog:
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
            prog.update(bar(stage), advance=1, description=f"{stage:<10} {shown(name[:40])} {what}")

        set_reporter(on_event)
        try:
            return stages.pipeline([str(p.resolve()) for p in paths], archive=archive)
        finally:
            set_reporter(None)


def _tell(summary: dict[str, Any], cfg: Any, json_out: bool) -> None:
    """Watchlist hits: a line each in the summary, and sent through the Apprise URL when one is set."""
    from dashcam.notify import notify_url, send
    from dashcam.stages.findings import WatchlistHit

    hits = [WatchlistHit(**h) for h in summary.get("watchlist", [])]
    if not json_out:
        for h in hits:
            console.print(shown(h.line()), highlight=False)
    url = notify_url(cfg)
    if hits and url:
        title = f"dashcam: {len(hits)} watchlist sighting(s)"
        if (problem := send(url, title, [h.line() for h in hits])) is not None:
            summary.setdefault("notes", []).append(f"watchlist notification not sent: {problem}")
            if not json_out:
                err_console.print(f"[yellow]note:[/] {shown(problem)}", highlight=False, soft_wrap=True)


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(
        f"[bold]{summary['clips']}[/] clip(s): [bold]{summary['sightings']}[/] sighting(s), "
        f"[bold]{summary['plates']}[/] plate(s), [bold]{len(summary['failures'])}[/] failure(s)",
        highlight=False,
    )
    for note in summary.get("notes", []):
        err_console.print(f"[yellow]note:[/] {shown(note)}", highlight=False, soft_wrap=True)
    for f in summary["failures"]:
        err_console.print(
            f"[red]failed[/] {f['stage']}: {shown(f['error'])}", highlight=False, soft_wrap=True
        )


def run(
    paths: list[Path] = typer.Argument(..., help="Clip files or folders of clips."),
    no_archive: bool = typer.Option(False, "--no-archive", help="Stop after the heavy stage."),
    prefect: bool = PrefectOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Process footage end to end on this machine: ingest, preprocess, heavy, archive."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"{missing[0]}: no such file or folder")
    with stages("run", prefect=prefect, quiet=json_out, models=True, check=_check_models) as runner:
        summary = run_paths(runner, paths, json_out=json_out, archive=not no_archive)
    if not json_out:
        _print_summary(summary)
    _tell(summary, runner.cfg, json_out)
    if json_out:
        print_json(summary)
    else:
        console.print(
            "search it: `dashcam search --plate TEXT`, or open the web UI: `dashcam ui`", highlight=False
        )
    if summary["failures"]:
        raise typer.Exit(1)


def demo(
    clips: int = typer.Option(3, "--clips", min=1, max=20, help="How many clips to synthesise."),
    seconds: float = typer.Option(12.0, "--seconds", min=2, help="Length of each clip."),
    prefect: bool = PrefectOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Synthesise a few clips, run them through the pipeline, and show what was found."""
    with stages("demo", prefect=prefect, quiet=json_out, models=True, check=_check_models) as runner:
        from dashcam.cli.demo import make_demo_clips

        folder = runner.cfg.settings.data_dir / "demo-footage"
        with stdout_to_stderr(json_out):
            made = make_demo_clips(folder, clips=clips, seconds=seconds, quiet=json_out)
        summary = run_paths(runner, [folder], json_out=json_out)
    summary["footage"] = str(folder)
    summary["truth"] = made
    if not json_out:
        _print_summary(summary)
    _tell(summary, runner.cfg, json_out)
    if json_out:
        print_json(summary)
    else:
        console.print(f"footage and ground truth: {folder}", highlight=False, markup=False)
        console.print(
            "next: `dashcam search --plate <TEXT> --fuzzy 1`, or the web UI: `dashcam ui` then http://127.0.0.1:8000",
            highlight=False,
        )
    if summary["failures"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
