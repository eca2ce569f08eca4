"""`dashcam setup` and `dashcam health`: prepare a Prefect server for the pipeline, and check a deployment."""

from __future__ import annotations

from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, err_console, fail, print_json, shown


def _config() -> Any:
    from dashcam.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")


def setup(
    server: str = typer.Option(..., "--server", help="Prefect API URL, e.g. http://main-server:4200/api."),
    results_path: str = typer.Option(
        None,
        "--results-path",
        help="Shared folder every device mounts, for task results (default: DATA_DIR/results).",
    ),
    code_dir: str = typer.Option(
        "/opt/dashcam-processor",
        "--code-dir",
        help="Where every device installed the project (the pull step).",
    ),
    docker: str = typer.Option(
        "", "--docker", help="Pools whose workers run flows in containers, e.g. edge,gpu."
    ),
    heartbeat_s: int = typer.Option(
        30, "--heartbeat-s", min=30, help="Flow-run heartbeat interval (seconds, >= 30)."
    ),
    zombie_after_s: int = typer.Option(
        120, "--zombie-after-s", help="Mark a run crashed after this long without a heartbeat."
    ),
    notify_block: str | None = typer.Option(
        None,
        "--notify-block",
        help="Notification block (TYPE/NAME, made in the Prefect UI: email, Slack, ntfy, a webhook ...) that "
        "watchlist hits and failed clips are sent through.",
    ),
    no_deploy: bool = typer.Option(
        False, "--no-deploy", help="Skip `prefect deploy` (pools, blocks and automations only)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Create or update work pools, limits, blocks, the zombie-run automation and the deployments (idempotent)."""
    from blocks.setup import POOLS
    from blocks.setup import setup as do_setup

    cfg = _config()
    pools = tuple(p for p in docker.split(",") if p)
    unknown = [p for p in pools if p not in POOLS]
    if unknown:
        fail(f"--docker: unknown pool(s) {', '.join(unknown)} (pools: {', '.join(POOLS)})")
    try:
        done = do_setup(
            server.rstrip("/"),
            cfg,
            results_path=results_path or str(cfg.settings.data_dir / "results"),
            code_dir=code_dir,
            docker_pools=pools,
            heartbeat_s=heartbeat_s,
            zombie_after_s=zombie_after_s,
            notify_block=notify_block,
            deploy=not no_deploy,
        )
    except Exception as exc:  # one line for the user: which step failed and why
        fail(
            f"setup against {server} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
    if json_out:
        print_json({"server": server, "done": done})
        return
    for line in done or ["nothing to change: the server is already set up"]:
        console.print(f"  {line}", highlight=False, markup=False)


def health(
    server: str = typer.Option(..., "--server", help="Prefect API URL, e.g. http://main-server:4200/api."),
    json_out: bool = JsonOpt,
) -> None:
    """Server reachable, each pool's online workers, queue depth and late runs, database and storage; exit 1 if not."""
    from blocks.health import check

    report = check(server.rstrip("/"), _config())
    if json_out:
        print_json(report)
    else:
        for name, item in report["checks"].items():
            mark = "[green]ok[/]" if item["ok"] else "[red]FAIL[/]"
            console.print(f"{mark} {name}: {shown(item['detail'])}", highlight=False)
        for p in report["problems"]:
            err_console.print(f"[red]problem:[/] {shown(p)}", highlight=False, soft_wrap=True)
    if report["problems"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("setup")(setup)
    app.command("health")(health)
