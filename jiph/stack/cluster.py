"""The cluster stack (`jiph --stack cluster up|down|status|reset`): three Kafka brokers in KRaft
mode and two instances of each service, every one a host of its own (a network namespace on the
bridge `jiphbr0`, jiph/stack/netns.py), and PostgreSQL in the root namespace on the bridge's
address. It exists to prove what survives a dead broker, a dead service instance or a cut link
(bench/cluster_faults.py, tests/integration/test_cluster.py).

    10.77.0.1       the root namespace: PostgreSQL, the tests, the load generator
    10.77.0.11-13   kafka-1..3: combined broker + controller, a static quorum of all three
    10.77.0.21-28   intake-1, intake-2, triage-1, triage-2, deployment-1, ..., reporting-2

Topics are replicated three times with `min.insync.replicas=2`, and the services' producers use
`acks=all`: an acknowledged record is on two brokers at least. The instances of a service share
its database, its consumer group and its outbox relay's advisory lock (one relay active).
No identity provider runs: the services accept the stack's development key only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_network

from aiokafka.admin import AIOKafkaAdminClient

from jiph.stack import kafka, netns, postgres, seed, services
from jiph.stack.config import REPO_ROOT, SERVICE_NAMES, StackConfig
from jiph.stack.lifecycle import Component, check_disk, exclusive
from jiph.stack.processes import ManagedProcess, StackError, wait_until

BRIDGE = "jiphbr0"
INSTANCES_PER_SERVICE = 2
#: The first service instance's host number on the bridge's network (.21, .22, ...).
FIRST_SERVICE_HOST = 21
BROKER_HEAP = ("-Xms128m", "-Xmx384m")
CLUSTER_READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class Broker:
    node_id: int
    node: netns.Node

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class Instance:
    """One process of a service, on a host of its own."""

    service: str
    node: netns.Node

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def address(self) -> str:
        return self.node.address


def gateway(cfg: StackConfig) -> str:
    """The root namespace's address on the bridge (where PostgreSQL listens)."""
    return cfg.pg_host


def _network(cfg: StackConfig) -> str:
    if cfg.client_network is None:
        raise StackError(f"stack {cfg.name} has no network of its own")
    return cfg.client_network


def brokers(cfg: StackConfig) -> list[Broker]:
    return [Broker(n, netns.Node(f"kafka-{n}", host)) for n, host in enumerate(cfg.kafka_hosts, 1)]


def instances(cfg: StackConfig, service: str | None = None) -> list[Instance]:
    hosts = list(ip_network(_network(cfg)).hosts())
    found = []
    for s, name in enumerate(SERVICE_NAMES):
        for n in range(1, INSTANCES_PER_SERVICE + 1):
            host = hosts[FIRST_SERVICE_HOST - 1 + s * INSTANCES_PER_SERVICE + n - 1]
            found.append(Instance(name, netns.Node(f"{name}-{n}", str(host))))
    return [i for i in found if service in (None, i.service)]


def nodes(cfg: StackConfig) -> list[netns.Node]:
    return [b.node for b in brokers(cfg)] + [i.node for i in instances(cfg)]


def base_url(cfg: StackConfig, instance: Instance) -> str:
    return f"http://{instance.address}:{cfg.service_ports[instance.service]}"


# --- processes ----------------------------------------------------------------------------


def broker_process(cfg: StackConfig, broker: Broker) -> ManagedProcess:
    return ManagedProcess(
        broker.name, cfg.run_dir, cfg.log_dir, marker=str(cfg.state_dir / broker.name)
    )


def instance_process(cfg: StackConfig, instance: Instance) -> ManagedProcess:
    # The address in the marker tells the two instances' processes apart.
    marker = f"services.{instance.service}.main:create_app --host {instance.address}"
    return ManagedProcess(instance.name, cfg.run_dir, cfg.log_dir, marker=marker)


def _cluster_id(cfg: StackConfig) -> str:
    """One id for the three nodes' storage, kept so that a node formatted later joins them."""
    path = cfg.state_dir / "kafka-cluster-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kafka.new_cluster_id())
    return path.read_text().strip()


def _broker_argv(cfg: StackConfig, broker: Broker) -> list[str]:
    libs = kafka.fetch_kafka(cfg.log_dir)
    home = cfg.state_dir / broker.name
    voters = ",".join(f"{b.node_id}@{b.node.address}:{cfg.controller_port}" for b in brokers(cfg))
    properties = kafka.render_properties(
        "cluster.properties",
        home / "server.properties",
        node_id=broker.node_id,
        address=broker.node.address,
        broker_port=cfg.kafka_port,
        controller_port=cfg.controller_port,
        voters=voters,
        data_dir=home / "data",
    )
    log_dir = cfg.log_dir / broker.name
    kafka.format_storage(libs, home / "data", properties, log_dir, _cluster_id(cfg))
    argv = kafka.java_argv(libs, log_dir, "kafka.Kafka", str(properties), heap=BROKER_HEAP)
    return netns.exec_argv(broker.node, argv)


def start_broker(cfg: StackConfig, broker: Broker) -> int | None:
    """Start the broker unless it runs; its pid if this call started it. Returns at once: a
    node of a static quorum cannot answer before a majority of the quorum runs."""
    proc = broker_process(cfg, broker)
    if proc.pid() is not None:
        return None
    return proc.start(_broker_argv(cfg, broker), os.environ, REPO_ROOT)


def wait_broker(cfg: StackConfig, broker: Broker, pid: int) -> None:
    server_log = cfg.log_dir / broker.name / "kafka-server.log"
    proc = broker_process(cfg, broker)
    kafka.wait_broker(proc, pid, broker.node.address, cfg.kafka_port, server_log)


async def _broker_count(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        return len((await admin.describe_cluster())["brokers"])
    except Exception:
        return 0
    finally:
        await admin.close()


def broker_count(cfg: StackConfig) -> int:
    """How many brokers the cluster's metadata lists as alive."""
    return asyncio.run(_broker_count(cfg.kafka_bootstrap))


def start_instance(cfg: StackConfig, instance: Instance, pg: postgres.PostgresTarget) -> bool:
    proc = instance_process(cfg, instance)
    if proc.pid() is not None:
        return False
    argv = services.service_argv(cfg, instance.service, host=instance.address)
    env = services.service_env(cfg, instance.service, pg)
    proc.start(netns.exec_argv(instance.node, argv), env, REPO_ROOT)
    return True


def wait_instance(cfg: StackConfig, instance: Instance) -> None:
    port = cfg.service_ports[instance.service]
    services.wait_ready(instance_process(cfg, instance), instance.name, instance.address, port)


# --- up, down, status ---------------------------------------------------------------------


def up(
    cfg: StackConfig, *, with_services: bool = True, say: Callable[[str], None] = print
) -> postgres.PostgresTarget:
    """Start what is not running (the network first). On failure, stop what this call started
    and raise StackError; the network stays for `down` to remove."""
    with exclusive(cfg):
        return _up(cfg, with_services, say)


def _up(
    cfg: StackConfig, with_services: bool, say: Callable[[str], None]
) -> postgres.PostgresTarget:
    started: list[Callable[[], object]] = []
    try:
        check_disk(cfg)
        _ensure_network(cfg)
        say(f"network     {BRIDGE} {gateway(cfg)}, {len(nodes(cfg))} namespaces")
        target, pg_started = postgres.start_postgres(cfg)
        if pg_started:
            started.append(lambda: postgres.stop_postgres(cfg))
        say(f"postgres    {'started' if pg_started else 'running'} on {target.host}:{target.port}")
        asyncio.run(postgres.provision(target))
        _start_brokers(cfg, started, say)
        created = asyncio.run(kafka.create_topics(cfg.kafka_bootstrap, replication=3))
        if created:
            say(f"topics      created {len(created)}, replicated 3 times, min ISR 2")
        if with_services:
            _start_instances(cfg, target, started, say)
        return target
    except BaseException:
        for stop in reversed(started):
            stop()
        raise


def _ensure_network(cfg: StackConfig) -> None:
    prefix = ip_network(_network(cfg)).prefixlen
    netns.ensure_bridge(BRIDGE, f"{gateway(cfg)}/{prefix}")
    for node in nodes(cfg):
        netns.ensure_node(node, BRIDGE, prefix, gateway(cfg))


def _start_brokers(
    cfg: StackConfig, started: list[Callable[[], object]], say: Callable[[str], None]
) -> None:
    launched = {}
    for broker in brokers(cfg):
        pid = start_broker(cfg, broker)
        if pid is not None:
            launched[broker.name] = pid
            started.append(broker_process(cfg, broker).stop)
    for broker in brokers(cfg):
        if broker.name in launched:
            wait_broker(cfg, broker, launched[broker.name])
    expected = len(cfg.kafka_hosts)
    if not wait_until(lambda: broker_count(cfg) == expected, CLUSTER_READY_TIMEOUT_S, 1):
        raise StackError(f"the brokers never all joined: {broker_count(cfg)} of {expected}")
    say(f"kafka       {expected} brokers on {cfg.kafka_bootstrap} ({len(launched)} started)")


def _start_instances(
    cfg: StackConfig,
    target: postgres.PostgresTarget,
    started: list[Callable[[], object]],
    say: Callable[[str], None],
) -> None:
    launched = []
    for instance in instances(cfg):
        if start_instance(cfg, instance, target):
            started.append(instance_process(cfg, instance).stop)
            launched.append(instance.name)
    for instance in instances(cfg):
        wait_instance(cfg, instance)
        verb = "started" if instance.name in launched else "running"
        say(f"{instance.name:<13} {verb}: {base_url(cfg, instance)}/docs")
    first_intake = instances(cfg, "intake")[0]
    added = seed.seed_partners(cfg, host=first_intake.address)
    if added:
        say(f"partners      {added} registered")


def down(cfg: StackConfig, say: Callable[[str], None] = print) -> None:
    """Stop everything and remove the network; harmless when nothing runs or exists."""
    with exclusive(cfg):
        _down(cfg, say)


def _down(cfg: StackConfig, say: Callable[[str], None]) -> None:
    for instance in reversed(instances(cfg)):
        if instance_process(cfg, instance).stop():
            say(f"{instance.name:<13} stopped")
    for broker in brokers(cfg):
        if broker_process(cfg, broker).stop(timeout=30):
            say(f"{broker.name:<13} stopped")
    # Before the bridge goes: PostgreSQL listens on its address.
    if postgres.stop_postgres(cfg):
        say("postgres      stopped")
    removed = sum(netns.delete_node(node) for node in nodes(cfg))
    if netns.delete_bridge(BRIDGE) or removed:
        say(f"network       {BRIDGE} and {removed} namespaces removed")


def reset(cfg: StackConfig, say: Callable[[str], None] = print) -> None:
    with exclusive(cfg):
        _down(cfg, say)
        if postgres.drop_cluster(cfg):
            say(f"postgres      cluster {cfg.pg_cluster} dropped")
        if cfg.state_dir.exists():
            shutil.rmtree(cfg.state_dir)
            say(f"state         {cfg.state_dir} removed")


def status(cfg: StackConfig) -> list[Component]:
    present = netns.namespaces()
    missing = [n.netns for n in nodes(cfg) if n.netns not in present]
    detail = f"missing {', '.join(missing)}" if missing else BRIDGE
    rows = [Component("network", None, None, not missing, detail)]
    alive = broker_count(cfg) if not missing else 0
    for broker in brokers(cfg):
        proc = broker_process(cfg, broker)
        pid = proc.pid()
        ok = pid is not None and kafka.kafka_ready(f"{broker.node.address}:{cfg.kafka_port}")
        detail = f"{broker.node.address}; cluster lists {alive} brokers"
        rows.append(Component(broker.name, pid, cfg.kafka_port, ok, detail))
    state = postgres.cluster_status(cfg)
    ok = state == "online" and postgres.answers(postgres.managed_admin_url(cfg))
    rows.append(Component("postgres", None, cfg.pg_port, ok, f"cluster {cfg.pg_cluster}: {state}"))
    for instance in instances(cfg):
        proc = instance_process(cfg, instance)
        port = cfg.service_ports[instance.service]
        code, body = services.health(port, timeout=10, host=instance.address)
        detail = instance.address
        if code not in (0, 200):
            detail = f"{services.failing_checks(body)}; {detail}"
        rows.append(
            Component(
                instance.name,
                proc.pid(),
                port,
                code == 200,
                detail,
                "unready" if code not in (0, 200) else "",
            )
        )
    return rows
