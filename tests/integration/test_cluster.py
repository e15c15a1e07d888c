"""The cluster stack (three brokers, two instances of each service, each in a network namespace
of its own) under a short fault: one broker SIGKILLed under light load. The full proof (a broker,
one instance of each service, a 30 s cut-off) is `make cluster-faults` (bench/cluster_faults.py),
minutes long; this is its short version, which the suite can afford.

(SIGKILL is not power loss: the page cache survives, and the cluster's PostgreSQL runs without
fsync. What is proved is replication across brokers: min.insync.replicas=2 with acks=all.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cluster_faults
from jiph.stack import cluster, netns, seed
from jiph.stack.config import stack_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]
CLUSTER = stack_config("cluster")
ROOT = Path(__file__).resolve().parents[2]


def jiph(*args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "jiph.cli", "--stack", "cluster", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def log_tails(lines: int = 8) -> str:
    out = []
    for log in sorted(CLUSTER.log_dir.glob("**/*.log")):
        out.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:]))
    return "\n".join(out)


@pytest.fixture(scope="module")
def running_cluster() -> Iterator[None]:
    assert jiph("reset", "--yes").returncode == 0
    up = jiph("up")
    assert up.returncode == 0, up.stdout + up.stderr + log_tails()
    intake = cluster.instances(CLUSTER, "intake")[0]
    seed.register_partners(
        CLUSTER, [seed.partner(p) for p in cluster_faults.PARTNERS], host=intake.address
    )
    yield
    down = jiph("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not {n.netns for n in cluster.nodes(CLUSTER)} & netns.namespaces()


def test_status_lists_three_brokers_and_two_ready_instances_of_each_service(
    running_cluster: None,
) -> None:
    status = jiph("status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert sum(line.startswith("kafka-") and " up " in line for line in lines) == 3, status.stdout
    for service in ("intake", "triage", "deployment", "reporting"):
        up = [line for line in lines if line.startswith(f"{service}-") and " up " in line]
        assert len(up) == 2, status.stdout


async def test_a_sigkilled_broker_under_load_loses_no_acknowledged_write(
    running_cluster: None,
) -> None:
    result = await cluster_faults.run_scenario(
        CLUSTER, "broker", cluster_faults.broker_fault, rate=8, before=4, after=12
    )
    summary = cluster_faults.table([result])
    assert result["acknowledged"] > 50, summary
    assert result["lost"] == 0, result
    assert result["applied_twice"] == 0, result
    assert result["no_case_opened"] == 0, result
    assert result["http_500"] == 0, result
    assert result["leaders_moved_s"] is not None, result  # measured, reported, not asserted
    assert result["drained_s"] is not None, result
    assert result["back_in_sync_s"] is not None, result
