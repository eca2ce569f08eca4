"""`dashcam ingest --camera URL | --from DIR`: run the ingest flow on this machine and say what it did."""

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
from dashcam.cli.embedded import PrefectOpt, stages


def ingest(
    camera: str | None = typer.Option(
        None, "--camera", help="Camera address, e.g. http://192.168.1.254 (default: config camera.address)."
    ),
    from_dir: Path | None = typer.Option(
        None, "--from", help="Folder to import (SD card copy, viofosync folder)."
    ),
    move: bool = typer.Option(
        False, "--move", help="Remove each imported file from the folder once verified."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be imported."),
    prefect: bool = PrefectOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Pull new clips off the dashcam, or import a folder; every clip is registered once."""
    if camera and from_dir:
        fail("give --camera or --from, not both")
    if from_dir is not None and not from_dir.is_dir():
        fail(f"{from_dir}: not a folder")
    from dashcam.stages.jobs import set_reporter

    with (
        stages("ingest", prefect=prefect, quiet=json_out) as runner,
        stdout_to_stderr(json_out),
        progress(enabled=not json_out) as prog,
    ):
        bar = prog.add_task("ingest", total=None)

        def on_clip(stage: str, clip_id: int | None, name: str, what: str) -> None:
            prog.update(bar, advance=1, description=f"ingest: {shown(name)} {what}")

        set_reporter(on_clip)
        try:
            result: dict[str, Any] = runner.ingest(
                folder=str(from_dir.resolve()) if from_dir else None,
                camera=camera,
                move=move,
                dry_run=dry_run,
            )
        finally:
            set_reporter(None)
    if json_out:
        print_json(result)
    else:
        _summary(result, dry_run)
    if result["failed"]:
        raise typer.Exit(1)


def _summary(result: dict[str, Any], dry_run: bool) -> None:
    if result.get("camera_reachable") is False:
        console.print("no camera: nothing to do (the car is away?)")
        return
    if dry_run:
        for name in result.get("planned", []):
            console.print(f"would import {shown(name)}", highlight=False)
        return
    new = len(result["new_clip_ids"])
    console.print(
        f"{len(result['registered'])} clip(s) registered ({new} new), {len(result['skipped'])} skipped, "
        f"{len(result['failed'])} failed",
        highlight=False,
    )
    for w in result.get("still_recording", []):
        console.print(f"  {shown(w)}: still recording, left for the next pass", highlight=False)
    for note in result.get("notes", []):
        err_console.print(f"[yellow]note:[/] {shown(note)}", highlight=False, soft_wrap=True)
    for reason in result["failed"].values():
        err_console.print(f"[red]failed:[/] {shown(reason)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
