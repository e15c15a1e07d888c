"""The stack's identity realm, kept as code and applied through Keycloak's admin API: a client
per registered partner (client credentials, its partner id as a claim), staff users with the
gateway's roles, clearances and forces, the dashboard's public client (authorization code with
PKCE), and one client scope that gives every token the gateway's audience and claims.

Every step is idempotent: `jiph up` applies the realm each time, so a stack started before a
change to this file catches up. The claims a token carries are exactly those
`shared.auth.principal_from_claims` reads (`role`, `partner_id`, `force`, `clearance`, `name`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jiph.stack import keycloak
from jiph.stack.config import StackConfig
from jiph.stack.processes import StackError
from shared import identity_provider
from shared.settings import AUDIENCE

SCOPE = identity_provider.GATEWAY_SCOPE
DASHBOARD_CLIENT = "jiph-dashboard"
#: Staff sign-in without a browser (tests, `jiph demo`, scripts): the password grant, which
#: only a development realm offers.
CLI_CLIENT = "jiph-cli"
ACCESS_TOKEN_LIFESPAN_S = 300
STAFF_PASSWORD = os.environ.get("JIPH_STAFF_PASSWORD", "jiph-local-staff")
CLAIMS = ("role", "clearance", "force")


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    clearance: str
    name: str
    force: str | None = None


#: The hub's staff in a development realm, one per role (and a liaison officer of one force).
STAFF = (
    StaffUser("officer", "triage_officer", "sc", "Tess Officer"),
    StaffUser("approver", "approver", "sc", "Ada Approver"),
    StaffUser("minister", "minister", "dv", "Min Ister"),
    StaffUser("manager", "deployment_manager", "sc", "Dee Manager"),
    StaffUser("liaison", "force_liaison", "sc", "Lee Liaison", force="metropolitan"),
    StaffUser("analyst", "analyst", "none", "Ann Analyst"),
    StaffUser("cleared-analyst", "analyst", "sc", "Sam Cleared"),
    StaffUser("operator", "operator", "none", "Op Erator"),
    StaffUser("admin", "admin", "sc", "Ad Min"),
)


class Admin:
    """Keycloak's admin REST API with the stack's bootstrap administrator."""

    def __init__(self, cfg: StackConfig) -> None:
        self.base = keycloak.base_url(cfg)
        self.http = httpx.Client(base_url=self.base, timeout=15)
        token = self.http.post(
            "/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": keycloak.ADMIN_USER,
                "password": keycloak.ADMIN_PASSWORD,
            },
        )
        _check(token, "sign in as Keycloak's administrator")
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(f"/admin/realms/{path}", params=params)
        _check(answer, f"read {path}")
        return answer.json()

    def send(self, method: str, path: str, body: Any = None, *, ok: Iterable[int] = ()) -> Any:
        answer = self.http.request(method, f"/admin/realms/{path}", json=body)
        if answer.status_code not in ok:
            _check(answer, f"{method} {path}")
        return answer

    def client(self, client_id: str) -> dict[str, Any] | None:
        found = self.get(f"{keycloak.REALM}/clients", clientId=client_id)
        return found[0] if found else None


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 400:
        raise StackError(f"Keycloak refused to {what}: {answer.status_code} {answer.text[:300]}")


def apply_realm(cfg: StackConfig, partner_ids: Iterable[str] = ()) -> None:
    """Create or update the realm, its scope, staff, dashboard and the partners' clients."""
    admin = Admin(cfg)
    try:
        realm = keycloak.REALM
        admin.send(
            "POST",
            "",
            {"realm": realm, "enabled": True, "displayName": "JIPH Gateway"},
            ok={409},
        )
        admin.send(
            "PUT",
            realm,
            {
                "accessTokenLifespan": ACCESS_TOKEN_LIFESPAN_S,
                "ssoSessionIdleTimeout": 1800,
                # A browser holds the dashboard's refresh token: each is used once.
                "revokeRefreshToken": True,
                "refreshTokenMaxReuse": 0,
                "loginTheme": "keycloak",
            },
        )
        _allow_staff_attributes(admin)
        _ensure_scope(admin)
        _ensure_client(
            admin,
            {
                "clientId": DASHBOARD_CLIENT,
                "name": "JIPH dashboard",
                "publicClient": True,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                # Exactly the page: the code goes nowhere else.
                "redirectUris": [f"http://127.0.0.1:{cfg.service_ports['reporting']}/"],
                "webOrigins": ["+"],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": (
                        f"http://127.0.0.1:{cfg.service_ports['reporting']}/"
                    ),
                },
            },
        )
        _ensure_client(
            admin,
            {
                "clientId": CLI_CLIENT,
                "name": "JIPH staff sign-in without a browser (development only)",
                "publicClient": True,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": True,
            },
        )
        _ensure_provisioner(admin, cfg)
        for user in STAFF:
            _ensure_staff(admin, user)
        for partner_id in partner_ids:
            ensure_partner_client(admin, partner_id)
    finally:
        admin.close()


def _allow_staff_attributes(admin: Admin) -> None:
    """The gateway's claims are user attributes only an administrator may set."""
    profile = admin.get(f"{keycloak.REALM}/users/profile")
    names = {a["name"] for a in profile.get("attributes", [])}
    for claim in CLAIMS:
        if claim not in names:
            profile.setdefault("attributes", []).append(
                {
                    "name": claim,
                    "displayName": claim,
                    "permissions": {"view": ["admin"], "edit": ["admin"]},
                    "multivalued": False,
                }
            )
    admin.send("PUT", f"{keycloak.REALM}/users/profile", profile)


def _ensure_scope(admin: Admin) -> None:
    realm = keycloak.REALM
    scopes = {s["name"]: s for s in admin.get(f"{realm}/client-scopes")}
    if SCOPE not in scopes:
        admin.send(
            "POST",
            f"{realm}/client-scopes",
            {
                "name": SCOPE,
                "description": "The gateway's audience and claims",
                "protocol": "openid-connect",
                "attributes": {"include.in.token.scope": "false"},
                "protocolMappers": [
                    {
                        "name": "gateway audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {
                            "included.custom.audience": AUDIENCE,
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                        },
                    },
                    *(
                        {
                            "name": claim,
                            "protocol": "openid-connect",
                            "protocolMapper": "oidc-usermodel-attribute-mapper",
                            "config": {
                                "user.attribute": claim,
                                "claim.name": claim,
                                "jsonType.label": "String",
                                "access.token.claim": "true",
                                "id.token.claim": "true",
                                "userinfo.token.claim": "true",
                            },
                        }
                        for claim in CLAIMS
                    ),
                ],
            },
        )
        scopes = {s["name"]: s for s in admin.get(f"{realm}/client-scopes")}
    admin.send("PUT", f"{realm}/default-default-client-scopes/{scopes[SCOPE]['id']}", ok={409})


def _ensure_client(admin: Admin, representation: dict[str, Any]) -> dict[str, Any]:
    realm = keycloak.REALM
    existing = admin.client(representation["clientId"])
    if existing is None:
        admin.send("POST", f"{realm}/clients", representation)
        existing = admin.client(representation["clientId"])
        assert existing is not None
    else:
        admin.send("PUT", f"{realm}/clients/{existing['id']}", {**existing, **representation})
    scopes = {s["name"]: s["id"] for s in admin.get(f"{realm}/client-scopes")}
    admin.send(
        "PUT", f"{realm}/clients/{existing['id']}/default-client-scopes/{scopes[SCOPE]}", ok={409}
    )
    return existing


def ensure_partner_client(admin: Admin, partner_id: str) -> str:
    """The partner's client (client credentials, its partner id as a claim); its secret."""
    client = _ensure_client(admin, identity_provider.partner_client(partner_id))
    secret = admin.get(f"{keycloak.REALM}/clients/{client['id']}/client-secret")
    return str(secret["value"])


def _ensure_provisioner(admin: Admin, cfg: StackConfig) -> None:
    """Intake's own client, allowed to manage the realm's clients (partner onboarding); its
    secret in the stack's key folder, for intake (`PROVIDER_ADMIN_SECRET_FILE`)."""
    realm = keycloak.REALM
    client = _ensure_client(
        admin,
        {
            "clientId": identity_provider.PROVISIONER_CLIENT,
            "name": "Intake: partner onboarding",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
        },
    )
    account = admin.get(f"{realm}/clients/{client['id']}/service-account-user")
    management = admin.client("realm-management")
    assert management is not None
    wanted = [
        admin.get(f"{realm}/clients/{management['id']}/roles/{name}")
        for name in ("manage-clients", "view-clients")
    ]
    admin.send(
        "POST", f"{realm}/users/{account['id']}/role-mappings/clients/{management['id']}", wanted
    )
    secret = admin.get(f"{realm}/clients/{client['id']}/client-secret")["value"]
    path = provisioner_secret_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret)


def provisioner_secret_file(cfg: StackConfig) -> Path:
    return cfg.state_dir / "keys" / "provider-provisioner.secret"


def _ensure_staff(admin: Admin, user: StaffUser) -> None:
    realm = keycloak.REALM
    attributes = {"role": [user.role], "clearance": [user.clearance]}
    if user.force:
        attributes["force"] = [user.force]
    first, _, last = user.name.partition(" ")
    representation = {
        "username": user.username,
        "enabled": True,
        "firstName": first,
        "lastName": last or first,
        "email": f"{user.username}@jiph.example",
        "emailVerified": True,
        "attributes": attributes,
        "requiredActions": [],
    }
    found = admin.get(f"{realm}/users", username=user.username, exact="true")
    if found:
        user_id = found[0]["id"]
        admin.send("PUT", f"{realm}/users/{user_id}", representation)
    else:
        admin.send("POST", f"{realm}/users", representation)
        user_id = admin.get(f"{realm}/users", username=user.username, exact="true")[0]["id"]
    admin.send(
        "PUT",
        f"{realm}/users/{user_id}/reset-password",
        {"type": "password", "value": STAFF_PASSWORD, "temporary": False},
    )


def partner_token(cfg: StackConfig, partner_id: str) -> tuple[str, int]:
    """A partner's access token by the client-credentials grant, and its lifetime in seconds
    (its client made first, if missing)."""
    admin = Admin(cfg)
    try:
        secret = ensure_partner_client(admin, partner_id)
    finally:
        admin.close()
    return _token(
        cfg,
        {"grant_type": "client_credentials"},
        auth=(identity_provider.partner_client_id(partner_id), secret),
    )


_known_staff: set[StaffUser] = set()


def staff_token(cfg: StackConfig, user: StaffUser) -> tuple[str, int]:
    """A member of staff's access token, signed in with their password (the user made first)."""
    if user not in _known_staff:
        admin = Admin(cfg)
        try:
            _ensure_staff(admin, user)
        finally:
            admin.close()
        _known_staff.add(user)
    return _token(
        cfg,
        {
            "grant_type": "password",
            "client_id": CLI_CLIENT,
            "username": user.username,
            "password": STAFF_PASSWORD,
        },
    )


def _token(
    cfg: StackConfig, form: dict[str, str], auth: tuple[str, str] | None = None
) -> tuple[str, int]:
    answer = httpx.post(
        identity_provider.token_endpoint(keycloak.issuer(cfg)), data=form, auth=auth, timeout=15
    )
    _check(answer, "issue a token")
    body = answer.json()
    return str(body["access_token"]), int(body.get("expires_in", ACCESS_TOKEN_LIFESPAN_S))
