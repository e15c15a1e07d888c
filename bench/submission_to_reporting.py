"""Submission visible in reporting: how long after a partner submits a request an analyst's read
of reporting includes it, at a paced 100 submissions/s, against the running dev stack (`jiph up`).
DESIGN §7: p99 under 250 ms at 100 submissions/s. The baseline, in the same run, is the
submission's own round trip (`POST /v1/requests` on intake alone): the ratio is what the
pipeline adds (intake's outbox relay, Kafka, reporting's consumer and projection).

- Submissions are scheduled at the rate (open loop) and sent round-robin on behalf of 20
  partners, each at 5/s, under the stack's unchanged write limit (10/s per partner): no setting
  is raised, every request is a real one a real partner could send.
- As soon as a submission is answered, `GET /v1/audit/{id}` goes to reporting with the write's
  consistency token (`X-Consistency-Token`): reporting answers when its projection has applied
  the submission (`X-Consistency: applied`), which is the transaction that also writes the
  request's row that `GET /v1/requests` lists. Its wait polls every 20 ms, so a figure may be up
  to 20 ms late; a read that gives up (`pending`, after 5 s) is sent again.
- Both latencies count from the submission's scheduled time, so a slow answer delays no later
  submission's clock (coordinated omission corrected: p99.9 too).
- The CPU time of every process of the stack (the four services, Kafka, PostgreSQL with its
  backends: `bench.stack_cpu`) over the measured run, per submission seen.
- The client is the keep-alive HTTP/1.1 client of `bench.intake_throughput`
  (32 connections to intake, 128 to reporting).
- To keep the run bounded when intake cannot keep up, a submission not sent, or not seen in
  reporting, within 15 s of its scheduled time fails; percentiles are over those seen, and any
  failure is a MISS. The line "intake accepted" shows the rate intake actually sustained.
- The submissions (partners `bench-reporting-NN`) stay in the dev stack like any other.

usage: python -m bench.submission_to_reporting [--rate R] [--seconds S] [--partners P]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import orjson
import uvloop

from bench import stack_cpu
from bench.intake_throughput import (
    Connection,
    Reply,
    close_pool,
    connection_pool,
    http_request,
    pct,
    target,
)
from bench.stack_cpu import stack_roots
from bench.submission import submission_body
from jiph.stack import seed
from jiph.stack.config import stack_config
from jiph.token_command import dev_token

WARM_UP_S = 1.0
GIVE_UP_S = 15.0


@dataclass
class Samples:
    """Per submission: its round trip, and when reporting's read included it (seconds)."""

    posted: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: int = 0
    seconds: float = 0.0  # from the first scheduled submission to the last answered one

    @property
    def pipeline(self) -> list[float]:
        """What follows the POST's answer: relay, Kafka, reporting's consumer, the read."""
        return [visible - posted for posted, visible in zip(self.posted, self.visible, strict=True)]


class Pipeline:
    """Submit on intake, then read on reporting until the read includes the submission."""

    def __init__(
        self, intake: asyncio.Queue[Connection], reporting: asyncio.Queue[Connection], partners: int
    ) -> None:
        self.intake, self.reporting = intake, reporting
        body = submission_body("Bench: submission to reporting")
        self.submissions = [
            http_request("POST", "/v1/requests", bearer(partner_token(n)), body)
            for n in range(1, partners + 1)
        ]
        self.analyst = bearer(dev_token(stack_config().name, "analyst", subject="bench-analyst"))
        self.started = time.perf_counter()

    async def send(
        self, pool: asyncio.Queue[Connection], request: bytes, scheduled: float
    ) -> Reply | None:
        """The reply, or None when no connection was free until `GIVE_UP_S` after `scheduled`
        (an overloaded service: the run stays bounded)."""
        conn = await pool.get()
        try:
            if time.perf_counter() - scheduled > GIVE_UP_S:
                return None
            return await conn.send(request)
        finally:
            pool.put_nowait(conn)

    async def one(self, n: int, scheduled: float, samples: Samples) -> None:
        submission = self.submissions[n % len(self.submissions)]
        reply = await self.send(self.intake, submission, scheduled)
        posted = time.perf_counter() - scheduled
        if reply is None:
            samples.errors.append(f"not sent within {GIVE_UP_S:.0f} s (intake saturated)")
            return
        if reply.status != 201:
            samples.errors.append(f"POST {reply.status}: {reply.body[:120]!r}")
            return
        samples.accepted += 1
        samples.seconds = max(samples.seconds, time.perf_counter() - self.started)
        request_id = orjson.loads(reply.body)["request"]["id"]
        headers = {**self.analyst, "X-Consistency-Token": reply.headers["x-consistency-token"]}
        read = http_request("GET", f"/v1/audit/{request_id}", headers)
        while reply := await self.send(self.reporting, read, scheduled):
            if reply.headers.get("x-consistency") == "applied" and reply.status == 200:
                samples.posted.append(posted)
                samples.visible.append(time.perf_counter() - scheduled)
                return
            if reply.status not in (0, 200, 404):  # 404: the wait ran out; 0: connection lost
                samples.errors.append(f"GET {reply.status}: {reply.body[:120]!r}")
                return
        samples.errors.append(f"not visible after {GIVE_UP_S:.0f} s")

    async def run(self, rate: float, seconds: float) -> Samples:
        """Submissions scheduled at `rate` for `seconds`; returns once every one is settled."""
        samples = Samples()
        tasks = []
        self.started = time.perf_counter()
        for n in range(int(rate * seconds)):
            scheduled = self.started + n / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(self.one(n, scheduled, samples)))
        await asyncio.gather(*tasks)
        return samples


def partner_token(n: int) -> str:
    partner = f"bench-reporting-{n:02d}"
    return dev_token(stack_config().name, "partner", subject=partner, partner_id=partner)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def per_mille(latencies: list[float], q: int) -> float:
    """The q-th per-mille in milliseconds (p99.9 is 999)."""
    if len(latencies) < 2:
        return latencies[0] * 1000 if latencies else float("nan")
    return statistics.quantiles(latencies, n=1000, method="inclusive")[q - 1] * 1000


def require_ready(name: str, port: int) -> None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
            return
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(
            f"{name} is not ready on {port} ({exc}): start the stack, `jiph up`"
        ) from exc


def report(
    samples: Samples, rate: float, seconds: float, partners: int, cpu: dict[str, float]
) -> None:
    submitted = len(samples.visible) + len(samples.errors)
    print(
        f"{submitted} submissions at {rate:g}/s for {seconds:g} s from {partners} partners, "
        f"{len(samples.errors)} failed"
    )
    for error in sorted(set(samples.errors))[:5]:
        print(f"  failed: {error} ({samples.errors.count(error)}x)")
    accepted = samples.accepted / samples.seconds if samples.seconds else 0.0
    print(f"intake accepted {accepted:.0f} submissions/s over the run")
    print(
        f"{'of the ' + str(len(samples.visible)) + ' seen':<28} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p99.9 ms':>8} {'max ms':>8}"
    )
    rows = {
        "POST alone (baseline)": samples.posted,
        "visible in reporting": samples.visible,
        "  of which after the POST": samples.pipeline,
    }
    for label, values in rows.items():
        figures = [pct(values, q) for q in (50, 95, 99)]
        figures += [per_mille(values, 999), max(values, default=0) * 1000]
        print(f"{label:<28} " + " ".join(f"{v:>8.1f}" for v in figures))
    p99, base = pct(samples.visible, 99), pct(samples.posted, 99)
    p999 = per_mille(samples.visible, 999)
    print(f"{'ratio (visible / POST)':<28} {'':>8} {'':>8} {p99 / base:>7.1f}x")
    submissions = max(len(samples.visible), 1)
    per_submission = {name: seconds * 1000 / submissions for name, seconds in cpu.items()}
    total = sum(per_submission.values())
    print(
        "CPU ms per submission: "
        + ", ".join(f"{name} {ms:.2f}" for name, ms in per_submission.items())
        + f"; all {total:.2f}"
    )
    ok = not samples.errors
    print(
        target(
            f"p99 visible in reporting < 250 ms at {rate:g}/s", f"{p99:.1f} ms", ok and p99 < 250
        )
    )
    print(
        target(
            f"p99.9 visible in reporting < 250 ms at {rate:g}/s",
            f"{p999:.1f} ms",
            ok and p999 < 250,
        )
    )
    print(target("CPU per submission over every process <= 8 ms", f"{total:.2f} ms", total <= 8))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0, help="submissions/s (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="default 10")
    parser.add_argument("--partners", type=int, default=20, help="default 20 (5/s each)")
    args = parser.parse_args()
    ports = stack_config().service_ports
    for name in ("intake", "reporting"):
        require_ready(name, ports[name])
    seed.register_partners(
        stack_config(),
        [seed.partner(f"bench-reporting-{n:02d}") for n in range(1, args.partners + 1)],
    )
    intake = await connection_pool(ports["intake"], 32)
    reporting = await connection_pool(ports["reporting"], 128)
    try:
        pipeline = Pipeline(intake, reporting, args.partners)
        await pipeline.run(args.rate, WARM_UP_S)
        roots = stack_roots(stack_config())
        before = stack_cpu.cpu_seconds(roots)
        samples = await pipeline.run(args.rate, args.seconds)
        after = stack_cpu.cpu_seconds(roots)
    finally:
        close_pool(intake)
        close_pool(reporting)
    spent = {name: after[name] - before[name] for name in roots}
    report(samples, args.rate, args.seconds, args.partners, spent)


if __name__ == "__main__":
    uvloop.run(main())
