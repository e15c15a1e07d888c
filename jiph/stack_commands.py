"""`jiph up | down | status`."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Annotated

import typer
from rich.text import Text

from jiph.console import show, table
from jiph.errors import CommandError
from jiph.options import stack_name
from jiph.stack import cluster, lifecycle
from jiph.stack.config import StackConfig, stack_config


def _stack(cfg: StackConfig) -> ModuleType:
    """The module that runs the stack: one broker on loopback, or the namespaced cluster."""
    return cluster if cfg.is_cluster else lifecycle


def register(app: typer.Typer) -> None:
    app.command("up", help="start Kafka, PostgreSQL and the four services")(cmd_up)
    app.command("down", help="stop everything the stack started")(cmd_down)
    app.command("reset", help="stop the stack and delete all its data")(cmd_reset)
    app.command("status", help="each component with pid, port and health")(cmd_status)


def cmd_up(
    ctx: typer.Context,
    infra_only: Annotated[
        bool, typer.Option("--infra-only", help="start Kafka and PostgreSQL, not the services")
    ] = False,
) -> int:
    cfg = stack_config(stack_name(ctx))
    started = time.monotonic()
    try:  # a StackError is said by `jiph.cli`
        _stack(cfg).up(cfg, with_services=not infra_only)
    except OSError as exc:  # a full disk, a read-only folder, ...
        raise CommandError(f"{exc.strerror or exc} ({exc.filename or 'no file'})") from exc
    print(f"stack '{cfg.name}' is up in {time.monotonic() - started:.1f}s; logs in {cfg.log_dir}")
    if not infra_only:
        print("token for the API docs:  jiph token --role partner --partner un-dpo")
    return 0


def cmd_down(ctx: typer.Context) -> int:
    cfg = stack_config(stack_name(ctx))
    _stack(cfg).down(cfg)
    print(f"stack '{cfg.name}' is down")
    return 0


def cmd_reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="really delete")] = False,
) -> int:
    cfg = stack_config(stack_name(ctx))
    if not yes:
        print(f"jiph reset deletes every event and projection of stack '{cfg.name}'; add --yes")
        return 2
    _stack(cfg).reset(cfg)
    return 0


def cmd_status(ctx: typer.Context) -> int:
    cfg = stack_config(stack_name(ctx))
    rows = _stack(cfg).status(cfg)
    grid = table("component", "state", "pid", "port", "detail", right=("pid", "port"))
    for row in rows:
        grid.add_row(
            row.name,
            Text(row.label, style="green" if row.healthy else "bold red"),
            str(row.pid) if row.pid else "-",
            str(row.port) if row.port else "-",
            row.detail,
        )
    show(grid)
    return 0 if all(r.healthy for r in rows) else 1
