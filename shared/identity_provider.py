"""What the gateway asks of its OpenID Connect provider (Keycloak), in one place: the client a
partner's system signs in with, and where the provider's admin API and token endpoint are.

Pure: the local stack (jiph/stack/realm.py) and intake's partner onboarding
(services/intake/credentials.py) send these representations with their own HTTP clients.
A partner's client uses the client-credentials grant, and its tokens carry exactly the claims
`shared.auth.principal_from_claims` reads: `role` = partner and `partner_id`.
"""

from __future__ import annotations

from typing import Any

#: The client scope that gives every token the gateway's audience and claims.
GATEWAY_SCOPE = "jiph-gateway"
#: Intake's own client at the provider, allowed to manage clients: partner onboarding.
PROVISIONER_CLIENT = "jiph-intake-provisioner"


def partner_client_id(partner_id: str) -> str:
    return f"partner-{partner_id}"


def realm_of(issuer: str) -> tuple[str, str]:
    """(the provider's base URL, the realm) of a Keycloak issuer `…/realms/<realm>`."""
    base, marker, realm = issuer.rstrip("/").rpartition("/realms/")
    if not marker or not realm or "/" in realm:
        raise ValueError(f"{issuer!r} is not a Keycloak realm's issuer")
    return base, realm


def token_endpoint(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/protocol/openid-connect/token"


def partner_client(partner_id: str) -> dict[str, Any]:
    """The representation of a partner's client (created, or updated in place)."""
    return {
        "clientId": partner_client_id(partner_id),
        "name": f"Partner {partner_id}",
        "publicClient": False,
        "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "protocolMappers": [
            {
                "name": name,
                "protocol": "openid-connect",
                "protocolMapper": "oidc-hardcoded-claim-mapper",
                "config": {
                    "claim.name": name,
                    "claim.value": value,
                    "jsonType.label": "String",
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            }
            for name, value in (("role", "partner"), ("partner_id", partner_id))
        ],
    }


def curl_example(issuer: str, partner_id: str, shown: str = "$CLIENT_SECRET") -> str:
    """How a partner's system obtains a token (`shown`: the secret, or a placeholder), for the
    docs and the onboarding answer."""
    return (
        f"curl -s -u {partner_client_id(partner_id)}:{shown} "
        f"-d grant_type=client_credentials {token_endpoint(issuer)}"
    )
