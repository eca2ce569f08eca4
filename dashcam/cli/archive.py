"""`dashcam archive` and `dashcam retention`: run the archive and retention flows on this machine."""

from __future__ import annotations

from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, progress, shown
from dashcam.cli.embedded import PrefectOpt, stages


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def archive(
    clip_ids: list[int] | None = typer.Argument(None, help="Clip ids to archive."),
    all_pending: bool = typer.Option(
        False, "--all-pending", help="Archive every clip whose heavy stage is done and whose archive is not."
    ),
    prefect: bool = PrefectOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Move clips' web media from heavy_output to the archive, verified by size and checksum."""
    from dashcam.stages.jobs import set_reporter

    ids = list(clip_ids or [])
    if not ids and not all_pending:
        fail("give clip ids or --all-pending")
    with stages("archive", prefect=prefect, quiet=json_out) as runner:
        if all_pending:
            from dashcam.db.session import get_engine
            from dashcam.stages.archive import pending_clip_ids

            ids += pending_clip_ids(get_engine(runner.cfg))
        ids = list(dict.fromkeys(ids))
        if not ids:
            if json_out:
                print_json([])
            else:
                console.print("nothing to archive")
            return
        with progress(enabled=not json_out) as prog:
            bar = prog.add_task("archive", total=len(ids))

            def on_clip(stage: str, clip_id: int | None, name: str, what: str) -> None:
                prog.update(bar, advance=1, description=f"archive: clip {name} {what}")

            set_reporter(on_clip)
            try:
                results: list[dict[str, Any]] = runner.archive(ids)
            finally:
                set_reporter(None)
    if json_out:
        print_json(results)
    else:
        ok = [r for r in results if r["ok"]]
        moved = sum(r.get("archived", 0) + r.get("resumed", 0) for r in ok)
        size = sum(r.get("bytes", 0) for r in ok)
        console.print(
            f"{len(ok)} clip(s) archived ({moved} file(s), {_human(size)}), {len(results) - len(ok)} failed",
            highlight=False,
        )
        for r in results:
            for note in r.get("notes") or []:
                console.print(f"  clip {r['clip_id']}: {note}", highlight=False, markup=False)
            if not r["ok"]:
                err_console.print(
                    f"[red]clip {r['clip_id']}:[/] {shown(r['error'])}", highlight=False, soft_wrap=True
                )
    if any(not r["ok"] for r in results):
        raise typer.Exit(1)


def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go and how many bytes."),
    prefect: bool = PrefectOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Delete raw clips, preprocess data and heavy output past their retention (never protected or pending)."""
    with stages("retention", prefect=prefect, quiet=json_out) as runner:
        doc: dict[str, Any] = runner.retention(dry_run=dry_run)
    if json_out:
        print_json(doc)
    else:
        _summary(doc)
    if doc["failed"]:
        raise typer.Exit(1)


def _summary(doc: dict[str, Any]) -> None:
    dry = doc["dry_run"]
    for item in doc["items"]:
        if dry or item["status"] == "deleted":
            verb = "would delete" if dry else "deleted"
            console.print(
                f"{verb} {item['area']}/{item['key']} ({_human(item['size_bytes'])}, {item['what']}, "
                f"{item['reason']})",
                highlight=False,
                markup=False,
            )
        elif item["status"] == "kept":
            console.print(
                f"kept {item['area']}/{item['key']}: {item['error']}", highlight=False, markup=False
            )
    for f in doc["failed"]:
        err_console.print(
            f"[red]could not delete[/] {shown(f['area'] + '/' + f['key'])}: {shown(f['error'])} (tried again next run)",
            highlight=False,
            soft_wrap=True,
        )
    for note in doc["notes"]:
        err_console.print(f"[yellow]note:[/] {shown(note)}", highlight=False, soft_wrap=True)
    per_area = ", ".join(f"{a} {v['files']} file(s) {_human(v['bytes'])}" for a, v in doc["by_area"].items())
    total = f"{doc['files']} file(s), {_human(doc['bytes'])}"
    console.print(
        f"{'would free' if dry else 'freed'} {total}" + (f" ({per_area})" if per_area else ""),
        highlight=False,
    )
    if doc["held"]:
        console.print(f"{len(doc['held'])} old file(s) kept by the rules (protected, pinned, pending)")


def register(app: typer.Typer) -> None:
    app.command("archive")(archive)
    app.command("retention")(retention)
