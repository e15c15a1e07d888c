"""The four services as uvicorn processes of the local stack."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from jiph.stack import keycloak, keystore, realm
from jiph.stack.config import REPO_ROOT, SERVICE_NAMES, StackConfig
from jiph.stack.postgres import PostgresTarget
from jiph.stack.processes import ManagedProcess, StackError, port_open, tail, wait_until
from shared.topics import WRITERS

READY_TIMEOUT_S = 60
#: Where a local stack's services write to the ministers (its SMTP receiver keeps the mail).
MINISTERS_MAILBOX = "ministers@jiph.localhost"
#: A staff member `alice` is mailed at `alice@jiph.localhost` on a local stack.
STAFF_MAIL_DOMAIN = "jiph.localhost"


def service_process(cfg: StackConfig, service: str) -> ManagedProcess:
    return ManagedProcess(
        service, cfg.run_dir, cfg.log_dir, marker=f"services.{service}.main:create_app"
    )


def service_env(cfg: StackConfig, service: str, pg: PostgresTarget) -> dict[str, str]:
    """Everything a service reads, under its own prefix (see shared/settings.py). Every
    instance of a service reads the same (a cluster's instances differ only in their address)."""
    prefix = f"JIPH_{service.upper()}_"
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    env.update(
        {
            f"{prefix}ENV": os.environ.get("JIPH_ENV", "development"),
            f"{prefix}DATABASE_URL": pg.service_url(service),
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": cfg.kafka_bootstrap,
            f"{prefix}DEV_KEY_FILE": str(cfg.dev_key_file),
            f"{prefix}PORT": str(cfg.service_ports[service]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if keycloak.enabled(cfg) or keycloak.external_issuer():
        env[f"{prefix}OIDC_ISSUER"] = keycloak.issuer(cfg)
    if service == "intake" and keycloak.enabled(cfg):  # partner onboarding
        env[f"{prefix}PROVIDER_ADMIN_SECRET_FILE"] = str(realm.provisioner_secret_file(cfg))
    env.update(_notification_env(cfg, service))
    if service in WRITERS:
        env[f"{prefix}CHECKPOINT_KEY_FILE"] = str(cfg.checkpoint_key_file(service))
    if service == "deployment":  # officers' keys live on the stack's SoftHSM2 token
        env.update(keystore.ensure_token(cfg.state_dir).env())
    return env


def _notification_env(cfg: StackConfig, service: str) -> dict[str, str]:
    """A local stack's webhooks may reach its sink port on loopback, and retry quickly on a
    test stack; staff e-mail goes to the stack's SMTP receiver."""
    prefix = f"JIPH_{service.upper()}_"
    env: dict[str, str] = {}
    if cfg.smtp_port:
        env[f"{prefix}MAIL_SMTP_PORT"] = str(cfg.smtp_port)
        env[f"{prefix}MAIL_MINISTERIAL_ADDRESSES"] = json.dumps([MINISTERS_MAILBOX])
        env[f"{prefix}MAIL_STAFF_DOMAIN"] = STAFF_MAIL_DOMAIN
    if cfg.quick_retries:
        env[f"{prefix}MAIL_BACKOFF_BASE_S"] = "0.5"
    if service != "intake":
        return env
    if cfg.webhook_sink_port:
        port = cfg.webhook_sink_port
        env[f"{prefix}WEBHOOK_ALLOWED_TARGETS"] = json.dumps([f"127.0.0.1:{port}", f"[::1]:{port}"])
    if cfg.quick_retries:
        env[f"{prefix}WEBHOOK_BACKOFF_BASE_S"] = "0.3"
        env[f"{prefix}WEBHOOK_MAX_ATTEMPTS"] = "3"
        env[f"{prefix}WEBHOOK_POLL_INTERVAL_S"] = "0.2"
    env[f"{prefix}ATTACHMENT_DIR"] = str(cfg.state_dir / "attachments")
    return env


def service_argv(cfg: StackConfig, service: str, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"services.{service}.main:create_app",
        "--host",
        host,
        "--port",
        str(cfg.service_ports[service]),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
        "--http",
        "shared.http_protocol:HeaderDeadlineProtocol",
    ]


def health(
    port: int, path: str = "/readyz", timeout: float = 3, host: str = "127.0.0.1"
) -> tuple[int, str]:
    """HTTP status of a health endpoint (0 when nothing answers) and its body."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ValueError):
        return 0, ""


def failing_checks(readyz_body: str) -> str:
    """The checks a 503 from /readyz names as failing, for one status line."""
    try:
        checks = json.loads(readyz_body).get("checks", {})
    except (ValueError, AttributeError):
        return readyz_body[:120]
    bad = [f"{name}: {checks[name]}" for name in ("database", "kafka") if checks.get(name) != "ok"]
    if checks.get("consumer") == "not assigned":
        bad.append("consumer: not assigned")
    return ", ".join(bad) or "not ready"


def start_service(cfg: StackConfig, service: str, pg: PostgresTarget) -> bool:
    proc = service_process(cfg, service)
    if proc.pid() is not None:
        return False
    port = cfg.service_ports[service]
    if port_open(port):
        raise StackError(f"port {port} is already taken by another program; {service} cannot start")
    proc.start(service_argv(cfg, service), service_env(cfg, service, pg), REPO_ROOT)
    return True


def wait_service_ready(cfg: StackConfig, service: str) -> None:
    wait_ready(service_process(cfg, service), service, "127.0.0.1", cfg.service_ports[service])


def wait_ready(proc: ManagedProcess, label: str, host: str, port: int) -> None:
    """Until the process answers 200 on `/readyz`; StackError if it dies or never does."""

    def ready_or_dead() -> bool:
        return proc.pid() is None or health(port, host=host)[0] == 200

    wait_until(ready_or_dead, READY_TIMEOUT_S, interval=0.5)
    if proc.pid() is None:
        last = tail(proc.log_file, 1)[-200:]
        raise StackError(f"{label} exited during start: {last}", proc.log_file)
    status, body = health(port, host=host)
    if status != 200:
        raise StackError(f"{label} not ready after {READY_TIMEOUT_S}s: {body[:200]}", proc.log_file)


def all_services() -> tuple[str, ...]:
    return SERVICE_NAMES
