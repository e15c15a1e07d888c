"""Staff e-mail over the running stack: a board approval that leaves a high-risk case waiting for
a minister reaches the ministers' mailbox through the stack's own SMTP receiver (aiosmtpd,
started by `jiph up`), once, saying only codes and the reference; so does a case given to an
officer, to that officer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from email.message import Message
from typing import Any

import httpx
import pytest

from jiph.stack import mailbox
from jiph.stack.config import StackConfig
from jiph.stack.services import MINISTERS_MAILBOX, STAFF_MAIL_DOMAIN
from tests.e2e.test_triage_flow import Hub, open_case
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub(token: TokenFactory) -> Hub:
    return Hub(token)


@pytest.fixture
def partner(token: TokenFactory) -> dict[str, str]:
    return bearer(token("partner", partner_id=f"mail-{uuid.uuid4().hex[:8]}"))


@pytest.fixture
async def clients(services: dict[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
    ):
        yield intake, triage


def mail_about(cfg: StackConfig, reference: str) -> list[Message]:
    return [m for m in mailbox.received(cfg) if reference in str(m["Subject"])]


async def wait_mail(cfg: StackConfig, reference: str, timeout_s: float = 30) -> list[Message]:
    for _ in range(int(timeout_s / 0.2)):
        found = mail_about(cfg, reference)
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no e-mail about {reference} within {timeout_s} s")


async def assess_and_approve(
    triage: httpx.AsyncClient, hub: Hub, rid: str, risk_tier: str
) -> dict[str, Any]:
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.officer,
        json={"risk_tier": risk_tier, "alignment": 0.7, "notes": "OSJA completed."},
    )
    assert assessed.status_code == 200, assessed.text
    approved = await triage.post(
        f"/v1/cases/{rid}/decisions",
        json={"decision": "approve", "stage": "board", "reason": "Meets the criteria."},
        headers=hub.as_("approver", "bob"),
    )
    assert approved.status_code == 200, approved.text
    case: dict[str, Any] = approved.json()["case"]
    return case


async def test_the_ministers_are_mailed_when_a_case_waits_for_them(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    test_stack: StackConfig,
) -> None:
    _, triage = clients
    secret_title = "Sensitive: advisers for the northern region"
    rid, case = await open_case(clients, partner, hub, title=secret_title)
    approved = await assess_and_approve(triage, hub, rid, "high")
    assert approved["status"] == "awaiting_ministerial"
    reference = case["reference"]
    [message] = await wait_mail(test_stack, reference)
    assert message["To"] == MINISTERS_MAILBOX
    assert message["Subject"] == f"Ministerial decision wanted: {reference}"
    assert message["X-JIPH-Kind"] == "ministerial-decision-wanted"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"/v1/cases/{rid}" in body and "high human-rights risk" in body
    assert secret_title not in body  # the partner's text stays out of e-mail
    await asyncio.sleep(2)  # the consumer meets the approval again: still one message
    assert len(mail_about(test_stack, reference)) == 1


async def test_a_case_that_needs_no_minister_mails_no_one(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    test_stack: StackConfig,
) -> None:
    _, triage = clients
    rid, case = await open_case(clients, partner, hub)
    low = await assess_and_approve(triage, hub, rid, "low")
    assert low["status"] == "approved"
    # A high-risk case approved after it: once its mail is there, the low one's would be too.
    other_rid, other = await open_case(clients, partner, hub)
    await assess_and_approve(triage, hub, other_rid, "high")
    await wait_mail(test_stack, other["reference"])
    assert mail_about(test_stack, case["reference"]) == []


async def test_an_officer_given_a_case_is_mailed_and_one_who_claims_it_is_not(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    test_stack: StackConfig,
) -> None:
    _, triage = clients
    rid, case = await open_case(clients, partner, hub)
    reference = case["reference"]
    carol = hub.as_("triage_officer", "carol")
    claimed = await triage.post(f"/v1/cases/{rid}/claim", headers=carol)
    assert claimed.status_code == 200, claimed.text
    # Then an officer gives it to Bob: the claim came first on the case's stream, so once
    # Bob's message is there, Carol's would be too, had a claim sent one.
    given = await triage.post(
        f"/v1/cases/{rid}/assignment", json={"owner": hub.names["bob"]}, headers=hub.officer
    )
    assert given.status_code == 200, given.text
    [message] = await wait_mail(test_stack, reference)
    assert message["To"] == f"{hub.names['bob']}@{STAFF_MAIL_DOMAIN}"
    assert message["Subject"] == f"Case assigned to you: {reference}"
    assert message["X-JIPH-Kind"] == "case-assigned"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"/v1/cases/{rid}" in body and reference in body
    await asyncio.sleep(2)  # the consumer meets the assignment again: still one message
    assert len(mail_about(test_stack, reference)) == 1
