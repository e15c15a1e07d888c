"""CPU time spent by a whole running stack: the four services, Kafka and PostgreSQL, each with
every process under it (PostgreSQL's backends, uvicorn's children), including children that
exited meanwhile (their time is added to their parent's `cutime`/`cstime`). What one end-to-end
operation costs the machine, whatever else runs beside it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from jiph.stack.config import SERVICE_NAMES, StackConfig
from jiph.stack.kafka import kafka_process
from jiph.stack.services import service_process

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                tree.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue  # exited while we looked
    return tree


def listening_pid(port: int) -> int | None:
    """The process listening on a TCP port of this machine (PostgreSQL's postmaster)."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


def stack_roots(cfg: StackConfig) -> dict[str, int]:
    """The top process of each part of the stack that runs."""
    roots = {name: service_process(cfg, name).pid() for name in SERVICE_NAMES}
    roots["kafka"] = kafka_process(cfg).pid()
    roots["postgres"] = listening_pid(cfg.pg_port)
    return {name: pid for name, pid in roots.items() if pid is not None}


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each root and everything under it, living or reaped."""
    tree = _children()
    totals = {}
    for name, root in roots.items():
        seconds, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            try:
                fields = _stat(pid)
            except (OSError, IndexError):
                continue
            seconds += sum(int(v) for v in fields[11:15]) / CLK_TCK  # utime stime cutime cstime
            todo.extend(tree.get(pid, ()))
        totals[name] = seconds
    return totals
