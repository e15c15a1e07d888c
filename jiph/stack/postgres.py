"""PostgreSQL for the stack: the server `DATABASE_URL` names, or a Debian cluster the stack runs.

A managed cluster is created with Debian's `pg_createcluster` (data under /var/lib/postgresql, owned
by the `postgres` user as PostgreSQL requires) and started with `pg_ctlcluster`, never systemd.
Each service gets its own login role and database; a role can connect to its own database only.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from jiph.stack.config import SERVICE_NAMES, StackConfig
from jiph.stack.processes import StackError, port_open, tail, wait_until
from jiph.stack.system import apt_install

ADMIN_PASSWORD = os.environ.get("JIPH_PG_ADMIN_PASSWORD", "jiph-local-admin")
READY_TIMEOUT_S = 60
SLOW_START_GRACE_S = 20


def service_role(service: str) -> str:
    return f"jiph_{service}"


def service_password(service: str) -> str:
    # Development defaults only: services refuse them when JIPH_ENV is not "development".
    return os.environ.get(f"JIPH_{service.upper()}_DB_PASSWORD", f"{service_role(service)}-local")


@dataclass(frozen=True)
class PostgresTarget:
    admin_url: str  # plain libpq form, for asyncpg
    managed: bool

    @property
    def host(self) -> str:
        return make_url(self.admin_url).host or "127.0.0.1"

    @property
    def port(self) -> int:
        return make_url(self.admin_url).port or 5432

    def service_url(self, service: str) -> str:
        """The SQLAlchemy URL a service connects with: its own role, its own database."""
        url = make_url(self.admin_url).set(
            drivername="postgresql+asyncpg",
            username=service_role(service),
            password=service_password(service),
            database=service_role(service),
        )
        return url.render_as_string(hide_password=False)


def server_version() -> str:
    """The newest installed server major version, installing Debian's `postgresql` if none is."""
    for _ in range(2):
        versions = sorted(
            (p.parent.parent.name for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")),
            key=int,
        )
        if versions and Path("/usr/bin/pg_createcluster").exists():
            return versions[-1]
        apt_install("postgresql", "postgresql-contrib")
    raise StackError("PostgreSQL is not installed and installing it failed")


def _ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)


def cluster_status(cfg: StackConfig) -> str | None:
    """'online', 'down', or None when the stack's cluster does not exist (or none is installed)."""
    for conf in Path("/etc/postgresql").glob(f"*/{cfg.pg_cluster}/postgresql.conf"):
        version = conf.parent.parent.name
        done = _ctl("pg_lsclusters", "-h", version, cfg.pg_cluster)
        fields = done.stdout.split()
        return fields[3] if len(fields) > 3 else "down"
    return None


def _create_cluster(cfg: StackConfig, version: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pw:
        pw.write(ADMIN_PASSWORD + "\n")
    os.chmod(pw.name, 0o644)  # initdb runs as the postgres user
    try:
        done = _ctl(
            "pg_createcluster",
            version,
            cfg.pg_cluster,
            "-p",
            str(cfg.pg_port),
            "--start-conf",
            "manual",
            "--",
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            f"--pwfile={pw.name}",
        )
    finally:
        os.unlink(pw.name)
    if done.returncode != 0:
        raise StackError(f"pg_createcluster failed: {done.stderr.strip()[-300:]}")


def _write_settings(cfg: StackConfig, version: str) -> None:
    """The cluster's settings, written before every start, so a cluster made by an older
    version of this code (another port, say) follows the current ones."""
    listen = ",".join(dict.fromkeys(("127.0.0.1", cfg.pg_host)))
    settings = {
        "listen_addresses": f"'{listen}'",
        "port": str(cfg.pg_port),
        "max_connections": "300",
        "shared_buffers": "'256MB'",
        "ssl": "off",  # loopback only: TLS would cost every query CPU and protect nothing
    }
    if not cfg.pg_durable:
        # Throwaway test data only; never for the `make up` stack.
        settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    # postgresql.conf's own port is what pg_lsclusters and pg_ctlcluster read.
    _ctl("pg_conftool", version, cfg.pg_cluster, "set", "port", str(cfg.pg_port))
    conf_d = Path("/etc/postgresql") / version / cfg.pg_cluster / "conf.d"
    conf_d.mkdir(exist_ok=True)
    (conf_d / "jiph.conf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    if cfg.client_network:
        _allow_clients(Path("/etc/postgresql") / version / cfg.pg_cluster, cfg.client_network)


def _allow_clients(conf_dir: Path, network: str) -> None:
    """Password logins from the cluster's bridge (the services in their namespaces)."""
    hba = conf_dir / "pg_hba.conf"
    line = f"host all all {network} scram-sha-256\n"
    if line not in hba.read_text():
        with hba.open("a") as out:
            out.write(line)


def _cluster_version(cfg: StackConfig) -> str:
    return next(
        Path("/etc/postgresql").glob(f"*/{cfg.pg_cluster}/postgresql.conf")
    ).parent.parent.name


def cluster_log(cfg: StackConfig) -> Path:
    return Path("/var/log/postgresql") / f"postgresql-{_cluster_version(cfg)}-{cfg.pg_cluster}.log"


def managed_admin_url(cfg: StackConfig) -> str:
    return f"postgresql://postgres:{ADMIN_PASSWORD}@{cfg.pg_host}:{cfg.pg_port}/postgres"


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def answers(url: str) -> bool:
    return asyncio.run(_answers(url))


def plain_url(url: str) -> str:
    """asyncpg wants `postgresql://`; users may hand us a SQLAlchemy-style URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def start_postgres(cfg: StackConfig) -> tuple[PostgresTarget, bool]:
    """The server to use, and whether this call started it."""
    if cfg.external_database_url:
        url = plain_url(cfg.external_database_url)
        if answers(url):
            return PostgresTarget(url, managed=False), False
    version = server_version()
    status = cluster_status(cfg)
    if status is None:
        _create_cluster(cfg, version)
        status = "down"
    target = PostgresTarget(managed_admin_url(cfg), managed=True)
    if status == "online":
        return target, False
    if port_open(cfg.pg_port):
        raise StackError(f"port {cfg.pg_port} is already taken; PostgreSQL cannot start")
    version = _cluster_version(cfg)
    _write_settings(cfg, version)
    done = _ctl("pg_ctlcluster", "--skip-systemctl-redirect", version, cfg.pg_cluster, "start")
    # pg_ctlcluster gives up after a while on a slow start even though the server comes up:
    # trust the server's own answer before calling it a failure.
    if done.returncode != 0 and not wait_until(
        lambda: answers(target.admin_url), SLOW_START_GRACE_S, interval=0.5
    ):
        cause = (done.stderr.strip() or "pg_ctlcluster failed").splitlines()[-1]
        said = tail(cluster_log(cfg), 3).replace("\n", " | ")
        raise StackError(f"PostgreSQL did not start: {cause} {said}"[:600], cluster_log(cfg))
    if not wait_until(lambda: answers(target.admin_url), READY_TIMEOUT_S, interval=0.5):
        raise StackError("PostgreSQL never accepted connections", cluster_log(cfg))
    return target, True


def stop_postgres(cfg: StackConfig) -> bool:
    if cluster_status(cfg) != "online":
        return False
    version = _cluster_version(cfg)
    _ctl(
        "pg_ctlcluster", "--skip-systemctl-redirect", version, cfg.pg_cluster, "stop", "-m", "fast"
    )
    return True


def drop_cluster(cfg: StackConfig) -> bool:
    if cluster_status(cfg) is None:
        return False
    _ctl("pg_dropcluster", "--stop", _cluster_version(cfg), cfg.pg_cluster)
    return True


async def provision(target: PostgresTarget, services: tuple[str, ...] = SERVICE_NAMES) -> None:
    """One login role and one database per service; PUBLIC may connect to none of them."""
    conn = await asyncpg.connect(target.admin_url, timeout=10)
    try:
        for service in services:
            role = service_role(service)
            password = service_password(service).replace("'", "''")
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", role):
                await conn.execute(f"CREATE DATABASE {role} OWNER {role}")
            await conn.execute(f"REVOKE ALL ON DATABASE {role} FROM PUBLIC")
            await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {role} TO {role}")
    finally:
        await conn.close()
