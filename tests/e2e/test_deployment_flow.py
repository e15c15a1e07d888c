"""Deployment over HTTP against the running service, its database and the broker: the capability
register, a deployment's whole life, and the reactions to a withdrawn or paused request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.deployment.domain import tour_end_for
from shared.catalogue.deployment import DeploymentStarted
from tests.e2e.test_deployment_support import (
    TODAY,
    Api,
    an_offer,
    days,
    publish_on_hold,
    publish_withdrawn,
    published,
    wait_until,
)
from tests.running_services import TokenFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(services: dict[str, str], token: TokenFactory) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=services["deployment"], timeout=30) as client:
        yield Api(client, token)


def force() -> str:
    return f"force-{uuid.uuid4().hex[:8]}"


def officer(view: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(o for o in view["officers"] if o["officer_ref"] == ref)


# --- the capability register -------------------------------------------------------------------
async def test_a_force_offers_an_officer_under_a_pseudonym(api: Api) -> None:
    home = force()
    response = await api.client.post("/v1/offers", json=an_offer(), headers=api.liaison(home))
    assert response.status_code == 201, response.text
    offer = response.json()["offer"]
    assert offer["officer_ref"].startswith("OFF-") and offer["force"] == home
    assert response.headers["Location"] == f"/v1/offers/{offer['id']}"
    assert "Jo Smith" not in response.text and "jo.smith" not in response.text
    listed = await api.client.get("/v1/offers", params={"force": home}, headers=api.manager)
    assert [o["officer_ref"] for o in listed.json()["items"]] == [offer["officer_ref"]]


async def test_offers_are_filtered_and_paginated(api: Api) -> None:
    home = force()
    ids = {(await api.offer(home, capability=c))["id"] for c in ("forensics", "forensics", "sgbv")}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"force": home, "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get("/v1/offers", params=params, headers=api.manager)).json()
        seen += [o["id"] for o in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    sgbv = await api.client.get(
        "/v1/offers", params={"force": home, "capability": "sgbv"}, headers=api.manager
    )
    assert len(sgbv.json()["items"]) == 1
    later = await api.client.get(
        "/v1/offers", headers=api.manager, params={"force": home, "available_on": days(5000)}
    )
    assert later.json()["items"] == []


async def test_a_force_sees_and_withdraws_only_its_own_offers(api: Api) -> None:
    mine, theirs = force(), force()
    offer = await api.offer(mine)
    await api.offer(theirs)
    own = await api.client.get("/v1/offers", params={"force": theirs}, headers=api.liaison(mine))
    assert {o["force"] for o in own.json()["items"]} == {mine}
    stolen = await api.client.delete(f"/v1/offers/{offer['id']}", headers=api.liaison(theirs))
    assert stolen.status_code == 404
    withdrawn = await api.client.delete(
        f"/v1/offers/{offer['id']}", headers=api.liaison(mine), params={"reason": "needed at home"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["offer"]["status"] == "withdrawn"
    again = await api.client.delete(f"/v1/offers/{offer['id']}", headers=api.liaison(mine))
    assert again.status_code == 409 and again.json()["type"] == "/problems/already-withdrawn"


async def test_an_offer_is_strictly_validated(api: Api) -> None:
    home = api.liaison(force())
    extra = await api.client.post(
        "/v1/offers", json=an_offer(officer_ref_override="x"), headers=home
    )
    assert extra.status_code == 422
    bad = await api.client.post(
        "/v1/offers", headers=home, json=an_offer(vetting_level="top-secret", capability="x")
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.vetting_level", "body.capability"}
    window = await api.client.post(
        "/v1/offers", headers=home, json=an_offer(available_from=days(30), available_to=days(10))
    )
    assert window.status_code == 422 and window.json()["type"] == "/problems/availability-window"
    manager = await api.client.post("/v1/offers", json=an_offer(), headers=api.manager)
    assert manager.status_code == 403


# --- a deployment's life -----------------------------------------------------------------------
async def test_an_approved_request_is_staffed_deployed_extended_and_completed(
    api: Api, bootstrap: str
) -> None:
    request_id = await api.requirement(bootstrap, classification="OFFICIAL-SENSITIVE", headcount=2)
    north, south = force(), force()
    first = (await api.offer(north))["officer_ref"]
    second = (await api.offer(south, officer={"gender": "male"}))["officer_ref"]
    ctc = (await api.offer(north, vetting_level="ctc"))["officer_ref"]
    trainer = (await api.offer(north, capability="training"))["officer_ref"]

    deployment = await api.plan(request_id, mission="UNSOM")
    did = deployment["id"]
    assert deployment["status"] == "planned"
    assert deployment["tour_end"] == tour_end_for(TODAY + timedelta(days=14), 6).isoformat()
    twice = await api.client.post(
        "/v1/deployments",
        headers=api.manager,
        json={"request_id": str(request_id), "tour_start": days(20)},
    )
    assert twice.status_code == 409 and twice.json()["type"] == "/problems/deployment-exists"

    for ref, rule in ((ctc, "vetting-insufficient"), (trainer, "capability-mismatch")):
        refused = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
        assert refused.status_code == 409 and refused.json()["type"] == f"/problems/{rule}"
    for ref in (first, second):
        nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
        assert nominated.status_code == 201, nominated.text
    full = await api.post(
        f"/v1/deployments/{did}/nominations", officer_ref=(await api.offer(north))["officer_ref"]
    )
    assert full.status_code == 409 and full.json()["type"] == "/problems/headcount-reached"

    early = await api.post(f"/v1/deployments/{did}/start")
    assert early.status_code == 409 and early.json()["type"] == "/problems/posts-not-filled"
    not_theirs = await api.post(
        f"/v1/deployments/{did}/officers/{first}/release", headers=api.liaison(south)
    )
    assert not_theirs.status_code == 404  # another force's officer: as if there were none
    unreleased = await api.post(f"/v1/deployments/{did}/officers/{first}/clearance")
    assert unreleased.status_code == 409 and unreleased.json()["type"] == "/problems/not-released"
    for ref, home in ((first, north), (second, south)):
        released = await api.post(
            f"/v1/deployments/{did}/officers/{ref}/release", headers=api.liaison(home)
        )
        assert released.status_code == 200, released.text
        cleared = await api.post(f"/v1/deployments/{did}/officers/{ref}/clearance")
        assert cleared.status_code == 200, cleared.text
    ready = await api.deployment(did)
    assert ready["status"] == "ready" and ready["cleared"] == 2

    # Dates that make sense: a start before the planned one, or one still to come, is refused.
    too_soon = await api.post(f"/v1/deployments/{did}/start", on=days(7), today=days(7))
    assert too_soon.json()["type"] == "/problems/start-before-tour-start", too_soon.text
    ahead = await api.post(f"/v1/deployments/{did}/start", on=days(14))
    assert ahead.status_code == 422 and ahead.json()["type"] == "/problems/start-in-future"
    started = await api.post(f"/v1/deployments/{did}/start", on=days(14), today=days(14))
    assert started.status_code == 200, started.text
    assert {o["status"] for o in started.json()["deployment"]["officers"]} == {"deployed"}
    extended = await api.post(f"/v1/deployments/{did}/extension", months=3)
    assert extended.status_code == 200, extended.text
    new_end = extended.json()["deployment"]["tour_end"]
    assert new_end > ready["tour_end"] and extended.json()["deployment"]["extensions"] == 1

    repatriation = f"/v1/deployments/{did}/officers/{second}/repatriation"
    bad_reason = await api.post(repatriation, reason_code="homesick", on=days(40), today=days(40))
    assert bad_reason.status_code == 422
    ahead = await api.post(repatriation, reason_code="medical", on=days(40), today=days(20))
    assert ahead.json()["type"] == "/problems/repatriation-in-future", ahead.text
    home_early = await api.post(repatriation, reason_code="medical", on=days(40), today=days(40))
    assert home_early.status_code == 200, home_early.text
    completed = await api.post(f"/v1/deployments/{did}/completion", on=new_end, today=new_end)
    assert completed.status_code == 200, completed.text

    final = await api.deployment(did)
    assert final["status"] == "completed" and final["mission"] == "UNSOM"
    assert officer(final, first)["status"] == "returned"
    assert officer(final, second)["status"] == "repatriated_early"
    assert officer(final, second)["repatriation_reason"] == "medical"
    assert [e["event"] for e in final["timeline"]] == [
        "DeploymentPlanned",
        "OfficerNominated",
        "OfficerNominated",
        "OfficerReleased",
        "OfficerCleared",
        "OfficerReleased",
        "OfficerCleared",
        "DeploymentStarted",
        "TourExtended",
        "OfficerRepatriated",
        "DeploymentCompleted",
    ]
    requirement = await api.client.get(f"/v1/requirements/{request_id}", headers=api.manager)
    assert requirement.json()["status"] == "fulfilled"

    # South's liaison officer sees South's officer, and nothing that names North's.
    seen = await api.client.get(f"/v1/deployments/{did}", headers=api.liaison(south))
    assert seen.status_code == 200, seen.text
    assert [o["officer_ref"] for o in seen.json()["officers"]] == [second]
    assert first not in seen.text and seen.json()["posts"] == []
    assert [e["event"] for e in seen.json()["timeline"]] == [
        "DeploymentPlanned",
        "OfficerNominated",
        "OfficerReleased",
        "OfficerCleared",
        "DeploymentStarted",
        "TourExtended",
        "OfficerRepatriated",
        "DeploymentCompleted",
    ]
    started_entry = next(e for e in seen.json()["timeline"] if e["event"] == "DeploymentStarted")
    assert started_entry["details"]["officer_refs"] == [second]

    mine = await published(bootstrap, str(request_id), expect=len(final["timeline"]))
    assert [e.event_type for e in mine] == [e["event"] for e in final["timeline"]]
    started_event = next(e.payload() for e in mine if e.event_type == "DeploymentStarted")
    assert isinstance(started_event, DeploymentStarted)
    assert sorted(started_event.officer_refs) == sorted([first, second])


async def test_requirements_and_deployments_are_found_by_the_request_s_reference(
    api: Api, bootstrap: str
) -> None:
    request_id = await api.requirement(bootstrap)
    requirement = await api.client.get(f"/v1/requirements/{request_id}", headers=api.manager)
    reference = requirement.json()["reference"]
    did = (await api.plan(request_id))["id"]
    for path, key, expected in (
        ("/v1/requirements", "request_id", str(request_id)),
        ("/v1/deployments", "id", did),
    ):
        found = await api.client.get(
            path, params={"reference": reference.lower()}, headers=api.manager
        )
        assert found.status_code == 200, found.text
        assert [item[key] for item in found.json()["items"]] == [expected]
        other = await api.client.get(
            path, params={"reference": "JIPH-1999-000000"}, headers=api.manager
        )
        assert other.json()["items"] == []
        bad = await api.client.get(path, params={"reference": "JIPH 1"}, headers=api.manager)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.reference"


async def test_official_sensitive_detail_needs_sc_clearance(
    api: Api, bootstrap: str, token: TokenFactory
) -> None:
    request_id = await api.requirement(bootstrap, classification="OFFICIAL-SENSITIVE")
    did = (await api.plan(request_id, mission="EUCAP Somalia"))["id"]
    uncleared = {"Authorization": f"Bearer {token('deployment_manager', sub='m2')}"}
    view = await api.client.get(f"/v1/deployments/{did}", headers=uncleared)
    assert view.json()["mission"] is None and view.json()["redacted"] is True
    assert view.json()["withheld"] == ["mission"]


async def test_clearance_lists_every_item_that_fails_before_the_tour_ends(
    api: Api, bootstrap: str
) -> None:
    request_id = await api.requirement(bootstrap, headcount=1)
    home = force()
    ref = (await api.offer(home, medical_expires=days(60), passport_expires=days(90)))[
        "officer_ref"
    ]
    did = (await api.plan(request_id))["id"]
    assert (
        await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    ).status_code == 201
    released = await api.post(
        f"/v1/deployments/{did}/officers/{ref}/release", headers=api.liaison(home)
    )
    assert released.status_code == 200
    refused = await api.post(f"/v1/deployments/{did}/officers/{ref}/clearance")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/clearance-failed"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in problem["errors"]} == {"medical_expires", "passport_expires"}
    cancelled = await api.post(f"/v1/deployments/{did}/cancellation", reason="No cleared officer.")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["deployment"]["status"] == "cancelled"


async def test_a_committed_officer_cannot_be_withdrawn_by_their_force(
    api: Api, bootstrap: str
) -> None:
    home = force()
    offer = await api.offer(home)
    did = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]
    assert (
        await api.post(f"/v1/deployments/{did}/nominations", officer_ref=offer["officer_ref"])
    ).status_code == 201
    refused = await api.client.delete(f"/v1/offers/{offer['id']}", headers=api.liaison(home))
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/officer-committed"


# --- reacting to intake and triage -------------------------------------------------------------
async def _nominated_deployment(api: Api, bootstrap: str) -> tuple[uuid.UUID, str, str]:
    request_id = await api.requirement(bootstrap)
    ref = (await api.offer(force()))["officer_ref"]
    did = (await api.plan(request_id))["id"]
    assert (
        await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    ).status_code == 201
    return request_id, did, ref


async def _cancelled(api: Api, did: str) -> dict[str, Any]:
    async def done() -> bool:
        return (await api.deployment(did))["status"] == "cancelled"

    await wait_until(done, "the deployment was not cancelled")
    return await api.deployment(did)


async def test_a_withdrawn_request_cancels_its_deployment_and_frees_the_officers(
    api: Api, bootstrap: str
) -> None:
    request_id, did, ref = await _nominated_deployment(api, bootstrap)
    withdrawal = await publish_withdrawn(bootstrap, request_id)

    view = await _cancelled(api, did)
    assert "withdrew" in view["cancel_reason"]
    assert [e["event"] for e in view["timeline"]].count("DeploymentCancelled") == 1
    requirement = await api.client.get(f"/v1/requirements/{request_id}", headers=api.manager)
    assert requirement.json()["status"] == "withdrawn"
    again = await api.client.post(
        "/v1/deployments",
        headers=api.manager,
        json={"request_id": str(request_id), "tour_start": days(14)},
    )
    assert again.status_code == 409 and again.json()["type"] == "/problems/request-withdrawn"

    # The officer is free again for the same dates.
    other = (await api.plan(await api.requirement(bootstrap)))["id"]
    free = await api.post(f"/v1/deployments/{other}/nominations", officer_ref=ref)
    assert free.status_code == 201, free.text

    # Exactly once on the topic too, caused by the withdrawal.
    mine = await published(bootstrap, str(request_id), expect=3)  # planned, nominated, cancelled
    cancellations = [e for e in mine if e.event_type == "DeploymentCancelled"]
    assert len(cancellations) == 1
    assert cancellations[0].causation_id == str(withdrawal.event_id)
    assert cancellations[0].data["released_officer_refs"] == [ref]


async def test_a_withdrawn_request_cancels_its_planned_deployment(api: Api, bootstrap: str) -> None:
    request_id = await api.requirement(bootstrap)
    did = (await api.plan(request_id))["id"]
    await publish_withdrawn(bootstrap, request_id)
    view = await _cancelled(api, did)
    assert view["officers"] == [] and view["status"] == "cancelled"


async def test_a_request_put_on_hold_cancels_its_staffing_deployment(
    api: Api, bootstrap: str
) -> None:
    request_id, did, _ = await _nominated_deployment(api, bootstrap)
    await publish_on_hold(bootstrap, request_id)
    view = await _cancelled(api, did)
    assert "on hold" in view["cancel_reason"]
    requirement = await api.client.get(f"/v1/requirements/{request_id}", headers=api.manager)
    assert requirement.json()["status"] == "on_hold"
