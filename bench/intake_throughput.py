"""Intake submissions: the throughput of the real intake service's `POST /v1/requests` beside a
bare FastAPI + asyncpg endpoint doing one INSERT (the baseline) and beside the peer (the same
submission on the eventsourcing library, `bench.peer_submission`), in the same run; then the
latency of each at half of intake's maximum rate; then two intake processes against one.
Targets (issue 20): intake at least 40 % of the bare endpoint's throughput, at most 1.2 ms of
server CPU per submission, at least 1.5x the peer; DESIGN §7: p99 under 100 ms at half of its
maximum rate.

- Baseline: `bare_app` below, one POST endpoint that validates the same JSON body with a plain
  pydantic model and does one asyncpg INSERT into a table of a fresh database (a pool of up to
  20 connections, as a service's engine), under uvicorn, one worker, in its own process.
- Subject: a second intake process started here with the stack's own command line (uvicorn, one
  worker) on a free port, on the dev stack's database and Kafka, with the per-partner write
  limit raised (`JIPH_INTAKE_WRITE_RATE_PER_MINUTE`): the limiter still runs on every request, it
  only never refuses. All the rest is the service as deployed: token verification, validation,
  event store and outbox append, the stored response read back, metrics; its outbox relay and
  consumer run too. If the stack's own intake runs, this one is a second replica beside it (one
  consumer group; the relay runs wherever it holds the lock, possibly in the other process,
  whose CPU is then not counted): `make bench` runs this before starting the services. Both
  servers log to `.state/dev/logs/bench-intake.log` and `bench-bare.log`.
- Load: a minimal keep-alive HTTP/1.1 client on asyncio streams (uvloop). httpx costs more CPU
  per request than the bare endpoint itself, and on two cores the client shares the machine.
  Closed loop: N connections each send the next request as soon as the last one is answered,
  for S seconds after a 2 s warm-up: requests/s and latency. Open loop: requests scheduled at
  half of intake's maximum rate, on up to 2N connections, latency counted from each request's
  scheduled time (a slow answer delays no later request's clock). Each server runs alone: intake
  first, then the bare app at the same paced rate. CPU % is of one core, over the phase.
- Every submission is real: each run leaves its requests (partner `bench-load`) in the dev
  stack's intake database and topic; triage and reporting, when they run, take them on.

usage: python -m bench.intake_throughput ADMIN_URL BOOTSTRAP [--seconds S] [--connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psycopg
import uvloop
from fastapi import FastAPI, Request

from bench.eventstore_append import fresh_database
from bench.peer_submission import peer_env
from bench.submission import BareBody, submission_body
from bench.targets import target
from jiph.stack import seed
from jiph.stack.config import REPO_ROOT, stack_config
from jiph.stack.postgres import PostgresTarget
from jiph.stack.services import service_argv, service_env
from jiph.token_command import dev_token

WARM_UP_S = 2.0
BENCH_PARTNER = "bench-load"
BARE_URL_ENV = "BENCH_BARE_DATABASE_URL"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the baseline: a bare FastAPI endpoint doing one asyncpg INSERT ------------------------------
BARE_TABLE = """CREATE TABLE requests (
    id uuid PRIMARY KEY, title text NOT NULL, country text NOT NULL, capability text NOT NULL,
    headcount int NOT NULL, needed_by date NOT NULL, submitted_at timestamptz DEFAULT now())"""
BARE_INSERT = (
    "INSERT INTO requests (id, title, country, capability, headcount, needed_by) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


def bare_app() -> FastAPI:
    """`uvicorn --factory bench.intake_throughput:bare_app`, database URL in the environment."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ[BARE_URL_ENV], min_size=10, max_size=20
        )
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/requests", status_code=201)
    async def submit(body: BareBody, request: Request) -> dict[str, str]:
        request_id = uuid.uuid4()
        await request.app.state.pool.execute(
            BARE_INSERT,
            request_id,
            body.title,
            body.country,
            body.capability,
            body.headcount,
            body.needed_by,
        )
        return {"id": str(request_id)}

    return app


# --- a load generator that costs little CPU ------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, one request at a time."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.port, self.reader, self.writer = port, reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def send(self, request: bytes) -> Reply:
        """Send a request built by `http_request`; the reply must carry a Content-Length. A
        connection the server closed while idle (uvicorn's keep-alive timeout) is reopened
        first; one lost meanwhile answers status 0."""
        if self.reader.at_eof() or self.writer.is_closing():
            await self.reopen()
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await self.reopen()
            return Reply(0, {}, repr(exc).encode())

    async def _exchange(self, request: bytes) -> Reply:
        self.writer.write(request)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.reopen()
        return Reply(int(head[0].split(" ", 2)[1]), headers, body)

    async def reopen(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        self.writer.close()


async def connection_pool(port: int, size: int) -> asyncio.Queue[Connection]:
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(size):
        pool.put_nowait(await Connection.open(port))
    return pool


def close_pool(pool: asyncio.Queue[Connection]) -> None:
    while not pool.empty():
        pool.get_nowait().close()


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def pct(latencies: Sequence[float], q: int) -> float:
    """The q-th percentile in milliseconds (NaN when nothing was measured)."""
    if len(latencies) < 2:
        return latencies[0] * 1000 if latencies else float("nan")
    return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] * 1000


# --- load phases ---------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


@dataclass
class Load:
    """What one phase measured."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[int] = field(default_factory=Counter)
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU time per answered request: what a request costs, however busy the box."""
        return self.server_cpu * 10 / max(self.rate, 1e-9)

    def record(self, reply: Reply, latency: float) -> None:
        if 200 <= reply.status < 300:
            self.latencies.append(latency)
        else:
            self.errors[reply.status] += 1


@contextlib.contextmanager
def timed(load: Load, server_pids: Sequence[int]) -> Iterator[None]:
    """Wall time and the CPU share (of one core) of the servers and of this client."""
    wall, client = time.perf_counter(), time.process_time()
    server = sum(cpu_seconds(pid) for pid in server_pids)
    yield
    load.seconds = time.perf_counter() - wall
    spent = sum(cpu_seconds(pid) for pid in server_pids) - server
    load.server_cpu = spent / load.seconds * 100
    load.client_cpu = (time.process_time() - client) / load.seconds * 100


async def closed_loop(
    ports: Sequence[int], pids: Sequence[int], request: bytes, connections: int, seconds: float
) -> Load:
    """N connections (spread over the servers' ports), each sending the next request as soon as
    the last is answered."""
    load = Load()
    pool = [await Connection.open(ports[n % len(ports)]) for n in range(connections)]
    deadline = time.perf_counter() + seconds

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            reply = await conn.send(request)
            load.record(reply, time.perf_counter() - started)

    with timed(load, pids):
        await asyncio.gather(*(client(conn) for conn in pool))
    for conn in pool:
        conn.close()
    return load


async def open_loop(
    port: int, pid: int, request: bytes, rate: float, seconds: float, connections: int
) -> Load:
    """Requests scheduled at `rate`; each latency counts from the request's scheduled time."""
    load = Load()
    pool = await connection_pool(port, connections)

    async def one(scheduled: float) -> None:
        conn = await pool.get()
        try:
            reply = await conn.send(request)
        finally:
            pool.put_nowait(conn)
        load.record(reply, time.perf_counter() - scheduled)

    tasks = []
    with timed(load, [pid]):
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    close_pool(pool)
    return load


# --- the two servers -----------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM the process group this bench started, SIGKILL if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    name: str, argv: list[str], env: dict[str, str], port: int, ready_path: str
) -> Server:
    """Start a uvicorn process in its own session; return once `ready_path` answers 200."""
    log = stack_config().log_dir / f"bench-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2):
                return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    server.stop()
    raise SystemExit(f"{name} did not become ready; see {log}")


def uvicorn_argv(factory: str, port: int) -> list[str]:
    """The command line `jiph up` gives a service, on another port."""
    argv = service_argv(stack_config(), "intake")
    argv[argv.index("services.intake.main:create_app")] = factory
    argv[argv.index("--port") + 1] = str(port)
    return argv


def start_intake(admin_url: str, bootstrap: str, name: str = "intake") -> Server:
    port = free_port()
    env = service_env(stack_config(), "intake", PostgresTarget(admin_url, managed=False))
    env |= {
        "JIPH_INTAKE_PORT": str(port),
        "JIPH_INTAKE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "JIPH_INTAKE_WRITE_RATE_PER_MINUTE": str(10**9),
    }
    argv = uvicorn_argv("services.intake.main:create_app", port)
    return start_server(name, argv, env, port, "/readyz")


async def start_bare(admin_url: str) -> Server:
    url = await fresh_database(admin_url, "jiph_bench_bare")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(BARE_TABLE)
    finally:
        await conn.close()
    port = free_port()
    env = {**os.environ, BARE_URL_ENV: url, "PYTHONUNBUFFERED": "1"}
    argv = uvicorn_argv("bench.intake_throughput:bare_app", port)
    return start_server("bare", argv, env, port, "/healthz")


async def start_peer(admin_url: str) -> Server:
    """The eventsourcing library's `Application` behind FastAPI (`bench.peer_submission`)."""
    url = await fresh_database(admin_url, "jiph_bench_peer")
    port = free_port()
    env = {**os.environ, **peer_env(url), "PYTHONUNBUFFERED": "1"}
    argv = uvicorn_argv("bench.peer_submission:peer_app", port)
    return start_server("peer", argv, env, port, "/healthz")


@dataclass
class Result:
    max_rate: Load
    paced_rate: float
    paced: Load


async def measure(
    server: Server, request: bytes, connections: int, seconds: float, paced_rate: float | None
) -> Result:
    """Warm up, then the closed loop, then the open loop (at half the closed loop's rate unless
    `paced_rate` says otherwise)."""
    pid = server.process.pid
    await closed_loop([server.port], [pid], request, connections, WARM_UP_S)
    max_rate = await closed_loop([server.port], [pid], request, connections, seconds)
    rate = paced_rate or max_rate.rate / 2
    paced = await open_loop(server.port, pid, request, rate, seconds, 2 * connections)
    return Result(max_rate, rate, paced)


# --- the report ----------------------------------------------------------------------------------
def errors(load: Load) -> str:
    counts = sorted(load.errors.items())
    return (
        ", ".join(f"{n}x {f'HTTP {status}' if status else 'lost'}" for status, n in counts)
        or "none"
    )


@dataclass
class Runs:
    intake: Result
    bare: Result
    peer: Result
    two_intakes: Load
    connections: int


def report(runs: Runs, peer_driver: str) -> None:
    servers = {"intake": runs.intake, "bare": runs.bare, "peer": runs.peer}
    head = f"{'':<26}" + "".join(f"{name:>10}" for name in servers)
    lines = [head, f"closed loop, {runs.connections} connections"]

    def figures(label: str, value: Callable[[Load], float], digits: int = 1) -> str:
        cells = "".join(f"{value(r.max_rate):>10,.{digits}f}" for r in servers.values())
        return f"  {label:<24}{cells}"

    def paced(label: str, value: Callable[[Load], float], digits: int = 1) -> str:
        cells = "".join(f"{value(r.paced):>10,.{digits}f}" for r in servers.values())
        return f"  {label:<24}{cells}"

    lines += [
        figures("requests/s", lambda load: load.rate, 0),
        figures("p50 ms", lambda load: pct(load.latencies, 50)),
        figures("p99 ms", lambda load: pct(load.latencies, 99)),
        figures("server CPU %", lambda load: load.server_cpu, 0),
        figures("server CPU ms/request", lambda load: load.cpu_ms_per_request, 2),
        figures("client CPU %", lambda load: load.client_cpu, 0),
        f"open loop at {runs.intake.paced_rate:,.0f} req/s (half of intake's maximum), each alone",
        paced("requests/s served", lambda load: load.rate, 0),
        paced("p50 ms", lambda load: pct(load.latencies, 50)),
        paced("p99 ms", lambda load: pct(load.latencies, 99)),
        paced("server CPU ms/request", lambda load: load.cpu_ms_per_request, 2),
        "errors: "
        + "; ".join(f"{n} {errors(r.max_rate)} / {errors(r.paced)}" for n, r in servers.items()),
        f"peer: the eventsourcing library's Application behind FastAPI, psycopg {peer_driver}",
    ]
    one, two = runs.intake.max_rate, runs.two_intakes
    scale = two.rate / one.rate
    lines += [
        f"scale-out: two intake processes {two.rate:,.0f}/s against one {one.rate:,.0f}/s: "
        f"{scale:.2f}x; servers {two.server_cpu:.0f} % + client {two.client_cpu:.0f} % of one core"
        f" ({os.cpu_count()} cores: {two.server_cpu + two.client_cpu:.0f} % of "
        f"{100 * (os.cpu_count() or 1)} % used)",
    ]
    share = one.rate / runs.bare.max_rate.rate
    cpu = one.cpu_ms_per_request
    over_peer = one.rate / runs.peer.max_rate.rate
    p99 = pct(runs.intake.paced.latencies, 99)
    lines += [
        target("intake >= 40 % of the bare endpoint's throughput", f"{share:.0%}", share >= 0.4),
        target("intake server CPU <= 1.2 ms per submission", f"{cpu:.2f} ms", cpu <= 1.2),
        target("intake >= 1.5x the eventsourcing peer", f"{over_peer:.2f}x", over_peer >= 1.5),
        target("intake p99 < 100 ms at half its maximum rate", f"{p99:.1f} ms", p99 < 100),
        f"note: two intakes / one: {scale:.2f}x (a figure, not a target)",
    ]
    print("\n".join(lines))


async def measure_two_intakes(
    admin_url: str, bootstrap: str, request: bytes, connections: int, seconds: float
) -> Load:
    """Two intake processes on the same database and Kafka, the load spread over both."""
    first = start_intake(admin_url, bootstrap, "intake-1")
    second = start_intake(admin_url, bootstrap, "intake-2")
    try:
        ports = [first.port, second.port]
        pids = [first.process.pid, second.process.pid]
        await closed_loop(ports, pids, request, connections, WARM_UP_S)
        return await closed_loop(ports, pids, request, connections, seconds)
    finally:
        first.stop()
        second.stop()


def bench_submission() -> bytes:
    """The POST every intake benchmark sends, as the bench partner."""
    stack = stack_config().name
    token = dev_token(stack, "partner", subject="bench-load", partner_id=BENCH_PARTNER)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return http_request("POST", "/v1/requests", headers, submission_body())


def register_bench_partner(intake: Server) -> None:
    seed.register_partners(stack_config(), [seed.partner(BENCH_PARTNER)], port=intake.port)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("bootstrap")
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase (default 8)")
    parser.add_argument("--connections", type=int, default=32, help="closed loop (default 32)")
    args = parser.parse_args()
    request = bench_submission()
    intake = start_intake(args.admin_url, args.bootstrap)
    try:
        register_bench_partner(intake)
        ours = await measure(intake, request, args.connections, args.seconds, None)
    finally:
        intake.stop()
    results = {}
    for name, start in (("bare", start_bare), ("peer", start_peer)):
        server = await start(args.admin_url)
        try:
            results[name] = await measure(
                server, request, args.connections, args.seconds, ours.paced_rate
            )
        finally:
            server.stop()
    two = await measure_two_intakes(
        args.admin_url, args.bootstrap, request, args.connections, args.seconds
    )
    report(
        Runs(ours, results["bare"], results["peer"], two, args.connections),
        psycopg.pq.__impl__,  # the peer runs in this environment: the same build
    )


if __name__ == "__main__":
    uvloop.run(main())
