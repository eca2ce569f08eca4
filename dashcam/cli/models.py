"""`dashcam models list|check|pull`: where each model comes from, whether it is here, downloading it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json, shown

models_app = typer.Typer(
    name="models",
    help="Model weights: where they come from, whether they are here, downloading the standard ones.",
    no_args_is_help=True,
)

ModelsDirOpt = typer.Option(
    None, "--models-dir", help="Models folder searched before DASHCAM_MODELS_DIR and ~/.cache/dashcam/models."
)


@models_app.command("list")
def list_models(models_dir: Path | None = ModelsDirOpt, json_out: bool = JsonOpt) -> None:
    """Every known model: file, source, pinned checksum and where it is found here."""
    from rich.table import Table

    from dashcam.vision.models import KNOWN_MODELS, NOT_PINNED, find_model

    rows = []
    for spec in KNOWN_MODELS.values():
        found = find_model(spec.filename, models_dir=models_dir)
        rows.append(
            {
                "name": spec.name,
                "file": spec.filename,
                "description": spec.description,
                "licence": spec.licence,
                "source": spec.source,
                "sha256": spec.sha256 or NOT_PINNED,
                "md5": spec.md5,
                "path": str(found) if found else None,
            }
        )
    if json_out:
        print_json(rows)
        return
    table = Table("name", "file", "source", "checksum", "here")
    for r in rows:
        checksum = f"md5 {r['md5']}" if r["md5"] else r["sha256"]
        table.add_row(r["name"], r["file"], r["source"], checksum, r["path"] or "-")
    console.print(table)


@models_app.command("check")
def check_models(
    names: list[str] | None = typer.Argument(None, help="Models to check (default: the configured ones)."),
    models_dir: Path | None = ModelsDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Whether each configured model is present with its pinned checksum; exit 1 if not."""
    from rich.table import Table

    from dashcam.vision.inventory import ConfiguredModel, check_model, configured_models

    if names:
        items = [ConfiguredModel.requested(n) for n in names]
    else:  # the models the config in use needs (the embedded default when there is none)
        from dashcam.config import ConfigError, load_config
        from dashcam.settings import get_settings

        try:
            vision = load_config(get_settings()).global_config.vision
        except ConfigError as exc:
            fail(str(exc))
        items = configured_models(vision)
    statuses = [check_model(item, models_dir=models_dir) for item in items]
    bad = [s for s in statuses if not s.ok]
    if json_out:
        print_json({"ok": not bad, "models": [s.as_dict() for s in statuses]})
        if bad:
            raise typer.Exit(1)
        return
    table = Table("role", "model", "path", "from", "sha256", "status")
    for s in statuses:
        status = "[green]ok[/]" if s.ok else f"[red]{shown(s.problem or '')}[/]"
        table.add_row(
            shown(s.role),
            shown(s.ref),
            shown(s.path or "-"),
            s.found_in or "-",
            (s.sha256 or "-")[:16],
            status,
        )
    console.print(table)
    if bad:
        fail(
            f"{len(bad)} of {len(statuses)} models missing or corrupt: "
            + "; ".join(f"{s.ref} {s.problem}" for s in bad)
        )


def _pins() -> dict[str, str]:
    """The config's model_sha256: checksums the user pinned for models with no published one."""
    from dashcam.config import ConfigError, load_config
    from dashcam.settings import get_settings

    try:
        return dict(load_config(get_settings()).global_config.model_sha256)
    except ConfigError as exc:
        fail(str(exc))


@models_app.command("pull")
def pull_models(
    names: list[str] | None = typer.Argument(
        None, help="Models or groups to download (default: the standard ones of `dashcam models list`)."
    ),
    dest: Path | None = typer.Option(
        None, "--dest", help="Target folder (default: ~/.cache/dashcam/models)."
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        envvar="DASHCAM_MODELS_URL",
        help="Mirror folder URL that replaces the upstream one.",
    ),
    timeout: float = typer.Option(60.0, "--timeout", min=1.0, help="Seconds without data before giving up."),
    force: bool = typer.Option(False, "--force", help="Download even when a good copy is present."),
    json_out: bool = JsonOpt,
) -> None:
    """Download standard weights (checked, then renamed into place); exit 1 if any fails."""
    from dashcam.vision.errors import ModelDownloadError, ModelNotFound
    from dashcam.vision.models import STANDARD, expand_names, pull, user_cache_dir

    try:
        specs = expand_names(names or STANDARD)
    except ModelNotFound as exc:
        fail(str(exc))
    target = dest or user_cache_dir()
    results: list[dict[str, Any]] = []
    pins = _pins()
    for spec in specs:
        try:
            path = pull(spec, target, base_url=base_url, timeout=timeout, force=force, pins=pins)
        except ModelDownloadError as exc:
            results.append({"name": spec.name, "ok": False, "path": None, "error": str(exc)})
            if not json_out:
                console.print(f"[red]failed[/] {spec.name}: {shown(exc)}", highlight=False)
            continue
        results.append({"name": spec.name, "ok": True, "path": str(path), "error": None})
        if not json_out:
            console.print(f"[green]ok[/] {spec.name} -> {shown(path)}", highlight=False)
    failed = [r for r in results if not r["ok"]]
    if json_out:
        print_json({"ok": not failed, "dest": str(target), "models": results})
        if failed:
            raise typer.Exit(1)
        return
    if failed:
        fail(f"{len(failed)} of {len(results)} downloads failed: {', '.join(r['name'] for r in failed)}")


def register(app: typer.Typer) -> None:
    """Add the `models` command group."""
    app.add_typer(models_app, name="models")
