"""How `jiph demo` talks to the services: its HTTP client with retries and bounded waits, the
development tokens of each role, and the progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from jiph import console
from jiph import demo_cast as cast
from jiph.stack import realm
from jiph.stack.config import StackConfig
from shared.api import TODAY_HEADER
from shared.auth import load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER

TOKEN_HEADER = "X-Consistency-Token"
WAIT_S = 60.0
#: How long the demo waits for services to work off an earlier backlog before it starts.
CATCH_UP_LIMIT_S = 600.0
POLL_S = 0.2
MAX_RETRY_AFTER_S = 30.0
CONNECT_RETRIES = 10


class DemoError(Exception):
    """A step failed: the message is the one line the user sees."""


# --- progress --------------------------------------------------------------------------------
class Progress:
    """The demo's steps as a Rich progress bar on stderr (drawn on a terminal only), started
    by the first step."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.bar = console.progress()
        self.task = self.bar.add_task("demo", total=self.total, note="")
        self.started = False

    def step(self, label: str, n: int = 1) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        self.bar.update(self.task, advance=n, note=label)

    def finish(self) -> None:
        self.bar.update(self.task, completed=self.total, note="done")
        self.stop()

    def stop(self) -> None:
        if self.started:
            self.bar.stop()
            self.started = False


# --- HTTP ------------------------------------------------------------------------------------
def _problem(response: httpx.Response) -> str:
    """A problem+json answer in one line: title, detail and any field errors."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    text = ": ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
    errors = body.get("errors") or []
    if errors:
        text += " (" + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors) + ")"
    return text or response.text[:300]


class Api:
    """Calls the services with retries for what is transient: 429 (after Retry-After), a service
    restarting (connection refused) and an optimistic-concurrency conflict."""

    def __init__(self, cfg: StackConfig, timeout: float = 20.0) -> None:
        self.ports = cfg.service_ports
        self.client = httpx.Client(timeout=timeout)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.url(service, path)
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        connect_failures = conflicts = throttled = 0
        while True:
            try:
                response = self.client.request(
                    method, url, json=json, params=params, headers=all_headers
                )
            except httpx.ConnectError as exc:
                # Nothing was sent: safe to try again while a service restarts.
                connect_failures += 1
                if connect_failures > CONNECT_RETRIES:
                    raise DemoError(f"{service} is not answering at {url} ({exc})") from exc
                time.sleep(1.0)
                continue
            except httpx.HTTPError as exc:
                raise DemoError(f"{what}: {service} did not answer ({exc!r})") from exc
            if response.status_code == 429 and throttled < 50:
                throttled += 1
                time.sleep(_retry_after(response))
                continue
            if (
                response.status_code == 409
                and _problem_type(response) == "/problems/version-conflict"
                and conflicts < 3
            ):
                conflicts += 1
                time.sleep(0.2)
                continue
            return response

    def call(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, str | None]:
        """The JSON answer of a successful call and its consistency token; `DemoError` else."""
        response = self.send(
            method, service, path, token, what=what, json=json, params=params, headers=headers
        )
        if response.status_code >= 400:
            raise DemoError(
                f"{what}: {service} answered {response.status_code} {_problem(response)}"
            )
        return response.json(), response.headers.get(TOKEN_HEADER)

    def wait(
        self,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        until: Callable[[Any], bool] = lambda _: True,
        consistency: str | None = None,
        timeout_s: float = WAIT_S,
    ) -> Any:
        """GET `path` until it answers 200 with a body that satisfies `until`; bounded."""
        headers = {TOKEN_HEADER: consistency} if consistency else {}
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.send("GET", service, path, token, what=what, headers=headers)
            if response.status_code == 200 and until(response.json()):
                return response.json()
            if response.status_code not in (200, 404):
                raise DemoError(
                    f"{what}: {service} answered {response.status_code} {_problem(response)}"
                )
            if time.monotonic() >= deadline:
                seen = response.json().get("status") if response.status_code == 200 else "404"
                raise DemoError(f"{what}: not there after {timeout_s:.0f} s (last seen: {seen})")
            time.sleep(POLL_S)


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


# --- tokens ----------------------------------------------------------------------------------
class Tokens:
    """Development tokens, minted once per (role, subject, claims) and reused."""

    def __init__(self, cfg: StackConfig) -> None:
        self.key = load_or_create_dev_key(cfg.dev_key_file)
        self._cache: dict[tuple[str, str, str | None, str | None], str] = {}

    def get(
        self,
        role: str,
        subject: str,
        *,
        partner_id: str | None = None,
        force: str | None = None,
        clearance: str | None = None,
        ttl_seconds: int = 3 * 3600,
    ) -> str:
        cache_key = (role, subject, partner_id or force, clearance)
        if cache_key not in self._cache:
            self._cache[cache_key] = mint_token(
                self.key,
                role=role,
                subject=subject,
                issuer=DEV_ISSUER,
                audience=AUDIENCE,
                partner_id=partner_id,
                force=force,
                clearance=clearance,
                ttl_seconds=ttl_seconds,
            )
        return self._cache[cache_key]

    def partner(self, partner: cast.Partner) -> str:
        return self.get("partner", f"{partner.partner_id}.desk", partner_id=partner.partner_id)

    def triage(self, subject: str) -> str:
        return self.get("triage_officer", subject, clearance="sc")

    def approver(self) -> str:
        return self.get("approver", cast.BOARD_APPROVER, clearance="sc")

    def minister(self) -> str:
        return self.get("minister", cast.MINISTER, clearance="sc")

    def manager(self) -> str:
        return self.get("deployment_manager", cast.DEPLOYMENT_MANAGER, clearance="sc")

    def liaison(self, force: str) -> str:
        subject = f"liaison.{force}"
        return self.get("force_liaison", subject, force=force)

    def analyst(self) -> str:
        return self.get("analyst", "demo.analyst", clearance="sc", ttl_seconds=8 * 3600)


class ProviderTokens(Tokens):
    """Tokens from the stack's OpenID Connect provider, as the gateway's users get them: each
    partner by the client-credentials grant, each member of staff by signing in (the demo's
    people are made users of the realm first, with their role, clearance and force). A token
    lasts minutes: one is fetched again once it is half-way through its life."""

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.cfg = cfg
        self._fetched: dict[tuple[str, str, str | None, str | None], tuple[str, float]] = {}

    def get(
        self,
        role: str,
        subject: str,
        *,
        partner_id: str | None = None,
        force: str | None = None,
        clearance: str | None = None,
        ttl_seconds: int = 3 * 3600,
    ) -> str:
        cache_key = (role, subject, partner_id or force, clearance)
        cached = self._fetched.get(cache_key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        if role == "partner" and partner_id is not None:
            token, lifetime = realm.partner_token(self.cfg, partner_id)
        else:
            user = realm.StaffUser(subject, role, clearance or "none", subject, force=force)
            token, lifetime = realm.staff_token(self.cfg, user)
        self._fetched[cache_key] = (token, time.monotonic() + lifetime / 2)
        return token


def fast_forward(day: date) -> dict[str, str]:
    """The demo plays whole tours in seconds: it records a repatriation or a completion on the
    day it happens (the services' development clock, `X-Jiph-Today`; production refuses it)."""
    return {TODAY_HEADER: day.isoformat()}
