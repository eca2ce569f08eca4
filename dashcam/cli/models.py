"""`dashcam models list|check|pull|export`: where each model comes from, whether it is here and where it
runs, downloading it, building TensorRT engines."""

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
    load: bool = typer.Option(
        True,
        "--load/--no-load",
        help="Load each configured model present to show where it runs here (cuda:0, tensorrt:0, cpu).",
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Whether each configured model is present with its pinned checksum, and where it runs on this
    machine (this device's gpu section applied); exit 1 if one is missing, corrupt or cannot run there."""
    from rich.table import Table

    from dashcam.vision.inventory import ConfiguredModel, check_model, configured_models

    runs: dict[str, str] = {}
    if names:
        items = [ConfiguredModel.requested(n) for n in names]
    else:  # the models the config in use needs (the embedded default when there is none)
        from dashcam.config import ConfigError, load_config
        from dashcam.settings import get_settings

        try:
            config = load_config(get_settings())
        except ConfigError as exc:
            fail(str(exc))
        vision = config.global_config.vision
        items = configured_models(vision)
    statuses = [check_model(item, models_dir=models_dir) for item in items]
    if not names and load:
        runs = _where_they_run(vision, config.device.gpu, statuses, models_dir)
    bad = [s for s in statuses if not s.ok]
    bad_runs = {role: r for role, r in runs.items() if r.startswith("error: ")}
    if json_out:
        print_json(
            {
                "ok": not bad and not bad_runs,
                "models": [{**s.as_dict(), "runs_on": runs.get(s.role)} for s in statuses]
                + [
                    {"role": role, "ref": "(in its wheel)", "runs_on": r}
                    for role, r in _unlisted(runs, statuses)
                ],
            }
        )
        if bad or bad_runs:
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
    if runs:  # a table of its own: the file table stays readable in 80 columns
        where = Table("role", "runs on here")
        for role, r in runs.items():
            where.add_row(shown(role), _cell(r))
        console.print(where)
    problems = []
    if bad:
        problems.append(
            f"{len(bad)} of {len(statuses)} models missing or corrupt: "
            + "; ".join(f"{s.ref} {s.problem}" for s in bad)
        )
    if bad_runs:
        problems.append(
            f"{len(bad_runs)} cannot run here: " + "; ".join(f"{role} {r}" for role, r in bad_runs.items())
        )
    if problems:
        fail("; ".join(problems))


def _where_they_run(vision: Any, gpu: Any, statuses: list[Any], models_dir: Path | None) -> dict[str, str]:
    """Role -> where its model runs here, for the roles whose files are all present and good."""
    from dashcam.vision.placement import GpuSettings, device_configs, where_it_runs

    settings = (
        GpuSettings(gpu.device_id, gpu.max_batch_size, gpu.allow_cpu_fallback, gpu.yolo_model_path)
        if gpu is not None
        else None
    )
    broken = {s.role.split(".")[0] for s in statuses if not s.ok}
    return {
        role: where_it_runs(role, cfg, models_dir=models_dir)
        for role, cfg in device_configs(vision, settings, models_dir=models_dir).items()
        if role not in broken
    }


def _cell(runs_on: str | None) -> str:
    """A 'runs on' cell: the provider, or a short mark for an error (its line follows the table)."""
    if runs_on is None:
        return "-"
    return "[red]cannot run[/]" if runs_on.startswith("error: ") else runs_on


def _unlisted(runs: dict[str, str], statuses: list[Any]) -> list[tuple[str, str]]:
    """Roles whose model ships inside a wheel (RapidOCR's): no file row, but a place it runs."""
    listed = {s.role for s in statuses}
    return [(role, r) for role, r in runs.items() if role not in listed]


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


@models_app.command("export")
def export_models(
    tensorrt: bool = typer.Option(
        False, "--tensorrt", help="Build TensorRT engines for this GPU (needs TensorRT installed)."
    ),
    models_dir: Path | None = ModelsDirOpt,
) -> None:
    """Build engines on this device: ultralytics' engine for the YOLO model, onnxruntime's TensorRT engine
    cache for the ONNX models; kept under the models cache, keyed by GPU name and TensorRT version."""
    if not tensorrt:
        fail("nothing to export: pass --tensorrt")
    from dashcam.config import ConfigError, load_config
    from dashcam.settings import get_settings
    from dashcam.vision.errors import VisionError
    from dashcam.vision.placement import GpuSettings, device_configs
    from dashcam.vision.tensorrt import export_engines, tensorrt_version

    if tensorrt_version() is None:  # before loading the config: the one thing to tell on most machines
        fail(
            "TensorRT is not installed here: install it on the GPU box (pip install tensorrt) to build engines"
        )
    try:
        config = load_config(get_settings())
    except ConfigError as exc:
        fail(str(exc))
    gpu = config.device.gpu
    settings = (
        GpuSettings(gpu.device_id, gpu.max_batch_size, gpu.allow_cpu_fallback, gpu.yolo_model_path)
        if gpu is not None
        else GpuSettings()
    )
    configs = device_configs(config.global_config.vision, settings, models_dir=models_dir)
    configs.pop("coarse_detector", None)  # the Jetson's: no TensorRT on the GPU box for it
    try:
        lines = export_engines(
            configs, device_id=settings.device_id, max_batch=settings.max_batch_size, models_dir=models_dir
        )
    except VisionError as exc:
        fail(str(exc))
    for line in lines:
        console.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `models` command group."""
    app.add_typer(models_app, name="models")
