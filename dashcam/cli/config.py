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
    from dashcam.config import ConfigError, load_config, validate_dir
    from dashcam.settings import get_settings

    settings = get_settings()
    from dashcam.crypt.checks import check

    target = directory or settings.config_dir
    if directory is None and not settings.config_dir_explicit and not target.is_dir():
        # a new machine: nothing configured is a valid state, the embedded default (what `dashcam run` uses)
        problems, warnings = check(load_config(settings))
        if json_out:
            print_json(
                {
                    "valid": not problems,
                    "directory": None,
                    "embedded": True,
                    "data_dir": settings.data_dir,
                    "devices": [],
                    "problems": problems,
                    "warnings": warnings,
                }
            )
        else:
            _problems(problems, f"the environment ({settings.data_dir})")
            for w in warnings:
                warn(w)
            if not problems:
                console.print(
                    f"no config directory at {target}: the embedded default is in use "
                    f"(everything under {settings.data_dir}); valid",
                    highlight=False,
                    markup=False,
                )
        if problems:
            raise typer.Exit(1)
        return
    try:
        cfg = validate_dir(target, settings)
    except ConfigError as exc:
        if json_out:
            print_json({"valid": False, "directory": target, "problems": exc.problems, "warnings": []})
        else:
            _problems(exc.problems, str(target))
        raise typer.Exit(1) from None
    problems, warnings = check(cfg)
    warnings = cfg.warnings + warnings
    if json_out:
        print_json(
            {
                "valid": not problems,
                "directory": target,
                "devices": sorted(cfg.devices),
                "problems": problems,
                "warnings": warnings,
            }
        )
    else:
        _problems(problems, str(target))
        for w in warnings:
            warn(w)
        if not problems:
            devices = ", ".join(sorted(cfg.devices)) or "none"
            console.print(f"{target}: valid (devices: {devices})", highlight=False, markup=False)
    if problems:
        raise typer.Exit(1)


def _problems(lines: list[str], where: str) -> None:
    for line in lines:
        err_console.print(f"[red]{shown(line)}[/]", highlight=False, soft_wrap=True)
    if lines:
        err_console.print(f"{len(lines)} problem(s) in {where}", highlight=False, markup=False)


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
    from dashcam.crypt.keys import describe
    from dashcam.storage import Storage

    doc = {
        "config_dir": None if cfg.embedded else cfg.source_dir,
        "device": cfg.settings.device,
        "global": cfg.global_config.model_dump(mode="json", by_alias=True, exclude={"database"}),
        "this_device": cfg.device.model_dump(mode="json"),
        "storage": Storage(cfg).describe(),
        "encryption": describe(cfg),  # whether each part is on and where its key comes from, never a key
    }
    if json_out:
        print_json(doc)
    else:
        console.print_json(data=doc, default=str)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
