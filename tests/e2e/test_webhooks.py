"""Partners' webhooks over the running stack: a receiver of the test's own gets each change of
the partner's requests as a Standard Webhooks request, signed, retried after 500s with the same
`webhook-id`, dead-lettered after the last attempt and sent again on request; addresses inside
the hub's networks are refused, and no connection is made to them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from jiph.stack.config import StackConfig
from tests.e2e.test_intake_api import submit
from tests.running_services import TokenFactory, bearer
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receiver(test_stack: StackConfig) -> Iterator[Receiver]:
    """On the stack's allow-listed port (the services' development allow-list names it)."""
    running = Receiver(port=test_stack.webhook_sink_port).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def trap() -> Iterator[tuple[Receiver, Receiver]]:
    """Receivers on loopback (IPv4 and IPv6) at a port no allow-list names: must see nothing."""
    v4 = Receiver().start()
    v6 = Receiver(host="::1", port=v4.port).start()
    yield v4, v6
    v4.stop()
    v6.stop()


@pytest.fixture
def partner(token: TokenFactory) -> dict[str, str]:
    return bearer(token("partner", partner_id=f"hooks-{uuid.uuid4().hex[:8]}"))


def sink(receiver: Receiver, path: str) -> str:
    return f"http://127.0.0.1:{receiver.port}{path}"


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **more: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, **more}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for(check: Any, timeout_s: float = 30) -> Any:
    for _ in range(int(timeout_s / 0.1)):
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time allowed")


async def deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], endpoint: dict[str, Any], **query: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params=query, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def spec_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The specification's algorithm, written out: HMAC-SHA256 under the base64 key after
    `whsec_`, of `{id}.{timestamp}.{body}`, base64, as `v1,<signature>`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_each_change_arrives_signed_as_the_specification_says(
    services: dict[str, str], partner: dict[str, str], receiver: Receiver
) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        endpoint = await register(client, partner, sink(receiver, path), description="case system")
        created = (await submit(client, partner))["request"]
        # The submission, then the hub's opening of the case (triage, through Kafka).
        got = await wait_for(lambda: _of_types(receiver.on(path), "RequestTriaged"))
    assert endpoint["secret"].startswith("whsec_")
    assert "secret" not in (await _get(services, partner, endpoint))
    first = [
        r for r in receiver.on(path) if _payload(r)["data"]["event_type"] == "RequestSubmitted"
    ]
    assert len(first) == 1  # written through, then consumed again: still one delivery
    for received in [*first, *got]:
        headers = received.headers
        assert headers["webhook-id"].startswith("msg_")
        assert headers["webhook-signature"] == spec_signature(
            endpoint["secret"], headers, received.body
        )
        Webhook(endpoint["secret"]).verify(received.body, headers)  # the spec's own package
        data = _payload(received)["data"]
        assert data["request_id"] == created["id"] and data["reference"] == created["reference"]
    assert _payload(first[0])["type"] == "request.updated"
    assert _payload(first[0])["data"]["status"] == "submitted"
    assert _payload(got[0])["data"]["status"] == "in_triage"
    forged = {
        **first[0].headers,
        "webhook-signature": spec_signature(
            "whsec_" + base64.b64encode(b"another key of 32 bytes.........").decode(),
            first[0].headers,
            first[0].body,
        ),
    }
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint["secret"]).verify(first[0].body, forged)


async def test_a_500_is_retried_with_the_same_webhook_id_until_delivered(
    services: dict[str, str], partner: dict[str, str], receiver: Receiver
) -> None:
    path = f"/flaky/{uuid.uuid4().hex}/2"
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        endpoint = await register(
            client, partner, sink(receiver, path), event_types=["RequestSubmitted"]
        )
        await submit(client, partner)
        done = await wait_for(lambda: _states(client, partner, endpoint, "delivered"))
    attempts = receiver.on(path)
    assert len(attempts) == 3  # two 500s, then a 204
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert {_payload(a)["data"]["event_type"] for a in attempts} == {"RequestSubmitted"}
    assert [a.body for a in attempts] == [attempts[0].body] * 3  # the very body signed first
    stamps = [int(a.headers["webhook-timestamp"]) for a in attempts]
    assert stamps == sorted(stamps)
    assert done[0]["attempts"] == 3 and done[0]["id"] == attempts[0].headers["webhook-id"]
    assert done[0]["last_status_code"] == 200


async def test_the_last_failure_is_a_dead_letter_that_can_be_sent_again(
    services: dict[str, str], partner: dict[str, str], receiver: Receiver
) -> None:
    path = f"/down/{uuid.uuid4().hex}"
    receiver.down = True
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        endpoint = await register(
            client, partner, sink(receiver, path), event_types=["RequestSubmitted"]
        )
        await submit(client, partner)
        dead = await wait_for(lambda: _states(client, partner, endpoint, "dead"))
        assert dead[0]["attempts"] == 3 and dead[0]["last_status_code"] == 500
        assert dead[0]["next_attempt_at"] is None
        await asyncio.sleep(1.5)
        assert len(receiver.on(path)) == 3  # no attempt after the last
        receiver.down = False
        again = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{dead[0]['id']}/redelivery",
            headers=partner,
        )
        assert again.status_code == 202, again.text
        assert again.json()["state"] == "pending"
        delivered = await wait_for(lambda: _states(client, partner, endpoint, "delivered"))
    attempts = receiver.on(path)
    assert len(attempts) == 4
    assert {a.headers["webhook-id"] for a in attempts} == {dead[0]["id"]}
    assert delivered[0]["id"] == dead[0]["id"]


@pytest.mark.parametrize(
    "where",
    [
        "http://127.0.0.1:{port}/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",  # a name that resolves to loopback
        "https://[::ffff:127.0.0.1]:{port}/",
        "http://0x7f.1:{port}/",
    ],
)
async def test_addresses_inside_the_hub_are_refused_without_a_connection(
    services: dict[str, str],
    partner: dict[str, str],
    trap: tuple[Receiver, Receiver],
    where: str,
) -> None:
    url = where.format(port=trap[0].port)
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        response = await client.post("/v1/webhook-endpoints", json={"url": url}, headers=partner)
        listed = await client.get("/v1/webhook-endpoints", headers=partner)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "body.url"
    assert listed.json()["items"] == []
    assert trap[0].received == [] and trap[1].received == []


async def test_a_redirect_to_an_inside_address_is_not_followed(
    services: dict[str, str],
    partner: dict[str, str],
    receiver: Receiver,
    trap: tuple[Receiver, Receiver],
) -> None:
    path = f"/redirect/{uuid.uuid4().hex}"
    receiver.redirect_to = f"http://127.0.0.1:{trap[0].port}/inside"
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        endpoint = await register(
            client, partner, sink(receiver, path), event_types=["RequestSubmitted"]
        )
        await submit(client, partner)
        dead = await wait_for(lambda: _states(client, partner, endpoint, "dead"))
    assert len(receiver.on(path)) == 3
    assert "redirect" in dead[0]["last_error"] and dead[0]["last_status_code"] == 302
    assert trap[0].received == [] and trap[1].received == []


async def test_endpoints_are_the_partners_own(
    services: dict[str, str], token: TokenFactory, partner: dict[str, str], receiver: Receiver
) -> None:
    other = bearer(token("partner", partner_id=f"hooks-{uuid.uuid4().hex[:8]}"))
    staff = bearer(token("triage_officer"))
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        endpoint = await register(client, partner, sink(receiver, "/ok/own"))
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        assert (await client.get(base, headers=other)).status_code == 404
        assert (await client.delete(base, headers=other)).status_code == 404
        assert (await client.get(f"{base}/deliveries", headers=other)).status_code == 404
        assert (await client.get("/v1/webhook-endpoints", headers=other)).json()["items"] == []
        assert (await client.get("/v1/webhook-endpoints", headers=staff)).status_code == 403
        paused = await client.patch(base, json={"active": False}, headers=partner)
        assert paused.status_code == 200 and paused.json()["active"] is False
        bad = await client.patch(base, json={"url": "http://10.1.2.3/"}, headers=partner)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.url"
        unknown = await client.post(
            "/v1/webhook-endpoints",
            json={"url": sink(receiver, "/ok/x"), "event_types": ["NoSuchEvent"]},
            headers=partner,
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "body.event_types"
        assert (await client.delete(base, headers=partner)).status_code == 204
        assert (await client.get(base, headers=partner)).status_code == 404


def _payload(received: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(received.body)
    return parsed


def _of_types(received: list[Any], event_type: str) -> list[Any]:
    return [r for r in received if _payload(r)["data"]["event_type"] == event_type]


async def _states(
    client: httpx.AsyncClient, headers: dict[str, str], endpoint: dict[str, Any], state: str
) -> list[dict[str, Any]]:
    return await deliveries(client, headers, endpoint, state=state)


async def _get(services: dict[str, str], headers: dict[str, str], endpoint: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        return (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=headers)).json()
