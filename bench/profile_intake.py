"""Where intake's CPU goes: a second intake process (as `bench.intake_throughput` starts it)
under closed-loop load, sampled by py-spy; prints the top frames by own time and by package,
and how many SQL round trips one submission makes (counted by PostgreSQL's statement log).
docs/PERFORMANCE.md keeps its output from before and after each change.

usage: python -m bench.profile_intake ADMIN_URL BOOTSTRAP [--seconds S] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
from pathlib import Path

import asyncpg
import uvloop

from bench.intake_throughput import (
    Connection,
    bench_submission,
    closed_loop,
    register_bench_partner,
    start_intake,
)
from jiph.stack.config import REPO_ROOT, stack_config
from jiph.stack.postgres import cluster_log

FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def summarise(collapsed: Path, top: int = 25) -> list[str]:
    """Own time per frame and per package, from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        match = FRAME.match(leaf)
        name, file = (match["name"], match["file"]) if match else (leaf, leaf)
        own[f"{name} ({file.split('site-packages/')[-1]})"] += n
        path = file.split("site-packages/")[-1]
        parts = path.split("/")
        packages["/".join(parts[:2]) if parts[0] in ("shared", "services") else parts[0]] += n
    lines = [f"{total} samples; own time by frame:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["own time by package:"]
    lines += [f"  {n / total:6.1%}  {package}" for package, n in packages.most_common(15)]
    return lines


async def round_trips(admin_url: str, port: int, request: bytes) -> int:
    """Statements the bench stack's PostgreSQL runs in the half second around one submission:
    the command's, then its relay's and its consumer's (nothing else runs on it meanwhile).
    Counted from the server's statement log, turned on for every session meanwhile."""
    log = cluster_log(stack_config())
    admin = await asyncpg.connect(admin_url)
    conn = await Connection.open(port)
    try:
        await conn.send(request)  # warm: the pooled connections exist and have prepared all
        await admin.execute("ALTER SYSTEM SET log_statement = 'all'")
        await admin.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(1.0)
        start = log.stat().st_size
        await conn.send(request)
        await asyncio.sleep(0.5)
        end = log.stat().st_size
    finally:
        conn.close()
        await admin.execute("ALTER SYSTEM RESET log_statement")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()
    with log.open("rb") as text:
        text.seek(start)
        lines = text.read(end - start).splitlines()
    return sum(1 for line in lines if b"LOG:  statement:" in line or b"LOG:  execute" in line)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("bootstrap")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "test-artifacts/intake.pyspy")
    args = parser.parse_args()
    request = bench_submission()
    server = start_intake(args.admin_url, args.bootstrap)
    try:
        register_bench_partner(server)
        pid = server.process.pid
        await closed_loop([server.port], [pid], request, 32, 3)  # warm up
        args.out.parent.mkdir(parents=True, exist_ok=True)
        spy_argv = [str(REPO_ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid)]
        spy_argv += ["--rate", "200", "--duration", str(int(args.seconds)), "--format", "raw"]
        spy_argv += ["--nonblocking", "--output", str(args.out)]
        spy = subprocess.Popen(
            spy_argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load = await closed_loop([server.port], [pid], request, 32, args.seconds)
        spy.wait()
        statements = await round_trips(args.admin_url, server.port, request)
    finally:
        server.stop()
    print(
        f"intake under load: {load.rate:.0f} submissions/s, "
        f"{load.cpu_ms_per_request:.2f} ms of server CPU each; "
        f"{statements} statements on intake's database around one submission"
        " (the command's, its relay's and its consumer's)"
    )
    print("\n".join(summarise(args.out)))


if __name__ == "__main__":
    uvloop.run(main())
