"""`dashcam run` and `dashcam demo`: the main job on one machine (embedded default)."""

from __future__ import annotations

from pathlib import Path

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json
from dashcam.config import ConfigError, load_config
from dashcam.db.session import ensure_schema
from dashcam.storage import Storage


def _prepare() -> dict[str, object]:
    """Set up the embedded default: config, storage areas, database schema."""
    try:
        cfg = load_config()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")
    storage = Storage(cfg)
    for area in storage.areas.values():
        if area.is_local:
            Path(area.root).mkdir(parents=True, exist_ok=True)
    url = cfg.database_url()
    ensure_schema(url)
    return {
        "config_dir": None if cfg.embedded else str(cfg.source_dir),
        "data_dir": str(cfg.settings.data_dir),
        "storage": storage.describe(),
        "database": url.split("@")[-1] if "@" in url else url,
    }


def demo(json_out: bool = JsonOpt) -> None:
    """Synthesise a few clips, run them through the pipeline, and show what was found."""
    info = _prepare()
    built = ["configuration", "storage areas", "database schema"]
    pending = ["synthetic footage", "ingest", "preprocess", "heavy", "archive", "web UI"]
    doc = {**info, "built": built, "not_built_yet": pending}
    if json_out:
        print_json(doc)
        return
    console.print(f"[bold]dashcam demo[/] on the embedded default in {info['data_dir']}")
    for name, root in info["storage"].items():  # type: ignore[union-attr]
        console.print(f"  {name:<13} {root}", highlight=False)
    console.print(f"  database      {info['database']}", highlight=False)
    console.print(
        "[yellow]The pipeline stages are not built yet; the demo stops after setting up "
        f"{', '.join(built)}.[/] Still to come: {', '.join(pending)}.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
