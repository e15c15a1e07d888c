"""Faults on the cluster stack (`jiph --stack cluster up`), under steady load, one after another:

1. `broker`   SIGKILL the broker that leads the most partitions (restarted afterwards);
2. `instance` SIGKILL one instance of each service, the one whose outbox relay is active;
3. `cutoff`   cut intake's active relay's instance off from the three brokers for 30 s (nftables
              in its namespace: every packet dropped both ways), then heal.

The load is an open loop of submissions (`POST /v1/requests`, partners `fault-N`, each with an
`Idempotency-Key`) spread over both intake instances. A submission that gets no answer (the
instance died, the connection broke) is sent again, with the same key, to the other instance, as
a load balancer would; a 503 is retried after a pause. Every acknowledged (201) id is recorded.

Each fault is judged on, after the load stops and the pipeline drains:
- lost: acknowledged but not in intake's store, or never visible in reporting (0 required);
- twice: a submission stored twice in intake, or an event applied twice in reporting's log (a
  second RequestSubmitted or RequestTriaged for one request), or no case opened (0 required);
- 500s: any answer 500 (0 required);
- failover: how long after the fault the partitions' leaders (broker) or the service's relay and
  consumer partitions (instance, cutoff) were on a survivor, from polls every 0.25 s;
- e2e: submission acknowledged -> visible in reporting (polled every 0.25 s), median and max;
- drained: from the end of the load until every running instance's consumer lag is 0 (one at
  least per service), every outbox is empty and every acknowledged request is in reporting.

SIGKILL is not power loss: the page cache survives, and the cluster's PostgreSQL runs without
fsync. What is proved is replication across brokers and hand-over between service instances.

usage: python -m bench.cluster_faults [--rate R] [--before S] [--after S] [--cutoff S]
                                      [--scenarios broker,instance,cutoff] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from bench.intake_throughput import submission_body
from jiph.stack import cluster, netns, postgres, seed
from jiph.stack.config import REPO_ROOT, StackConfig, stack_config
from shared import topics
from shared.auth import load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER

PARTNERS = [f"fault-{n}" for n in range(8)]
TITLE = "Fault run "
SUBMIT_DEADLINE_S = 90
POLL_S = 0.25
FAILOVER_TIMEOUT_S = 60
DRAIN_TIMEOUT_S = 120


def now() -> float:
    return time.monotonic()


def bearer(cfg: StackConfig, role: str, **claims: Any) -> dict[str, str]:
    token = mint_token(
        load_or_create_dev_key(cfg.dev_key_file),
        role=role,
        subject=claims.pop("sub", f"{role}-faults"),
        issuer=DEV_ISSUER,
        audience=AUDIENCE,
        ttl_seconds=3600,
        **claims,
    )
    return {"Authorization": f"Bearer {token}"}


def database_url(cfg: StackConfig, service: str) -> str:
    """The admin's libpq URL of a service's database (the checks read the tables directly)."""
    url = make_url(postgres.managed_admin_url(cfg)).set(database=postgres.service_role(service))
    return url.render_as_string(hide_password=False)


# --- load --------------------------------------------------------------------------------------


@dataclass
class Submission:
    marker: str
    partner: str
    acked_at: float | None = None
    request_id: str | None = None
    visible_at: float | None = None
    outcome: int | str | None = None


@dataclass
class Load:
    """Submissions at a fixed rate over both intake instances; every answer counted."""

    cfg: StackConfig
    rate: float
    submissions: list[Submission] = field(default_factory=list)
    answers: Counter[int | str] = field(default_factory=Counter)
    running: bool = True

    def __post_init__(self) -> None:
        self.intakes = [
            cluster.base_url(self.cfg, i) for i in cluster.instances(self.cfg, "intake")
        ]
        self.headers = {
            p: {
                **bearer(self.cfg, "partner", partner_id=p, sub=p),
                "Content-Type": "application/json",
            }
            for p in PARTNERS
        }

    async def run(self, client: httpx.AsyncClient) -> None:
        tasks: set[asyncio.Task[None]] = set()
        start, n = now(), 0
        while self.running:
            await asyncio.sleep(max(0.0, start + n / self.rate - now()))
            sub = Submission(uuid.uuid4().hex, PARTNERS[n % len(PARTNERS)])
            self.submissions.append(sub)
            task = asyncio.create_task(self.submit(client, sub, n % len(self.intakes)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)

    async def submit(self, client: httpx.AsyncClient, sub: Submission, target: int) -> None:
        body = submission_body(TITLE + sub.marker)
        headers = {**self.headers[sub.partner], "Idempotency-Key": sub.marker}
        deadline = now() + SUBMIT_DEADLINE_S
        while now() < deadline:
            try:
                answer = await client.post(
                    f"{self.intakes[target]}/v1/requests", content=body, headers=headers
                )
            except httpx.TransportError as exc:
                self.answers[f"no answer ({type(exc).__name__}), sent again"] += 1
                target = (target + 1) % len(self.intakes)  # the other instance, same key
                await asyncio.sleep(0.2)
                continue
            self.answers[answer.status_code] += 1
            if answer.status_code in (429, 503):
                await asyncio.sleep(0.2)
                continue
            sub.outcome = answer.status_code
            if answer.status_code in (200, 201):
                sub.acked_at = now()
                sub.request_id = answer.json()["request"]["id"]
            return
        sub.outcome = "gave up"

    def acked(self) -> list[Submission]:
        return [s for s in self.submissions if s.request_id is not None]


async def watch_visibility(cfg: StackConfig, load: Load, stop: asyncio.Event) -> None:
    """When each acknowledged request appears in reporting's table (polled)."""
    conn = await asyncpg.connect(database_url(cfg, "reporting"))
    try:
        while not stop.is_set():
            pending = {s.request_id: s for s in load.acked() if s.visible_at is None}
            if pending:
                rows = await conn.fetch(
                    "SELECT request_id::text AS id FROM projection.requests"
                    " WHERE request_id = ANY($1::uuid[])",
                    list(pending),
                )
                seen = now()
                for row in rows:
                    pending[row["id"]].visible_at = seen
            await asyncio.sleep(POLL_S)
    finally:
        await conn.close()


# --- what the cluster says ---------------------------------------------------------------------


async def partition_leaders(cfg: StackConfig) -> dict[str, int]:
    """`topic/partition` -> leader node id (-1 when none), for the project's topics and the
    consumer groups' offsets topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        described = await admin.describe_topics([*topics.all_topics(), "__consumer_offsets"])
    finally:
        await admin.close()
    return {
        f"{t['topic']}/{p['partition']}": p["leader"] for t in described for p in t["partitions"]
    }


async def under_replicated(cfg: StackConfig) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        described = await admin.describe_topics([*topics.all_topics(), "__consumer_offsets"])
    finally:
        await admin.close()
    return sum(len(p["isr"]) < len(cfg.kafka_hosts) for t in described for p in t["partitions"])


async def readiness(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        answer = await client.get(f"{url}/readyz", timeout=2)
        return dict(answer.json().get("checks", {}), status=answer.status_code)
    except (httpx.HTTPError, ValueError):
        return {"status": 0}


async def consumer_state(client: httpx.AsyncClient, cfg: StackConfig, url: str) -> dict[str, Any]:
    try:
        answer = await client.get(
            f"{url}/v1/admin/consumer", headers=bearer(cfg, "operator"), timeout=3
        )
        return dict(answer.json()) if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


async def relay_holder(
    client: httpx.AsyncClient, cfg: StackConfig, service: str
) -> cluster.Instance:
    for _ in range(int(FAILOVER_TIMEOUT_S / POLL_S)):
        for instance in cluster.instances(cfg, service):
            checks = await readiness(client, cluster.base_url(cfg, instance))
            if checks.get("outbox_relay") == "active":
                return instance
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"no instance of {service} holds the outbox relay")


async def time_until(check: Callable[[], Awaitable[bool]], since: float) -> float | None:
    """Seconds from `since` until `check()` first holds (None: not within the timeout)."""
    while now() - since < FAILOVER_TIMEOUT_S:
        try:
            if await check():
                return round(now() - since, 2)
        except Exception:  # a broker or an instance away: ask again
            pass
        await asyncio.sleep(POLL_S)
    return None


async def all_partitions(client: httpx.AsyncClient, cfg: StackConfig, service: str) -> int:
    """How many partitions the service's consumer group reads (both instances together)."""
    owned: set[str] = set()
    for instance in cluster.instances(cfg, service):
        owned |= set(
            (await consumer_state(client, cfg, cluster.base_url(cfg, instance))).get("lag", {})
        )
    return len(owned)


async def survivor_takes_over(
    client: httpx.AsyncClient,
    cfg: StackConfig,
    survivor: cluster.Instance,
    partitions: int,
    t0: float,
) -> dict[str, float | None]:
    """Seconds until the survivor's relay is active and its consumer has every partition."""
    url = cluster.base_url(cfg, survivor)

    async def relay() -> bool:
        return (await readiness(client, url)).get("outbox_relay") == "active"

    async def owns_all() -> bool:
        return len((await consumer_state(client, cfg, url)).get("lag", {})) == partitions

    relay_s, partitions_s = await asyncio.gather(time_until(relay, t0), time_until(owns_all, t0))
    return {"relay_moved_s": relay_s, "partitions_moved_s": partitions_s}


async def drained(client: httpx.AsyncClient, cfg: StackConfig, load: Load) -> bool:
    # Every instance that runs (the killed ones are restarted only after the figures) has
    # caught up, and each service has one that runs.
    running: set[str] = set()
    for instance in cluster.instances(cfg):
        state = await consumer_state(client, cfg, cluster.base_url(cfg, instance))
        if not state:
            continue
        if state.get("total_lag") != 0:
            return False
        running.add(instance.service)
    if running != set(topics.SERVICES):
        return False
    for service in topics.WRITERS:
        conn = await asyncpg.connect(database_url(cfg, service))
        try:
            if await conn.fetchval("SELECT count(*) FROM outbox"):
                return False
        finally:
            await conn.close()
    return all(s.visible_at is not None for s in load.acked())


# --- the verdict -------------------------------------------------------------------------------


async def verdict(cfg: StackConfig, load: Load) -> dict[str, Any]:
    acked = load.acked()
    intake = await asyncpg.connect(database_url(cfg, "intake"))
    try:
        stored = {
            r["title"][len(TITLE) :]: r["n"]
            for r in await intake.fetch(
                "SELECT title, count(*) AS n FROM projection.requests"
                " WHERE title LIKE $1 GROUP BY title",
                TITLE + "%",
            )
        }
    finally:
        await intake.close()
    reporting = await asyncpg.connect(database_url(cfg, "reporting"))
    try:
        logged = {
            (r["id"], r["event_type"]): r["n"]
            for r in await reporting.fetch(
                "SELECT request_id::text AS id, event_type, count(*) AS n FROM projection.event_log"
                " WHERE request_id = ANY($1::uuid[]) GROUP BY 1, 2",
                [s.request_id for s in acked],
            )
        }
    finally:
        await reporting.close()
    mine = {s.marker for s in load.submissions}
    lost = [s.request_id for s in acked if stored.get(s.marker, 0) == 0 or s.visible_at is None]
    twice = [m for m, n in stored.items() if m in mine and n > 1]
    twice += [f"{rid} {etype}" for (rid, etype), n in logged.items() if n > 1]
    no_case = [s.request_id for s in acked if (s.request_id, "RequestTriaged") not in logged]
    delays = [s.visible_at - s.acked_at for s in acked if s.visible_at and s.acked_at]
    return {
        "acknowledged": len(acked),
        "lost": len(lost),
        "applied_twice": len(twice),
        "no_case_opened": len(no_case),
        "http_500": load.answers[500],
        "answers": {str(k): v for k, v in sorted(load.answers.items(), key=str)},
        "not_acknowledged": Counter(str(s.outcome) for s in load.submissions if not s.request_id),
        "e2e_p50_s": round(statistics.median(delays), 3) if delays else None,
        "e2e_max_s": round(max(delays), 3) if delays else None,
        "examples": {"lost": lost[:5], "twice": twice[:5], "no_case": no_case[:5]},
    }


# --- the faults --------------------------------------------------------------------------------


Fault = Callable[[httpx.AsyncClient, float], Awaitable[dict[str, Any]]]


def kill(pid: int | None) -> None:
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


async def broker_fault(
    client: httpx.AsyncClient, cfg: StackConfig
) -> tuple[Fault, Callable[[], Awaitable[dict[str, Any]]]]:
    leaders = Counter((await partition_leaders(cfg)).values())
    victim = next(b for b in cluster.brokers(cfg) if b.node_id == leaders.most_common(1)[0][0])

    async def fault(client: httpx.AsyncClient, t0: float) -> dict[str, Any]:
        kill(cluster.broker_process(cfg, victim).pid())

        async def moved() -> bool:
            found = await partition_leaders(cfg)
            return bool(found) and all(v not in (victim.node_id, -1) for v in found.values())

        return {"killed": victim.name, "leaders_moved_s": await time_until(moved, t0)}

    async def recover() -> dict[str, Any]:
        t0 = now()
        pid = cluster.start_broker(cfg, victim)
        if pid is not None:
            await asyncio.to_thread(cluster.wait_broker, cfg, victim, pid)

        async def in_sync() -> bool:
            return await under_replicated(cfg) == 0

        return {"back_in_sync_s": await time_until(in_sync, t0)}

    return fault, recover


async def instance_fault(
    client: httpx.AsyncClient, cfg: StackConfig
) -> tuple[Fault, Callable[[], Awaitable[dict[str, Any]]]]:
    holders = {s: await relay_holder(client, cfg, s) for s in topics.SERVICES}
    partitions = {s: await all_partitions(client, cfg, s) for s in topics.SERVICES}

    async def fault(client: httpx.AsyncClient, t0: float) -> dict[str, Any]:
        for instance in holders.values():
            kill(cluster.instance_process(cfg, instance).pid())
        moved = await asyncio.gather(
            *(
                survivor_takes_over(client, cfg, survivor(cfg, holders[s]), partitions[s], t0)
                for s in topics.SERVICES
            )
        )
        return {
            "killed": [i.name for i in holders.values()],
            **dict(zip(topics.SERVICES, moved, strict=True)),
        }

    async def recover() -> dict[str, Any]:
        return await restart_instances(cfg, list(holders.values()))

    return fault, recover


def cutoff_fault(
    seconds: float,
) -> Callable[
    [httpx.AsyncClient, StackConfig],
    Awaitable[tuple[Fault, Callable[[], Awaitable[dict[str, Any]]]]],
]:
    async def prepare(
        client: httpx.AsyncClient, cfg: StackConfig
    ) -> tuple[Fault, Callable[[], Awaitable[dict[str, Any]]]]:
        victim = await relay_holder(client, cfg, "intake")
        partitions = await all_partitions(client, cfg, "intake")

        async def fault(client: httpx.AsyncClient, t0: float) -> dict[str, Any]:
            netns.cut_off(victim.node, list(cfg.kafka_hosts))
            moved = await survivor_takes_over(client, cfg, survivor(cfg, victim), partitions, t0)
            await asyncio.sleep(max(0.0, seconds - (now() - t0)))
            netns.heal(victim.node)
            healed = now()

            async def ready() -> bool:
                checks = await readiness(client, cluster.base_url(cfg, victim))
                return bool(checks["status"] == 200)

            return {
                "cut_off": victim.name,
                "seconds": seconds,
                **moved,
                "ready_after_heal_s": await time_until(ready, healed),
            }

        async def recover() -> dict[str, Any]:
            netns.heal(victim.node)
            return {}

        return fault, recover

    return prepare


def survivor(cfg: StackConfig, victim: cluster.Instance) -> cluster.Instance:
    return next(i for i in cluster.instances(cfg, victim.service) if i != victim)


async def restart_instances(cfg: StackConfig, dead: list[cluster.Instance]) -> dict[str, Any]:
    t0 = now()
    target = postgres.PostgresTarget(postgres.managed_admin_url(cfg), managed=True)
    for instance in dead:
        cluster.start_instance(cfg, instance, target)
    for instance in dead:
        await asyncio.to_thread(cluster.wait_instance, cfg, instance)
    return {"restarted_ready_s": round(now() - t0, 2)}


# --- one run -----------------------------------------------------------------------------------


async def run_scenario(
    cfg: StackConfig,
    name: str,
    prepare: Callable[
        [httpx.AsyncClient, StackConfig],
        Awaitable[tuple[Fault, Callable[[], Awaitable[dict[str, Any]]]]],
    ],
    *,
    rate: float,
    before: float,
    after: float,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        await healthy(cfg)
        fault, recover = await prepare(client, cfg)
        load = Load(cfg, rate)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_visibility(cfg, load, stop))
        loading = asyncio.create_task(load.run(client))
        await asyncio.sleep(before)
        t0 = now()
        figures = await fault(client, t0)
        await asyncio.sleep(max(0.0, after - (now() - t0)))
        load.running = False
        await loading
        ended = now()
        drained_s = await time_until(lambda: drained(client, cfg, load), ended)
        stop.set()
        await watcher
        result = {"scenario": name, **figures, "drained_s": drained_s, **await verdict(cfg, load)}
        result.update(await recover())
        return result


async def healthy(cfg: StackConfig) -> None:
    """Every node running (what an earlier fault left dead is started again, as `jiph up`
    would) and every partition fully replicated, before a fault is injected."""
    await asyncio.to_thread(cluster.up, cfg, say=lambda _: None)

    async def in_sync() -> bool:
        return await under_replicated(cfg) == 0

    if await time_until(in_sync, now()) is None:
        raise RuntimeError("the cluster's partitions are not all in sync; no fault injected")


def passed(result: dict[str, Any]) -> bool:
    zero = ("lost", "applied_twice", "no_case_opened", "http_500")
    return all(result[k] == 0 for k in zero) and result["drained_s"] is not None


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'scenario':<9} {'acked':>6} {'lost':>5} {'twice':>5} {'500s':>5} {'resent':>6}"
        f" {'e2e p50':>8} {'e2e max':>8} {'drained':>8}  failover"
    ]
    for r in results:
        resent = sum(v for k, v in r["answers"].items() if k.startswith("no answer"))
        lines.append(
            f"{r['scenario']:<9} {r['acknowledged']:>6} {r['lost']:>5} {r['applied_twice']:>5}"
            f" {r['http_500']:>5} {resent:>6} {r['e2e_p50_s']!s:>7}s {r['e2e_max_s']!s:>7}s"
            f" {r['drained_s']!s:>7}s  {failover_summary(r)}"
        )
    return "\n".join(lines)


def failover_summary(r: dict[str, Any]) -> str:
    if "leaders_moved_s" in r:
        return f"{r['killed']}: leaders moved in {r['leaders_moved_s']}s"
    parts = []
    for service in topics.SERVICES:
        moved = r.get(service) or (r if r.get("cut_off", "").startswith(service) else None)
        if moved:
            relay, moved_partitions = moved["relay_moved_s"], moved["partitions_moved_s"]
            parts.append(f"{service}: relay {relay}s, partitions {moved_partitions}s")
    return "; ".join(parts)


SCENARIOS = ("broker", "instance", "cutoff")


async def main_async(args: argparse.Namespace) -> int:
    cfg = stack_config("cluster")
    seed.register_partners(
        cfg,
        [seed.partner(p) for p in PARTNERS],
        host=cluster.instances(cfg, "intake")[0].address,
    )
    prepares = {
        "broker": broker_fault,
        "instance": instance_fault,
        "cutoff": cutoff_fault(args.cutoff),
    }
    results = []
    for name in args.scenarios.split(","):
        print(f"== {name}", flush=True)
        result = await run_scenario(
            cfg, name, prepares[name], rate=args.rate, before=args.before, after=args.after
        )
        print(json.dumps(result, default=str), flush=True)
        results.append(result)
    print(table(results))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"rate": args.rate, "results": results}, indent=2, default=str)
    )
    ok = all(passed(r) for r in results)
    print("PASS" if ok else "FAIL: acknowledged writes lost, applied twice, 500s or no drain")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="submissions per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds of load before")
    parser.add_argument("--after", type=float, default=45.0, help="seconds of load after")
    parser.add_argument("--cutoff", type=float, default=30.0, help="seconds cut off")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", default=str(REPO_ROOT / "test-artifacts" / "cluster-faults.json"))
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
