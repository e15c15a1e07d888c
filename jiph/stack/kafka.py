"""Apache Kafka 4.x (KRaft, one broker+controller) fetched from Maven Central, run with java.

The Apache download site is not reachable here, so `deploy/kafka/pom.xml` names `kafka_2.13` and
its runtime dependencies and Maven copies the jars into a cache folder outside the source tree,
once. Storage is formatted once per state folder; the broker then starts in a few seconds.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from string import Template

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jiph.stack.config import KAFKA_VERSION, REPO_ROOT, StackConfig, cache_dir
from jiph.stack.processes import ManagedProcess, StackError, port_open, tail, wait_until
from jiph.stack.system import ensure_command
from shared import topics

KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
HEAP = ("-Xms256m", "-Xmx768m")
JVM_FLAGS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]
FETCH_TIMEOUT_S = 900
READY_TIMEOUT_S = 90


def libs_dir() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"


def fetch_kafka(log_dir: Path) -> Path:
    """The folder of Kafka's jars, fetched by Maven when missing (atomically: no half folders)."""
    target = libs_dir()
    if (target / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return target
    ensure_command("java", "openjdk-17-jre-headless")
    ensure_command("mvn", "maven")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "kafka-fetch.log"
    partial = target.with_name(f"libs.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    argv = [
        "mvn",
        "-B",
        "-f",
        str(KAFKA_DEPLOY_DIR / "pom.xml"),
        f"-Dkafka.version={KAFKA_VERSION}",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial}",
    ]
    try:
        with log_file.open("w") as log:
            done = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=FETCH_TIMEOUT_S, check=False
            )
    except subprocess.TimeoutExpired as exc:
        raise StackError("fetching Kafka from Maven Central timed out", log_file) from exc
    if done.returncode != 0:
        raise StackError("could not fetch Kafka from Maven Central (unreachable?)", log_file)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def render_properties(template_name: str, target: Path, **values: object) -> Path:
    """A broker's server.properties from a template of deploy/kafka/, into its state folder."""
    template = Template((KAFKA_DEPLOY_DIR / template_name).read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template.substitute(values))
    return target


def _render_config(cfg: StackConfig) -> Path:
    return render_properties(
        "server.properties",
        cfg.state_dir / "kafka" / "server.properties",
        broker_port=cfg.kafka_port,
        controller_port=cfg.controller_port,
        data_dir=cfg.kafka_data_dir,
    )


def java_argv(
    libs: Path, log_dir: Path, main: str, *args: str, heap: tuple[str, ...] = HEAP
) -> list[str]:
    return [
        "java",
        *heap,
        *JVM_FLAGS,
        f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={log_dir}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka's own `Uuid.randomUuid()` makes it: 22 URL-safe base64
    characters that never start with '-', which the storage tool would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(
    libs: Path, data_dir: Path, properties: Path, log_dir: Path, cluster_id: str, *options: str
) -> None:
    """Format a node's log folder once (`options`: `--standalone` for a single node; none for
    a node of a static quorum, `controller.quorum.voters`)."""
    if (data_dir / "meta.properties").exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "kafka-format.log"
    argv = java_argv(
        libs,
        log_dir,
        "kafka.tools.StorageTool",
        "format",
        *options,
        "-t",
        cluster_id,
        "-c",
        str(properties),
        "--ignore-formatted",
    )
    with log_file.open("w") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        last = tail(log_file, 3).replace("\n", " | ")[-300:]
        raise StackError(f"formatting Kafka's storage failed: {last}", log_file)


def _format_storage(libs: Path, cfg: StackConfig, properties: Path) -> None:
    format_storage(
        libs, cfg.kafka_data_dir, properties, cfg.log_dir, new_cluster_id(), "--standalone"
    )


def kafka_process(cfg: StackConfig) -> ManagedProcess:
    return ManagedProcess("kafka", cfg.run_dir, cfg.log_dir, marker=str(cfg.state_dir / "kafka"))


async def _metadata_answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def kafka_ready(bootstrap: str) -> bool:
    """Ready means a metadata request answers, not merely that the port accepts connections."""
    return asyncio.run(_metadata_answers(bootstrap))


def start_kafka(cfg: StackConfig) -> bool:
    """Start the stack's broker unless it already runs. True if this call started it."""
    proc = kafka_process(cfg)
    if proc.pid() is not None:
        return False
    for port in (cfg.kafka_port, cfg.controller_port):
        if port_open(port):
            raise StackError(f"port {port} is already taken by another program; Kafka cannot start")
    cfg.log_dir.mkdir(parents=True, exist_ok=True)
    libs = fetch_kafka(cfg.log_dir)
    properties = _render_config(cfg)
    _format_storage(libs, cfg, properties)
    argv = java_argv(libs, cfg.log_dir, "kafka.Kafka", str(properties))
    pid = proc.start(argv, os.environ, REPO_ROOT)
    wait_broker(proc, pid, "127.0.0.1", cfg.kafka_port, cfg.log_dir / "kafka-server.log")
    return True


def wait_broker(proc: ManagedProcess, pid: int, host: str, port: int, server_log: Path) -> None:
    """Until the broker `pid` answers a metadata request; else stop it and raise StackError."""

    def fail(cause: str) -> StackError:
        proc.stop(pid=pid)
        last = (tail(proc.log_file, 2) or tail(server_log, 2)).replace("\n", " | ")[-300:]
        return StackError(f"{cause}{': ' + last if last else ''}", server_log)

    if not wait_until(lambda: not proc.alive(pid) or port_open(port, host), READY_TIMEOUT_S):
        raise fail("Kafka did not open its port in time")
    if not proc.alive(pid):
        raise fail("Kafka exited during start")
    if not wait_until(lambda: kafka_ready(f"{host}:{port}"), READY_TIMEOUT_S, interval=1):
        raise fail("Kafka never answered a metadata request")


async def create_topics(
    bootstrap: str, names: list[str] | None = None, replication: int = 1
) -> list[str]:
    """Create the project's topics explicitly (auto-creation is off). Returns the ones created."""
    wanted = names or topics.all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        topics.PARTITIONS,
                        replication,
                        topic_configs=dict(topics.TOPIC_CONFIG),
                    )
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()
