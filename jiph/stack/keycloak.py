"""Keycloak, the stack's OpenID Connect provider: fetched from Maven Central like Kafka, built once
for PostgreSQL, started with the machine's Java, its realm kept as code (jiph/stack/realm.py).

`jiph up` starts it before the services (which then accept its tokens); `JIPH_IDENTITY=off` (or
an `OIDC_ISSUER` of your own) leaves it out. Its data lives in the stack's PostgreSQL, in a
database of its own (`jiph_keycloak`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

from jiph.stack.config import KEYCLOAK_VERSION, REPO_ROOT, StackConfig, cache_dir
from jiph.stack.postgres import PostgresTarget, service_password, service_role
from jiph.stack.processes import ManagedProcess, StackError, port_open, tail, wait_until
from jiph.stack.system import ensure_command

FETCH_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 600
READY_TIMEOUT_S = 180
REALM = "jiph"
#: The stack's bootstrap administrator (development only, like every password of the stack).
ADMIN_USER = "admin"
ADMIN_PASSWORD = os.environ.get("JIPH_KEYCLOAK_ADMIN_PASSWORD", "jiph-local-admin")
JVM_HEAP = "-Xms256m -Xmx768m"


def home() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}"


def enabled(cfg: StackConfig) -> bool:
    """Whether the stack runs its own provider (not when the user brings one, nor on the
    cluster stack, whose fault runs need the development key only and every spare megabyte)."""
    if cfg.is_cluster:
        return False
    return os.environ.get("JIPH_IDENTITY", "on") != "off" and not external_issuer()


def external_issuer() -> str | None:
    return os.environ.get("OIDC_ISSUER") or None


def issuer(cfg: StackConfig) -> str:
    return external_issuer() or f"{base_url(cfg)}/realms/{REALM}"


def base_url(cfg: StackConfig) -> str:
    return f"http://127.0.0.1:{cfg.keycloak_port}"


def fetch_keycloak(log_dir: Path) -> Path:
    """Keycloak's server distribution, fetched by Maven and built for PostgreSQL once (the
    build is what `start --optimized` skips at every later start)."""
    target = home()
    if (target / ".jiph-built").exists():
        return target
    ensure_command("java", "openjdk-17-jre-headless")
    ensure_command("mvn", "maven")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "keycloak-fetch.log"
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    argv = [
        "mvn",
        "-B",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip",
        f"-DoutputDirectory={partial}",
    ]
    with log_file.open("w") as log:
        try:
            done = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=FETCH_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError("fetching Keycloak from Maven Central timed out", log_file) from exc
        if done.returncode != 0:
            raise StackError("could not fetch Keycloak from Maven Central", log_file)
        archive = partial / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(partial)
        archive.unlink()
        unpacked = partial / f"keycloak-{KEYCLOAK_VERSION}"
        for script in (unpacked / "bin").glob("*.sh"):
            script.chmod(0o755)
        build = subprocess.run(
            [str(unpacked / "bin" / "kc.sh"), "build", "--db=postgres", "--health-enabled=true"],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            env={**os.environ, "JAVA_OPTS_KC_HEAP": JVM_HEAP},
            check=False,
        )
        if build.returncode != 0:
            raise StackError("building Keycloak for PostgreSQL failed", log_file)
    (unpacked / ".jiph-built").write_text(KEYCLOAK_VERSION)
    shutil.rmtree(target, ignore_errors=True)
    unpacked.rename(target)
    shutil.rmtree(partial, ignore_errors=True)
    return target


def config_file(cfg: StackConfig) -> Path:
    """This stack's keycloak.conf: ports and hostname (its path also marks the process)."""
    return cfg.state_dir / "keycloak" / "keycloak.conf"


def _write_config(cfg: StackConfig) -> Path:
    path = config_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(
            [
                "http-enabled=true",
                "http-host=127.0.0.1",
                f"http-port={cfg.keycloak_port}",
                f"http-management-port={cfg.keycloak_port + 1}",
                f"hostname={base_url(cfg)}",
                "hostname-strict=false",
                "log=console",
                "",
            ]
        )
    )
    return path


def keycloak_process(cfg: StackConfig) -> ManagedProcess:
    return ManagedProcess("keycloak", cfg.run_dir, cfg.log_dir, marker=str(config_file(cfg)))


def start_keycloak(cfg: StackConfig, pg: PostgresTarget) -> bool:
    """Start the stack's provider unless it already runs. True if this call started it."""
    proc = keycloak_process(cfg)
    if proc.pid() is not None:
        return False
    for port in (cfg.keycloak_port, cfg.keycloak_port + 1):
        if port_open(port):
            raise StackError(
                f"port {port} is already taken by another program; Keycloak cannot start"
            )
    kc = fetch_keycloak(cfg.log_dir)
    role = service_role("keycloak")
    env = {
        **os.environ,
        "KC_DB_URL": f"jdbc:postgresql://{pg.host}:{pg.port}/{role}",
        "KC_DB_USERNAME": role,
        "KC_DB_PASSWORD": service_password("keycloak"),
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "JAVA_OPTS_KC_HEAP": JVM_HEAP,
    }
    argv = [
        str(kc / "bin" / "kc.sh"),
        f"--config-file={_write_config(cfg)}",
        "start",
        "--optimized",
    ]
    pid = proc.start(argv, env, REPO_ROOT)
    if not wait_until(lambda: not proc.alive(pid) or ready(cfg), READY_TIMEOUT_S, interval=1):
        proc.stop(pid=pid)
        raise StackError("Keycloak did not become ready in time", proc.log_file)
    if not proc.alive(pid):
        last = tail(proc.log_file, 3).replace("\n", " | ")[-300:]
        raise StackError(f"Keycloak exited during start: {last}", proc.log_file)
    return True


def ready(cfg: StackConfig) -> bool:
    try:
        url = f"http://127.0.0.1:{cfg.keycloak_port + 1}/health/ready"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
