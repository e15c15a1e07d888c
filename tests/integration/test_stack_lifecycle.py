"""`jiph up | status | down` on a stack of its own (the `scratch` ports), as an operator runs them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jiph.stack import kafka, services
from jiph.stack.config import stack_config

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRATCH = stack_config("scratch")


def jiph(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "JIPH_STACK")
    }
    # Without the identity provider: its start (half a minute) and stop are exercised by the
    # test stack at every run (tests/e2e/test_identity.py); here they would only add minutes.
    env["JIPH_IDENTITY"] = "off"
    return subprocess.run(
        [sys.executable, "-m", "jiph.cli", "--stack", "scratch", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stack_pids() -> list[int | None]:
    return [kafka.kafka_process(SCRATCH).pid()] + [
        services.service_process(SCRATCH, name).pid() for name in SCRATCH.service_ports
    ]


def log_tails(lines: int = 12) -> str:
    """The end of each scratch service's log and of its PostgreSQL log, so a failure here
    explains itself in CI output."""
    out = []
    logs = [SCRATCH.log_dir / f"{name}.log" for name in SCRATCH.service_ports]
    for log in [*logs, *Path("/var/log/postgresql").glob(f"*-{SCRATCH.pg_cluster}.log")]:
        if log.exists():
            out.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:]))
    return "\n".join(out)


@pytest.fixture(scope="module")
def scratch_down() -> object:
    # From nothing, as on a fresh machine: no Kafka data, no PostgreSQL cluster, no state folder.
    assert jiph("reset", "--yes").returncode == 0
    yield
    if SCRATCH.log_dir.exists():  # keep what happened for the test run's artifacts
        shutil.copytree(
            SCRATCH.log_dir, ROOT / "test-artifacts" / "scratch-logs", dirs_exist_ok=True
        )
    kept = ROOT / "test-artifacts" / "scratch-logs"
    for pg_log in Path("/var/log/postgresql").glob(f"*-{SCRATCH.pg_cluster}.log"):
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy(pg_log, kept / pg_log.name)
    jiph("reset", "--yes")


def test_up_twice_is_harmless_status_reports_and_down_leaves_nothing(scratch_down: object) -> None:
    first = jiph("up")
    assert first.returncode == 0, first.stdout + first.stderr + log_tails()
    pids = stack_pids()
    assert all(pids), first.stdout
    for port in SCRATCH.service_ports.values():
        assert f"http://127.0.0.1:{port}/docs" in first.stdout

    second = jiph("up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert stack_pids() == pids  # nothing started twice

    status = jiph("status")
    assert status.returncode == 0, status.stdout + log_tails()
    for name in ("kafka", "postgres", *SCRATCH.service_ports):
        assert any(line.startswith(name) and " up " in line for line in status.stdout.splitlines())

    down = jiph("down")
    assert down.returncode == 0
    assert stack_pids() == [None] * 5
    for pid in pids:
        assert (pid is not None and not Path(f"/proc/{pid}").exists()) or _zombie(pid)
    after = jiph("status")
    assert after.returncode != 0
    assert "DOWN" in after.stdout


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except OSError:
        return True


def test_stale_pid_files_after_a_crash_do_not_confuse_up_or_down(scratch_down: object) -> None:
    assert jiph("down").returncode == 0  # real pid files are not to be clobbered below
    SCRATCH.run_dir.mkdir(parents=True, exist_ok=True)
    # A pid that is certainly not ours (pid 1) and garbage: both are stale files.
    (SCRATCH.run_dir / "kafka.pid").write_text("1\n")
    (SCRATCH.run_dir / "intake.pid").write_text("not a pid\n")
    assert jiph("down").returncode == 0
    assert not (SCRATCH.run_dir / "kafka.pid").exists()
    status = jiph("status")
    assert status.returncode != 0


def test_up_fails_fast_with_a_cause_when_a_port_is_taken(scratch_down: object) -> None:
    jiph("down")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", SCRATCH.kafka_port))
        squatter.listen()
        result = jiph("up", timeout=120)
    assert result.returncode != 0
    assert f"port {SCRATCH.kafka_port} is already taken" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stack_pids() == [None] * 5  # nothing half-started is left behind
