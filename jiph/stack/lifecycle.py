"""`jiph up`, `jiph down`, `jiph status`: the whole stack, idempotently, with clean failure."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jiph.stack import kafka, keycloak, mailbox, postgres, realm, seed, services
from jiph.stack.config import REPO_ROOT, StackConfig
from jiph.stack.processes import StackError, port_open

MIN_FREE_BYTES = 512 * 1024 * 1024


@dataclass
class Component:
    name: str
    pid: int | None
    port: int | None
    healthy: bool
    detail: str = ""
    state: str = ""  # when neither "up" nor "DOWN" says it: "unready" (answers, not ready)

    @property
    def label(self) -> str:
        return "up" if self.healthy else (self.state or "DOWN")


def check_disk(cfg: StackConfig) -> None:
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cfg.state_dir).free
    if free < MIN_FREE_BYTES:
        raise StackError(f"only {free // 2**20} MiB free under {cfg.state_dir}; need 512 MiB")


@contextlib.contextmanager
def exclusive(cfg: StackConfig) -> Iterator[None]:
    """One `up`/`down`/`reset` at a time per stack: two at once would both start a broker."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with (cfg.state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(
    cfg: StackConfig,
    *,
    with_services: bool = True,
    say: Callable[[str], None] = print,
) -> postgres.PostgresTarget:
    """Start what is not running. On failure, stop what this call started and raise StackError."""
    with exclusive(cfg):
        return _up(cfg, with_services, say)


def _up(
    cfg: StackConfig, with_services: bool, say: Callable[[str], None]
) -> postgres.PostgresTarget:
    started: list[Callable[[], object]] = []
    try:
        check_disk(cfg)
        if cfg.external_kafka and kafka.kafka_ready(cfg.external_kafka):
            say(f"kafka       using {cfg.external_kafka}")
        else:
            if kafka.start_kafka(cfg):
                started.append(lambda: kafka.kafka_process(cfg).stop())
                say(f"kafka       started on {cfg.kafka_bootstrap}")
            else:
                say(f"kafka       already running on {cfg.kafka_bootstrap}")
        created = asyncio.run(kafka.create_topics(cfg.kafka_bootstrap))
        if created:
            say(f"topics      created {', '.join(created)}")
        target, pg_started = postgres.start_postgres(cfg)
        if pg_started:
            started.append(lambda: postgres.stop_postgres(cfg))
        where = "managed" if target.managed else "external"
        verb = "started" if pg_started else "running"
        say(f"postgres    {verb} ({where}) on {target.host}:{target.port}")
        asyncio.run(postgres.provision(target))
        if mailbox.start_mailbox(cfg):
            started.append(lambda: mailbox.mailbox_process(cfg).stop())
            say(f"smtp        receiver started on 127.0.0.1:{cfg.smtp_port} ({cfg.mail_dir})")
        if keycloak.enabled(cfg):
            provision_identity(cfg, target, started, say)
        elif keycloak.external_issuer():
            say(f"identity    using {keycloak.external_issuer()}")
        if with_services:
            _start_services(cfg, target, started, say)
        return target
    except BaseException:
        for stop in reversed(started):
            stop()
        raise


def provision_identity(
    cfg: StackConfig,
    target: postgres.PostgresTarget,
    started: list[Callable[[], object]],
    say: Callable[[str], None],
) -> None:
    """The stack's OpenID Connect provider, running, with the realm as jiph/stack/realm.py
    keeps it (and a client for every seed partner)."""
    asyncio.run(postgres.provision(target, ("keycloak",)))
    if keycloak.start_keycloak(cfg, target):
        started.append(lambda: keycloak.keycloak_process(cfg).stop())
        say(f"identity    started Keycloak on {keycloak.base_url(cfg)}")
    else:
        say(f"identity    Keycloak running on {keycloak.base_url(cfg)}")
    realm.apply_realm(cfg, seed.seed_partner_ids())
    say(f"identity    realm {keycloak.REALM}: issuer {keycloak.issuer(cfg)}")


def _start_services(
    cfg: StackConfig,
    target: postgres.PostgresTarget,
    started: list[Callable[[], object]],
    say: Callable[[str], None],
) -> None:
    launched = []
    for name in services.all_services():
        if services.start_service(cfg, name, target):
            started.append(services.service_process(cfg, name).stop)
            launched.append(name)
    for name in services.all_services():
        # Found running, gone since: it was still exiting (a crash just before `up`).
        gone = name not in launched and services.service_process(cfg, name).pid() is None
        if gone and services.start_service(cfg, name, target):
            started.append(services.service_process(cfg, name).stop)
            launched.append(name)
        services.wait_service_ready(cfg, name)
        port = cfg.service_ports[name]
        verb = "started" if name in launched else "running"
        say(f"{name:<11} {verb}: http://127.0.0.1:{port}/docs")
    added = seed.seed_partners(cfg)
    if added:
        say(f"partners    {added} registered from {seed.PARTNERS_FILE.relative_to(REPO_ROOT)}")


def down(cfg: StackConfig, say: Callable[[str], None] = print) -> None:
    """Stop everything the stack runs, services first; harmless when nothing runs."""
    with exclusive(cfg):
        _down(cfg, say)


def _down(cfg: StackConfig, say: Callable[[str], None]) -> None:
    for name in reversed(services.all_services()):
        if services.service_process(cfg, name).stop():
            say(f"{name:<11} stopped")
    if keycloak.keycloak_process(cfg).stop(timeout=30):
        say("identity    Keycloak stopped")
    if mailbox.mailbox_process(cfg).stop():
        say("smtp        receiver stopped")
    if kafka.kafka_process(cfg).stop(timeout=30):
        say("kafka       stopped")
    if not cfg.external_database_url and postgres.stop_postgres(cfg):
        say("postgres    stopped")


def reset(cfg: StackConfig, say: Callable[[str], None] = print) -> None:
    """Stop the stack and delete its data: Kafka's folder, the managed PostgreSQL cluster."""
    with exclusive(cfg):
        _down(cfg, say)
        _delete(cfg, say)


def _delete(cfg: StackConfig, say: Callable[[str], None]) -> None:
    if not cfg.external_database_url and postgres.drop_cluster(cfg):
        say(f"postgres    cluster {cfg.pg_cluster} dropped")
    if cfg.state_dir.exists():
        shutil.rmtree(cfg.state_dir)
        say(f"state       {cfg.state_dir} removed")


def status(cfg: StackConfig) -> list[Component]:
    rows = []
    kproc = kafka.kafka_process(cfg)
    if cfg.external_kafka:
        ok = kafka.kafka_ready(cfg.external_kafka)
        rows.append(Component("kafka", None, None, ok, f"external {cfg.external_kafka}"))
    else:
        pid = kproc.pid()
        ok = pid is not None and kafka.kafka_ready(cfg.kafka_bootstrap)
        rows.append(Component("kafka", pid, cfg.kafka_port, ok, str(kproc.log_file)))
    if cfg.external_database_url:
        ok = postgres.answers(postgres.plain_url(cfg.external_database_url))
        rows.append(Component("postgres", None, None, ok, "external DATABASE_URL"))
    else:
        state = postgres.cluster_status(cfg)
        ok = state == "online" and postgres.answers(postgres.managed_admin_url(cfg))
        detail = f"cluster {cfg.pg_cluster}: {state or 'not created'}"
        rows.append(Component("postgres", None, cfg.pg_port, ok, detail))
    if keycloak.enabled(cfg):
        kproc = keycloak.keycloak_process(cfg)
        pid = kproc.pid()
        ok = pid is not None and keycloak.ready(cfg)
        rows.append(Component("keycloak", pid, cfg.keycloak_port, ok, str(kproc.log_file)))
    if cfg.smtp_port:
        mproc = mailbox.mailbox_process(cfg)
        pid = mproc.pid()
        ok = pid is not None and port_open(cfg.smtp_port)
        rows.append(Component("smtp", pid, cfg.smtp_port, ok, str(cfg.mail_dir)))
    for name in services.all_services():
        proc = services.service_process(cfg, name)
        port = cfg.service_ports[name]
        code, body = services.health(port, timeout=10)
        detail = str(proc.log_file)
        if code not in (0, 200):
            detail = f"{services.failing_checks(body)}; {detail}"
        state = "unready" if code not in (0, 200) else ""
        rows.append(Component(name, proc.pid(), port, code == 200, detail, state))
    return rows
