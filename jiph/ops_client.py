"""How operator commands reach the running services: HTTP with an operator token."""

from __future__ import annotations

import os
from typing import Any

import httpx

from jiph.stack.config import StackConfig
from jiph.token_command import dev_token
from shared.auth import Role


class ServiceUnavailable(Exception):
    pass


def operator_token(cfg: StackConfig) -> str:
    """`JIPH_TOKEN` when set (production), else a short-lived development operator token."""
    if token := os.environ.get("JIPH_TOKEN"):
        return token
    return dev_token(
        cfg.name, Role.OPERATOR, subject=os.environ.get("USER", "operator"), ttl_seconds=600
    )


class OpsClient:
    def __init__(self, cfg: StackConfig, timeout: float = 15.0) -> None:
        self.cfg = cfg
        self.headers = {"Authorization": f"Bearer {operator_token(cfg)}"}
        self.timeout = timeout

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.cfg.service_ports[service]}{path}"

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.request(
                method,
                self.url(service, path),
                headers=self.headers,
                timeout=self.timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} is not answering ({exc})") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceUnavailable(f"{service}: {response.status_code} {detail}")
        return response.json()
