"""`dashcam config validate|show`: check the deployment guide's config files."""

from __future__ import annotations

from pathlib import Path

import typer

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, shown, warn

config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)


@config_app.command("validate")
def validate(
    directory: Path | None = typer.Argument(
        None, help="Config directory (default: DASHCAM_CONFIG_DIR or /etc/dashcam-processor)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Exit 0 on a valid config directory, 1 listing every problem."""
    from dashcam.config import ConfigError, validate_dir
    from dashcam.settings import get_settings

    settings = get_settings()
    target = directory or settings.config_dir
    if directory is None and not settings.config_dir_explicit and not target.is_dir():
        # a new machine: nothing configured is a valid state, the embedded default (what `dashcam run` uses)
        if json_out:
            print_json(
                {
                    "valid": True,
                    "directory": None,
                    "embedded": True,
                    "data_dir": settings.data_dir,
                    "devices": [],
                    "problems": [],
                    "warnings": [],
                }
            )
            return
        console.print(
            f"no config directory at {target}: the embedded default is in use "
            f"(everything under {settings.data_dir}); valid",
            highlight=False,
            markup=False,
        )
        return
    try:
        cfg = validate_dir(target, settings)
    except ConfigError as exc:
        if json_out:
            print_json({"valid": False, "directory": target, "problems": exc.problems, "warnings": []})
        else:
            for line in exc.problems:
                err_console.print(f"[red]{shown(line)}[/]", highlight=False, soft_wrap=True)
            err_console.print(f"{len(exc.problems)} problem(s) in {target}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if json_out:
        print_json(
            {
                "valid": True,
                "directory": target,
                "devices": sorted(cfg.devices),
                "problems": [],
                "warnings": cfg.warnings,
            }
        )
        return
    for w in cfg.warnings:
        warn(w)
    devices = ", ".join(sorted(cfg.devices)) or "none"
    console.print(f"{target}: valid (devices: {devices})", highlight=False, markup=False)


@config_app.command("show")
def show(json_out: bool = JsonOpt) -> None:
    """Print the configuration in force on this device, defaults filled in."""
    from dashcam.config import ConfigError, load_config

    try:
        cfg = load_config()
    except ConfigError as exc:
        fail(
            exc.problems[0]
            + (
                f" (and {len(exc.problems) - 1} more: run `dashcam config validate`)"
                if len(exc.problems) > 1
                else ""
            )
        )
    from dashcam.storage import Storage

    doc = {
        "config_dir": None if cfg.embedded else cfg.source_dir,
        "device": cfg.settings.device,
        "global": cfg.global_config.model_dump(mode="json", by_alias=True, exclude={"database"}),
        "this_device": cfg.device.model_dump(mode="json"),
        "storage": Storage(cfg).describe(),
    }
    if json_out:
        print_json(doc)
    else:
        console.print_json(data=doc, default=str)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
