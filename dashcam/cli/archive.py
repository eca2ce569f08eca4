"""`dashcam archive` and `dashcam retention`: run the archive and retention flows on this machine; `dashcam
archive verify|rekey|encrypt`: the archive's objects and their encryption at rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, progress, shown
from dashcam.cli.embedded import PrefectOpt, stages


class _ClipsByDefault(TyperGroup):
    """`dashcam archive 12 13` and `dashcam archive --all-pending` stay what they were: short for
    `dashcam archive clips ...`; a known word (verify, rekey, encrypt) picks that command instead."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["clips", *args]
        return super().parse_args(ctx, args)


archive_app = typer.Typer(
    cls=_ClipsByDefault,
    help="Archive clips' web media (`dashcam archive 12 13` is `dashcam archive clips 12 13`), and check or "
    "re-key the archive's objects.",
)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@archive_app.command("clips")
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
            from dashcam.stages.archive.record import pending_clip_ids

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


def _archive_area() -> tuple[Any, Any]:
    """(configuration, the archive area) of this machine."""
    from dashcam.cli.embedded import load_config_or_fail
    from dashcam.storage import Storage

    cfg = load_config_or_fail()
    return cfg, Storage(cfg)["archive"]


def _report(doc: dict[str, Any], line: str, json_out: bool) -> None:
    if json_out:
        print_json(doc)
    else:
        for p in doc["problems"]:
            err_console.print(f"[red]{shown(p)}[/]", highlight=False, soft_wrap=True)
        console.print(line, highlight=False, markup=False)
    if doc["problems"]:
        raise typer.Exit(1)


@archive_app.command("verify")
def verify(json_out: bool = JsonOpt) -> None:
    """Read every archived medium in full and check it against its row (size, sha256, each encrypted chunk's tag)."""
    from dashcam.crypt import archive_ops
    from dashcam.db.session import ensure_schema, get_engine

    cfg, area = _archive_area()
    ensure_schema(cfg.database_url(), config=cfg)
    out = archive_ops.verify(area, get_engine(cfg))
    _report(
        out.as_dict(),
        f"{out.objects} archived medium/media checked: {out.unchanged} good, {len(out.problems)} bad "
        f"({out.sealed} encrypted, {out.plain} not)",
        json_out,
    )


@archive_app.command("rekey")
def rekey(
    new_key_env: str = typer.Option(
        "DASHCAM_ARCHIVE_NEW_KEY", "--new-key-env", help="Environment variable holding the new key."
    ),
    new_key_file: Path | None = typer.Option(
        None, "--new-key-file", help="File holding the new key (mode 0600, one line)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Re-wrap every encrypted object's data key to a new archive key, the media untouched (safe to rerun)."""
    from dashcam.crypt import archive_ops
    from dashcam.crypt.keys import archive_key, archive_key_from, new_key_text

    cfg, area = _archive_area()
    old = archive_key(cfg)
    if old is None:
        fail("set DASHCAM_ARCHIVE_KEY (or encryption.archive_key_file) to the current archive key")
    new = archive_key_from(*new_key_text(new_key_env, new_key_file))
    if new.secret == old.secret:
        fail("the new key is the current key")
    out = archive_ops.rekey(area, old, new)
    line = (
        f"{out.changed} object(s) re-keyed, {out.unchanged} on the new key already, {out.plain} not encrypted, "
        f"{len(out.problems)} failed"
    )
    if not out.problems and not json_out:
        line += f"; now make the key from {new.source} the archive key (DASHCAM_ARCHIVE_KEY, the key file"
        line += " or the Secret block dashcam-archive-key)"
    _report(out.as_dict(), line, json_out)


@archive_app.command("encrypt")
def encrypt(json_out: bool = JsonOpt) -> None:
    """Encrypt the objects archived before encryption was on, each checked against its row and swapped atomically."""
    from dashcam.crypt import archive_ops
    from dashcam.crypt.keys import archive_key
    from dashcam.db.session import ensure_schema, get_engine

    cfg, area = _archive_area()
    if archive_key(cfg) is None:
        fail("set DASHCAM_ARCHIVE_KEY (or encryption.archive_key_file) to the key to encrypt with")
    ensure_schema(cfg.database_url(), config=cfg)
    out = archive_ops.seal_all(area, get_engine(cfg))
    _report(
        out.as_dict(),
        f"{out.changed} object(s) encrypted, {out.unchanged} encrypted already, {len(out.problems)} failed",
        json_out,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(archive_app, name="archive")
    app.command("retention")(retention)
