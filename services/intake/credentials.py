"""Partner onboarding at the identity provider: the partner's client (created if missing, the same
representation the local stack uses: shared/identity_provider.py) and a fresh client secret,
shown once. Intake signs in to the provider's admin API with a client of its own that may manage
clients (`PROVIDER_ADMIN_CLIENT_ID`, secret in `PROVIDER_ADMIN_SECRET_FILE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared import identity_provider
from shared.settings import ServiceSettings

TIMEOUT_S = 10.0


class ProviderUnavailable(Exception):
    """The provider could not be reached or refused intake's request (503 to the caller)."""


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    token_endpoint: str
    example: str


def configured(settings: ServiceSettings) -> bool:
    return bool(settings.oidc_issuer and settings.provider_admin_secret_file)


async def issue(settings: ServiceSettings, partner_id: str) -> Credentials:
    """Ensure the partner's client and give it a new secret (the previous one stops working)."""
    assert settings.oidc_issuer and settings.provider_admin_secret_file
    issuer = settings.oidc_issuer
    base, realm = identity_provider.realm_of(issuer)
    try:
        own_secret = settings.provider_admin_secret_file.read_text().strip()
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S) as http:
            signed_in = await http.post(
                identity_provider.token_endpoint(issuer).removeprefix(base),
                data={"grant_type": "client_credentials"},
                auth=(settings.provider_admin_client_id, own_secret),
            )
            _check(signed_in, "sign in")
            http.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
            client = await _ensure_client(http, realm, partner_id)
            secret = await http.post(f"/admin/realms/{realm}/clients/{client['id']}/client-secret")
            _check(secret, "issue a client secret")
            value = str(secret.json()["value"])
    except (OSError, httpx.HTTPError, KeyError, ValueError) as exc:
        raise ProviderUnavailable(str(exc)) from exc
    return Credentials(
        client_id=identity_provider.partner_client_id(partner_id),
        client_secret=value,
        token_endpoint=identity_provider.token_endpoint(issuer),
        example=identity_provider.curl_example(issuer, partner_id, value),
    )


async def _ensure_client(http: httpx.AsyncClient, realm: str, partner_id: str) -> dict[str, Any]:
    clients = f"/admin/realms/{realm}/clients"
    client_id = identity_provider.partner_client_id(partner_id)
    found = await http.get(clients, params={"clientId": client_id})
    _check(found, "find the partner's client")
    if not found.json():
        created = await http.post(clients, json=identity_provider.partner_client(partner_id))
        if created.status_code != 409:  # another instance created it meanwhile
            _check(created, "create the partner's client")
        found = await http.get(clients, params={"clientId": client_id})
        _check(found, "find the partner's client")
    client: dict[str, Any] = found.json()[0]
    scopes = await http.get(f"/admin/realms/{realm}/client-scopes")
    _check(scopes, "read the client scopes")
    scope = next(s["id"] for s in scopes.json() if s["name"] == identity_provider.GATEWAY_SCOPE)
    linked = await http.put(f"{clients}/{client['id']}/default-client-scopes/{scope}")
    if linked.status_code != 409:
        _check(linked, "give the client the gateway's scope")
    return client


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 400:
        raise ProviderUnavailable(f"the provider refused to {what}: {answer.status_code}")
