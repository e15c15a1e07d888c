"""Idle footprint: the resident memory (RSS) of each running dev-stack service (`jiph up`) beside
a bare uvicorn process serving a FastAPI hello world (the baseline), in the same run.
DESIGN §7: each service under 150 MB RSS (MB = 10^6 bytes here, the stricter reading).

- The services are the stack's own processes (pids from `.state/dev/run/`); a process's RSS is
  `VmRSS` from /proc/PID/status, plus that of its descendants (uvicorn runs one worker in
  process, so there are none unless that changes).
- The baseline is started here: `python -c` importing fastapi and uvicorn, one `GET /` route,
  `uvicorn.run` on a free port, answered once before measuring.
- Idle means: no requests from here, and every service under 10 % of one core over a window of
  `--idle` seconds (the consumers and outbox relays poll even when nothing happens). The bench
  waits for such a window, up to `--max-wait` seconds (a stack just started may still be catching
  up with its topics), and reads RSS at its end. It prints each process's CPU % in the window.

usage: python -m bench.idle_footprint [--idle S] [--max-wait S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.intake_throughput import cpu_seconds, free_port
from bench.targets import target
from jiph.stack.config import SERVICE_NAMES, stack_config
from jiph.stack.services import service_process

TARGET_MB = 150
QUIET_CPU_PERCENT = 10.0
HELLO_WORLD = """
import sys
import fastapi, uvicorn
app = fastapi.FastAPI()
@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc/PID/task/*/children."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                queue += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss_bytes(pid: int) -> int:
    total = 0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def start_hello_world() -> subprocess.Popen[bytes]:
    """The baseline process; returns once it has answered one request."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", HELLO_WORLD, str(port)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    stop(process)
    raise SystemExit("the hello-world baseline did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=10)


def cpu_percent(pids: dict[str, int], window: float) -> dict[str, float]:
    """Each process's CPU share of one core over the next `window` seconds."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(window)
    return {name: (cpu_seconds(pid) - before[name]) / window * 100 for name, pid in pids.items()}


def wait_until_quiet(pids: dict[str, int], window: float, max_wait: float) -> dict[str, float]:
    """CPU % of the first window in which every service stayed under the threshold (or the
    last window, when `max_wait` ran out)."""
    deadline = time.monotonic() + max_wait
    while True:
        usage = cpu_percent(pids, window)
        busy = [name for name, p in usage.items() if p >= QUIET_CPU_PERCENT and name != "bare"]
        if not busy or time.monotonic() >= deadline:
            if busy:
                print(f"never quiet within {max_wait:g} s: {', '.join(busy)} still busy")
            return usage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=5.0, help="quiet window, s (default 5)")
    parser.add_argument("--max-wait", type=float, default=120.0, help="default 120 s")
    args = parser.parse_args()
    cfg = stack_config()
    pids = {name: service_process(cfg, name).pid() for name in SERVICE_NAMES}
    missing = [name for name, pid in pids.items() if pid is None]
    if missing:
        raise SystemExit(f"not running: {', '.join(missing)}; start the stack, `jiph up`")
    running = {name: pid for name, pid in pids.items() if pid is not None}
    bare = start_hello_world()
    waited = time.monotonic()
    try:
        usage = wait_until_quiet(running | {"bare": bare.pid}, args.idle, args.max_wait)
        waited = time.monotonic() - waited
        sizes = {name: rss_bytes(pid) / 1e6 for name, pid in running.items()}
        baseline = rss_bytes(bare.pid) / 1e6
    finally:
        stop(bare)
    print(
        f"RSS after a quiet window of {args.idle:g} s ({waited:.0f} s waited); MB = 10^6 bytes; "
        "CPU % of one core in the window"
    )
    print(f"{'process':<12} {'pid':>7} {'RSS MB':>8} {'CPU %':>6} {'ratio':>6}   target")
    print(
        f"{'bare':<12} {bare.pid:>7} {baseline:>8.1f} {usage['bare']:>6.1f} {1:>6.2f}   "
        "(baseline: uvicorn + FastAPI hello world)"
    )
    for name, size in sizes.items():
        print(
            f"{name:<12} {running[name]:>7} {size:>8.1f} {usage[name]:>6.1f} "
            f"{size / baseline:>6.2f}   < {TARGET_MB} MB"
        )
    for name, size in sizes.items():
        print(target(f"{name} idle RSS < {TARGET_MB} MB", f"{size:.1f} MB", size < TARGET_MB))


if __name__ == "__main__":
    main()
