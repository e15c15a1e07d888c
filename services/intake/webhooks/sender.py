"""One delivery attempt over HTTP: to the address `AddressPolicy` checked (the name is kept for
`Host` and for TLS, whose certificate is verified against it), redirects never followed, the
answer's body not read beyond a little, everything bounded by a timeout."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from services.intake.webhooks.addresses import AddressPolicy, AddressRefused

USER_AGENT = "jiph-gateway-webhooks/1"
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None  # None: no answer (refused, unreachable, timed out)
    error: str | None = None


def new_client(timeout_s: float) -> httpx.AsyncClient:
    # trust_env=False: no proxy from the environment may carry the request past the checks.
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=0),
    )


async def send(
    client: httpx.AsyncClient,
    policy: AddressPolicy,
    url: str,
    headers: dict[str, str],
    body: str,
) -> Outcome:
    """Deliver `body` to `url` once; a 2xx is delivered, anything else (a redirect included) is a
    failed attempt with its reason."""
    try:
        target = await policy.check(url)
    except AddressRefused as exc:
        return Outcome(False, None, f"refused: {exc}")
    pinned = httpx.URL(url).copy_with(host=target.ip)
    name = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal
    default_port = 443 if target.scheme == "https" else 80
    host_header = name if target.port == default_port else f"{name}:{target.port}"
    try:
        # Streamed and closed unread: a receiver's answer body is of no interest, at any size.
        async with client.stream(
            "POST",
            pinned,
            content=body.encode(),
            headers={
                **headers,
                "Host": host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            extensions={"sni_hostname": target.host},
        ) as response:
            pass
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    if response.is_redirect:
        where = response.headers.get("location", "")[:200]
        return Outcome(False, response.status_code, f"redirect to {where!r} not followed")
    return Outcome(False, response.status_code, f"answered {response.status_code}")
