"""The stack's OpenID Connect provider (Keycloak), through its own token endpoint: a partner's
system signs in with client credentials and a triage officer and a board member with their
passwords, and the request goes from submission to approval on those tokens alone. A key the
provider rotates in is accepted by every service at once; a token of an issuer the services do
not trust is refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jiph.stack import keycloak, realm
from jiph.stack.config import StackConfig
from shared import identity_provider
from shared.auth.verifier import JWKS_COOLDOWN_S
from tests.e2e.test_triage_flow import a_request, eventually
from tests.running_services import TokenFactory

pytestmark = pytest.mark.e2e


def token_endpoint(stack: StackConfig) -> str:
    return f"{keycloak.issuer(stack)}/protocol/openid-connect/token"


def partner_sign_in(
    stack: StackConfig, services: dict[str, str], partner_id: str
) -> dict[str, str]:
    """A partner's system: the credentials the hub issued it at onboarding (intake's
    `POST /v1/partners/{id}/credentials`, by an administrator signed in at the provider), then
    a token by the client-credentials grant, as the example in the answer shows."""
    issued = httpx.post(
        f"{services['intake']}/v1/partners/{partner_id}/credentials",
        headers=staff_sign_in(stack, "admin"),
        timeout=15,
    )
    assert issued.status_code == 200, issued.text
    credentials = issued.json()
    assert credentials["client_id"] == identity_provider.partner_client_id(partner_id)
    assert credentials["token_endpoint"] == token_endpoint(stack)
    assert credentials["client_secret"] in credentials["example"]
    answer = httpx.post(
        credentials["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def staff_sign_in(stack: StackConfig, username: str) -> dict[str, str]:
    answer = httpx.post(
        token_endpoint(stack),
        data={
            "grant_type": "password",
            "client_id": realm.CLI_CLIENT,
            "username": username,
            "password": realm.STAFF_PASSWORD,
            "scope": "openid",
        },
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def claims(headers: dict[str, str]) -> dict[str, Any]:
    token = headers["Authorization"].removeprefix("Bearer ")
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_a_request_goes_from_submission_to_approval_on_the_providers_tokens(
    services: dict[str, str], test_stack: StackConfig, token: TokenFactory
) -> None:
    partner_id = f"un-{uuid.uuid4().hex[:8]}"
    token("partner", partner_id=partner_id)  # registered with the hub (intake's registry)
    partner = partner_sign_in(test_stack, services, partner_id)
    officer, approver = staff_sign_in(test_stack, "officer"), staff_sign_in(test_stack, "approver")
    assert claims(partner)["iss"] == keycloak.issuer(test_stack)
    assert (claims(partner)["role"], claims(partner)["partner_id"]) == ("partner", partner_id)
    assert (claims(officer)["role"], claims(officer)["clearance"]) == ("triage_officer", "sc")

    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
    ):
        made = await intake.post("/v1/requests", headers=partner, json=a_request())
        assert made.status_code == 201, made.text
        rid = made.json()["request"]["id"]
        case = await eventually(triage, f"/v1/cases/{rid}", officer)
        assert case["status"] == "in_triage"
        assessed = await triage.post(
            f"/v1/cases/{rid}/assessment", headers=officer, json={"risk_tier": "low"}
        )
        assert assessed.status_code == 200, assessed.text
        # The assessor is the officer's subject at the provider: the board member is someone else.
        assert assessed.json()["case"]["assessment"]["assessor"] == claims(officer)["sub"]
        approved = await triage.post(
            f"/v1/cases/{rid}/decisions",
            headers=approver,
            json={"decision": "approve", "stage": "board", "reason": "Meets the criteria."},
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["case"]["status"] == "approved"
        seen = await eventually(intake, f"/v1/requests/{rid}", partner, status="approved")
        assert seen["id"] == rid

        # The provider's token for another partner does not reach this partner's request.
        other_id = f"eu-{uuid.uuid4().hex[:8]}"
        token("partner", partner_id=other_id, partner_type="eu")
        other = partner_sign_in(test_stack, services, other_id)
        assert (await intake.get(f"/v1/requests/{rid}", headers=other)).status_code == 404


async def test_a_key_the_provider_rotates_in_is_accepted_by_every_service_at_once(
    services: dict[str, str], test_stack: StackConfig
) -> None:
    before = staff_sign_in(test_stack, "admin")
    old_kid = jwt.get_unverified_header(before["Authorization"].removeprefix("Bearer "))["kid"]
    for url in services.values():  # every service has fetched the current key set
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            answer = await client.get("/v1/admin/deadletters", headers=before)
            assert answer.status_code == 200, answer.text
    admin = realm.Admin(test_stack)
    try:
        rotated = admin.send(
            "POST",
            f"{keycloak.REALM}/components",
            {
                "name": f"rotated-{uuid.uuid4().hex[:6]}",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "config": {"priority": ["1000"], "keySize": ["2048"], "active": ["true"]},
            },
        )
        assert rotated.status_code == 201, rotated.text
        after = staff_sign_in(test_stack, "admin")
        new_kid = jwt.get_unverified_header(after["Authorization"].removeprefix("Bearer "))["kid"]
        assert new_kid != old_kid
        # Each service refetches the key set at the first token with an unknown key id, at most
        # once per cooldown: accepted within it, without a restart.
        rotated_at = asyncio.get_running_loop().time()
        for name, url in services.items():
            async with httpx.AsyncClient(base_url=url, timeout=15) as client:
                while True:
                    answer = await client.get("/v1/admin/deadletters", headers=after)
                    waited = asyncio.get_running_loop().time() - rotated_at
                    if answer.status_code == 200 or waited > JWKS_COOLDOWN_S + 10:
                        break
                    assert "key id is not known" in answer.text, answer.text
                    await asyncio.sleep(1)
                assert answer.status_code == 200, (name, waited, answer.text)
    finally:
        component = rotated.headers.get("location", "").rsplit("/", 1)[-1]
        if component:
            admin.send("DELETE", f"{keycloak.REALM}/components/{component}", ok={404})
        admin.close()


async def test_a_token_of_an_issuer_not_trusted_is_refused(services: dict[str, str]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": "http://127.0.0.1:1/realms/jiph",
            "aud": "jiph-gateway",
            "sub": "x",
            "role": "admin",
            "exp": 4102444800,
        },
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        algorithm="RS256",
        headers={"kid": "forged"},
    )
    async with httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake:
        answer = await intake.get("/v1/requests", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401 and "issuer is not accepted" in answer.json()["detail"]


async def test_credentials_are_issued_to_active_partners_only_and_a_new_issue_rotates_them(
    services: dict[str, str], test_stack: StackConfig, token: TokenFactory
) -> None:
    partner_id = f"osce-{uuid.uuid4().hex[:8]}"
    token("partner", partner_id=partner_id, partner_type="osce")
    admin = staff_sign_in(test_stack, "admin")
    url = f"{services['intake']}/v1/partners/{partner_id}/credentials"
    async with httpx.AsyncClient(timeout=15) as http:
        first = (await http.post(url, headers=admin)).json()
        second = (await http.post(url, headers=admin)).json()
        assert first["client_secret"] != second["client_secret"]
        old = await http.post(
            first["token_endpoint"],
            data={"grant_type": "client_credentials"},
            auth=(first["client_id"], first["client_secret"]),
        )
        assert old.status_code == 401  # the earlier secret stopped working
        refused = await http.post(url, headers=staff_sign_in(test_stack, "officer"))
        assert refused.status_code == 403
        unknown = await http.post(
            f"{services['intake']}/v1/partners/nobody-{uuid.uuid4().hex[:6]}/credentials",
            headers=admin,
        )
        assert unknown.status_code == 404
        deactivated = await http.post(
            f"{services['intake']}/v1/partners/{partner_id}/deactivation",
            headers=admin,
            json={"reason": "Mission closed in November."},
        )
        assert deactivated.status_code == 200, deactivated.text
        inactive = await http.post(url, headers=admin)
        assert (
            inactive.status_code == 409 and inactive.json()["type"] == "/problems/partner-inactive"
        )
