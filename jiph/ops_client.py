"""How operator commands reach the running services: HTTP with an operator token."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from jiph.errors import CommandError
from jiph.stack.config import StackConfig

# The HTTP client and the token signer are imported by the calls that use them, not at the
# start of every `jiph` command (see jiph/cli.py).
if TYPE_CHECKING:
    import httpx


class ServiceUnavailable(CommandError):
    """A service did not answer, or refused the call; `reason` says which and why."""

    def __init__(self, service: str, reason: str, detail: str) -> None:
        super().__init__(f"{service} {reason}")
        self.service = service
        self.reason = reason
        self.detail = detail  # short: `connection refused`, `answered 401: ...`


def operator_token(cfg: StackConfig) -> str:
    """`JIPH_TOKEN` when set (production), else a short-lived development operator token."""
    if token := os.environ.get("JIPH_TOKEN"):
        return token
    from jiph.token_command import dev_token
    from shared.auth import Role

    return dev_token(
        cfg.name, Role.OPERATOR, subject=os.environ.get("USER", "operator"), ttl_seconds=600
    )


class OpsClient:
    def __init__(self, cfg: StackConfig, timeout: float = 15.0) -> None:
        self.cfg = cfg
        self.headers = {"Authorization": f"Bearer {operator_token(cfg)}"}
        self.timeout = timeout

    def url(self, service: str, path: str) -> str:
        """The stack's port on this machine, or `JIPH_OPS_<SERVICE>_URL` (a port-forward, an
        ingress: services that `jiph up` did not start)."""
        base = os.environ.get(f"JIPH_OPS_{service.upper()}_URL")
        if base:
            return base.rstrip("/") + path
        return f"http://127.0.0.1:{self.cfg.service_ports[service]}{path}"

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = httpx.request(
                method,
                self.url(service, path),
                headers=self.headers,
                timeout=self.timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            short = _short(exc)
            raise ServiceUnavailable(
                service, f"is not answering at {self.url(service, '')} ({short})", short
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            said = f"answered {response.status_code}: {' '.join(str(detail).split())[:200]}"
            raise ServiceUnavailable(service, said, said)
        return response.json()


def _short(exc: httpx.HTTPError) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__
