"""`dashcam plates IMAGE...`: detect and read the licence plates of still photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, shown


def plates(
    images: list[Path] = typer.Argument(..., help="Photos (JPEG, PNG, ...) to read plates from."),
    as_json: bool = JsonOpt,
) -> None:
    """Print each plate's text, confidence and box, as the heavy stage reads them (best first; a plate whose
    box reaches the photo's edge, which may be cut by it, after the whole ones)."""
    # Imported here so `dashcam --help` stays fast.
    import cv2

    from dashcam.config import ConfigError, load_config
    from dashcam.settings import get_settings
    from dashcam.vision.errors import VisionError
    from dashcam.vision.plate_text import PlateRules
    from dashcam.vision.plates import PlateReader

    settings = get_settings()
    try:
        cfg = load_config(settings).global_config
    except ConfigError as exc:
        fail(str(exc))
    if cfg.vision.plate_detector is None:
        fail("vision.plate_detector is null in the config: plate reading is disabled")
    reader = PlateReader.from_vision(
        cfg.vision, PlateRules.from_section(cfg.plates), models_dir=settings.models_dir
    )
    try:
        reader.load()
    except (VisionError, FileNotFoundError) as exc:
        fail(str(exc))

    failed = 0
    doc: list[dict[str, Any]] = []
    for path in images:
        frame = cv2.imread(str(path)) if path.is_file() else None
        if frame is None:
            err_console.print(
                f"[bold red]error:[/] {shown(path)}: not a readable image", highlight=False, soft_wrap=True
            )
            failed += 1
            continue
        reads = reader.read_image(frame)
        entry = {
            "image": str(path),
            "plates": [
                {
                    "text": r.text,
                    "confidence": round(r.confidence, 3),
                    "box": [round(v, 1) for v in r.box],
                    "det_score": round(r.det_score, 3),
                    "raw_text": r.raw_text,
                    "alternatives": list(r.alternatives),
                    "country": r.country,
                    "at_edge": r.at_edge,
                }
                for r in reads
            ],
        }
        doc.append(entry)
        if not as_json:
            if not reads:
                console.print(f"{shown(path)}: no plate", highlight=False)
            for r in reads:
                box = ",".join(str(round(v)) for v in r.box)
                edge = "  at the photo's edge: may be part of a plate" if r.at_edge else ""
                console.print(
                    f"{shown(path)}: {shown(r.text)}  conf {r.confidence:.2f}  box {box}{edge}",
                    highlight=False,
                )
    if as_json:
        print_json(doc)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("plates")(plates)
