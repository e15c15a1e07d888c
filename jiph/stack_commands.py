"""`jiph up | down | status`."""

from __future__ import annotations

import argparse
import sys
import time
from types import ModuleType

from jiph.stack import cluster, lifecycle
from jiph.stack.config import StackConfig, stack_config
from jiph.stack.processes import StackError


def _stack(cfg: StackConfig) -> ModuleType:
    """The module that runs the stack: one broker on loopback, or the namespaced cluster."""
    return cluster if cfg.is_cluster else lifecycle


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="start Kafka, PostgreSQL and the four services")
    up.add_argument(
        "--infra-only", action="store_true", help="start Kafka and PostgreSQL, not the services"
    )
    up.set_defaults(handler=cmd_up)
    down = sub.add_parser("down", help="stop everything the stack started")
    down.set_defaults(handler=cmd_down)
    reset = sub.add_parser("reset", help="stop the stack and delete all its data")
    reset.add_argument("--yes", action="store_true", help="really delete")
    reset.set_defaults(handler=cmd_reset)
    status = sub.add_parser("status", help="each component with pid, port and health")
    status.set_defaults(handler=cmd_status)


def cmd_up(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    started = time.monotonic()
    try:
        _stack(cfg).up(cfg, with_services=not args.infra_only)
    except StackError as exc:
        print(f"jiph up: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a read-only folder, ...
        print(f"jiph up: {exc.strerror or exc} ({exc.filename or 'no file'})", file=sys.stderr)
        return 1
    print(f"stack '{cfg.name}' is up in {time.monotonic() - started:.1f}s; logs in {cfg.log_dir}")
    if not args.infra_only:
        print("token for the API docs:  jiph token --role partner --partner un-dpo")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    _stack(cfg).down(cfg)
    print(f"stack '{cfg.name}' is down")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    if not args.yes:
        print(f"jiph reset deletes every event and projection of stack '{cfg.name}'; add --yes")
        return 2
    _stack(cfg).reset(cfg)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    rows = _stack(cfg).status(cfg)
    width = max(11, *(len(row.name) for row in rows))
    print(f"{'component':<{width}} {'state':<7} {'pid':>7} {'port':>6}  detail")
    for row in rows:
        pid = str(row.pid) if row.pid else "-"
        port = str(row.port) if row.port else "-"
        print(f"{row.name:<{width}} {row.label:<7} {pid:>7} {port:>6}  {row.detail}")
    return 0 if all(r.healthy for r in rows) else 1
