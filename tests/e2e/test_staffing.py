"""Staffing over HTTP against the running deployment service, its database and the broker: posts
with the request's role profile, matching offers to a post, replacing a nominee who failed
clearance, backfilling after an early repatriation, and offers updated in place."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.catalogue.intake import Contact, RequestSubmitted, RoleProfile
from shared.topics import INTAKE_EVENTS
from tests.e2e.test_deployment_support import (
    Api,
    an_offer,
    days,
    publish,
    publish_approved,
    wait_until,
)
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(services: dict[str, str], token: TokenFactory) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=services["deployment"], timeout=30) as client:
        yield Api(client, token)


def force() -> str:
    return f"force-{uuid.uuid4().hex[:8]}"


def officer(view: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(o for o in view["officers"] if o["officer_ref"] == ref)


def post(view: dict[str, Any], post_id: str = "P1") -> dict[str, Any]:
    return next(p for p in view["posts"] if p["post_id"] == post_id)


async def requirement_with_profile(
    api: Api,
    bootstrap: str,
    *,
    capability: str = "public-order",
    headcount: int = 1,
    country: str = "SO",
) -> uuid.UUID:
    """A request submitted to intake with a role profile, then approved by triage."""
    request_id = uuid.uuid4()
    submitted = RequestSubmitted(
        request_id=request_id,
        reference=f"JIPH-2026-{request_id.int % 10**6:06d}",
        partner_id="un-dpo",
        title="Public order advisers",
        description="Advise the host police on public order.",
        country=country,
        requesting_body="UNSOM",
        partner_type="un",
        capability=capability,
        headcount=headcount,
        role_profile=RoleProfile(
            rank="Inspector", skills=["public order command"], languages=["French", "Arabic"]
        ),
        tour_length_months=6,
        needed_by=days(60),
        funding_source="cssf-oda",
        classification="OFFICIAL",
        contact=Contact(name="A. Partner", email="a.partner@un.example"),
    )
    await publish(
        bootstrap,
        INTAKE_EVENTS,
        submitted,
        stream_id=f"request-{request_id}",
        version=1,
        producer="intake",
        role="partner",
    )
    await publish_approved(
        bootstrap, request_id, capability=capability, headcount=headcount, country=country
    )

    async def profiled() -> bool:
        r = await api.client.get(f"/v1/requirements/{request_id}", headers=api.manager)
        return r.status_code == 200 and r.json()["rank"] == "Inspector"

    await wait_until(profiled, "the submission and approval were not both consumed")
    return request_id


async def staffed_to_release(api: Api, did: str, ref: str, home: str) -> None:
    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    assert nominated.status_code == 201, nominated.text
    released = await api.post(
        f"/v1/deployments/{did}/officers/{ref}/release", headers=api.liaison(home)
    )
    assert released.status_code == 200, released.text


async def test_a_failed_clearance_is_replaced_without_cancelling_the_deployment(
    api: Api, bootstrap: str
) -> None:
    request_id = await requirement_with_profile(api, bootstrap)
    home = force()
    lapsing = (await api.offer(home, medical_expires=days(60)))["officer_ref"]
    spare = (await api.offer(home))["officer_ref"]
    deployment = await api.plan(request_id)
    did = deployment["id"]
    assert deployment["rank"] == "Inspector" and deployment["languages"] == ["French", "Arabic"]
    assert [(p["post_id"], p["status"]) for p in deployment["posts"]] == [("P1", "vacant")]
    await staffed_to_release(api, did, lapsing, home)

    refused = await api.post(f"/v1/deployments/{did}/officers/{lapsing}/clearance")
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/clearance-failed"
    assert refused.json()["errors"] == [
        {
            "field": "medical_expires",
            "message": f"medical expires on {days(60)}, before {deployment['tour_end']}",
        }
    ]

    replacement = f"/v1/deployments/{did}/officers/{lapsing}/replacement"
    itself = await api.post(replacement, officer_ref=lapsing, reason="try again")
    assert itself.status_code == 422 and itself.json()["errors"][0]["field"] == "officer_ref"
    as_liaison = await api.post(
        replacement, headers=api.liaison(home), officer_ref=spare, reason="x"
    )
    assert as_liaison.status_code == 403
    replaced = await api.post(replacement, officer_ref=spare, reason="Failed clearance: medical.")
    assert replaced.status_code == 200, replaced.text
    view = replaced.json()["deployment"]
    assert view["status"] == "staffing"
    assert officer(view, lapsing)["status"] == "withdrawn"
    assert officer(view, lapsing)["replaced_by"] == spare
    assert officer(view, spare)["post_id"] == "P1"
    p1 = post(view)
    assert (p1["holder"], p1["fills"], p1["status"]) == (spare, 2, "filled")
    assert [h["event"] for h in p1["history"]] == [
        "OfficerNominated",
        "OfficerReleased",
        "NominationWithdrawn",
        "OfficerNominated",
    ]

    released = await api.post(
        f"/v1/deployments/{did}/officers/{spare}/release", headers=api.liaison(home)
    )
    assert released.status_code == 200, released.text
    cleared = await api.post(f"/v1/deployments/{did}/officers/{spare}/clearance")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["deployment"]["status"] == "ready"
    started = await api.post(f"/v1/deployments/{did}/start", on=days(14), today=days(14))
    assert started.status_code == 200, started.text
    final = started.json()["deployment"]
    assert officer(final, spare)["status"] == "deployed"
    assert officer(final, lapsing)["status"] == "withdrawn"

    # The withdrawn officer is free again: their booking went with the nomination.
    other = await api.plan(await requirement_with_profile(api, bootstrap))
    again = await api.post(f"/v1/deployments/{other['id']}/nominations", officer_ref=lapsing)
    assert again.status_code == 201, again.text


async def test_an_updated_medical_date_makes_a_refused_clearance_pass(
    api: Api, bootstrap: str
) -> None:
    request_id = await requirement_with_profile(api, bootstrap)
    home = force()
    offer = await api.offer(home, medical_expires=days(90))
    ref = offer["officer_ref"]
    did = (await api.plan(request_id))["id"]
    await staffed_to_release(api, did, ref, home)
    refused = await api.post(f"/v1/deployments/{did}/officers/{ref}/clearance")
    assert refused.status_code == 409
    assert [e["field"] for e in refused.json()["errors"]] == ["medical_expires"]

    path = f"/v1/offers/{offer['id']}"
    stranger = await api.client.patch(
        path, json={"medical_expires": days(900)}, headers=api.liaison(force())
    )
    assert stranger.status_code == 404  # another force's offer looks like one that does not exist
    empty = await api.client.patch(path, json={}, headers=api.liaison(home))
    assert empty.status_code == 422
    backwards = await api.client.patch(
        path, json={"available_to": days(-1)}, headers=api.liaison(home)
    )
    assert backwards.status_code == 422, backwards.text
    shrink = await api.client.patch(
        path, json={"available_to": days(30)}, headers=api.liaison(home)
    )
    assert shrink.status_code == 409 and shrink.json()["type"] == "/problems/officer-committed"
    updated = await api.client.patch(
        path, json={"medical_expires": days(900)}, headers=api.liaison(home)
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["offer"]["id"] == offer["id"]
    assert updated.json()["offer"]["medical_expires"] == days(900)
    same = await api.client.patch(
        path, json={"medical_expires": days(900)}, headers=api.liaison(home)
    )
    assert same.status_code == 409 and same.json()["type"] == "/problems/offer-unchanged"

    cleared = await api.post(f"/v1/deployments/{did}/officers/{ref}/clearance")
    assert cleared.status_code == 200, cleared.text
    assert officer(cleared.json()["deployment"], ref)["status"] == "cleared"


async def test_a_re_offer_updates_the_officers_offer_and_never_duplicates_it(api: Api) -> None:
    home = force()
    first = await api.offer(home)
    again = await api.client.post(
        "/v1/offers",
        headers=api.liaison(home),
        json={
            "officer_ref": first["officer_ref"],
            **an_offer(medical_expires=days(700), officer={"languages": ["Arabic"]}),
        },
    )
    assert again.status_code == 201, again.text
    assert again.json()["offer"]["id"] == first["id"]
    assert again.json()["offer"]["medical_expires"] == days(700)
    assert again.json()["offer"]["languages"] == ["Arabic"]
    listed = await api.client.get("/v1/offers", params={"force": home}, headers=api.manager)
    assert [o["id"] for o in listed.json()["items"]] == [first["id"]]
    # Another force cannot re-offer the officer: as if the officer did not exist.
    theirs = await api.client.post(
        "/v1/offers",
        headers=api.liaison(force()),
        json={"officer_ref": first["officer_ref"], **an_offer()},
    )
    assert theirs.status_code == 404


async def test_matching_ranks_a_full_fit_above_a_partial_one_and_leaves_out_a_double_booked_one(
    api: Api, bootstrap: str
) -> None:
    capability = "border-security"
    home = force()
    full = (
        await api.offer(
            home,
            capability=capability,
            officer={"languages": ["French", "arabic"], "rank": "Inspector"},
        )
    )["officer_ref"]
    partial = (
        await api.offer(
            home,
            capability=capability,
            officer={"languages": ["English"], "rank": "Sergeant"},
        )
    )["officer_ref"]
    busy = (
        await api.offer(
            home,
            capability=capability,
            officer={"languages": ["French", "Arabic"], "rank": "Inspector"},
        )
    )["officer_ref"]
    elsewhere = await api.plan(
        await requirement_with_profile(api, bootstrap, capability=capability)
    )
    booked = await api.post(f"/v1/deployments/{elsewhere['id']}/nominations", officer_ref=busy)
    assert booked.status_code == 201, booked.text

    request_id = await requirement_with_profile(api, bootstrap, capability=capability)
    did = (await api.plan(request_id))["id"]
    path = f"/v1/deployments/{did}/posts/P1/matches"
    response = await api.client.get(path, headers=api.manager)
    assert response.status_code == 200, response.text
    found = response.json()
    ranked = [m["officer_ref"] for m in found["items"]]
    assert ranked.index(full) < ranked.index(partial)
    assert busy not in ranked
    left = {x["officer_ref"]: x["reason"] for x in found["left_out"]}
    assert left[busy] == "officer-double-booked"
    best = next(m for m in found["items"] if m["officer_ref"] == full)
    assert best["score"] == 100
    worse = next(m for m in found["items"] if m["officer_ref"] == partial)
    by = {c["criterion"]: c for c in worse["criteria"]}
    assert by["languages"]["raw"] == 0 and "lacks arabic, french" in by["languages"]["explanation"]
    assert by["rank"]["explanation"] == "holds Sergeant; the post asks for Inspector"
    assert found["needs"]["languages"] == ["French", "Arabic"]

    first_page = await api.client.get(path, headers=api.manager, params={"limit": 1})
    assert len(first_page.json()["items"]) == 1 and first_page.json()["next_cursor"]
    bad_cursor = await api.client.get(path, headers=api.manager, params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 400
    for missing in (f"/v1/deployments/{did}/posts/P7", f"/v1/deployments/{uuid.uuid4()}/posts/P1"):
        answer = await api.client.get(f"{missing}/matches", headers=api.manager)
        assert answer.status_code == 404 and answer.json()["type"] == "/problems/not-found"
    liaison = await api.client.get(path, headers=api.liaison(home))
    assert liaison.status_code == 403


async def test_an_early_repatriation_is_backfilled_for_the_rest_of_the_tour(
    api: Api, bootstrap: str
) -> None:
    request_id = await requirement_with_profile(api, bootstrap)
    north, south = force(), force()
    first = (await api.offer(north))["officer_ref"]
    backfill = (await api.offer(south))["officer_ref"]
    did = (await api.plan(request_id))["id"]
    await staffed_to_release(api, did, first, north)
    assert (await api.post(f"/v1/deployments/{did}/officers/{first}/clearance")).status_code == 200
    started = await api.post(f"/v1/deployments/{did}/start", on=days(14), today=days(14))
    assert started.status_code == 200, started.text
    early = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=backfill)
    assert early.status_code == 409 and early.json()["type"] == "/problems/not-staffing"

    home_early = await api.post(
        f"/v1/deployments/{did}/officers/{first}/repatriation",
        reason_code="medical",
        on=days(40),
        today=days(40),
    )
    assert home_early.status_code == 200, home_early.text
    reopened = post(home_early.json()["deployment"])
    assert (reopened["status"], reopened["needed_from"]) == ("vacant", days(41))

    matches = await api.client.get(f"/v1/deployments/{did}/posts/P1/matches", headers=api.manager)
    assert matches.status_code == 200
    assert backfill in [m["officer_ref"] for m in matches.json()["items"]]
    assert matches.json()["needs"]["start"] == days(41)

    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=backfill)
    assert nominated.status_code == 201, nominated.text
    assert officer(nominated.json()["deployment"], backfill)["starts_on"] == days(41)
    not_yet = await api.post(
        f"/v1/deployments/{did}/officers/{backfill}/deployment", today=days(45)
    )
    assert not_yet.status_code == 409 and not_yet.json()["type"] == "/problems/not-cleared"
    others = await api.post(
        f"/v1/deployments/{did}/officers/{backfill}/release", headers=api.liaison(north)
    )
    assert others.status_code == 404  # not their officer
    released = await api.post(
        f"/v1/deployments/{did}/officers/{backfill}/release", headers=api.liaison(south)
    )
    assert released.status_code == 200, released.text
    cleared = await api.post(f"/v1/deployments/{did}/officers/{backfill}/clearance")
    assert cleared.status_code == 200, cleared.text
    before = await api.post(
        f"/v1/deployments/{did}/officers/{backfill}/deployment", on=days(40), today=days(45)
    )
    assert before.status_code == 422 and before.json()["type"] == "/problems/deployment-date"
    joined = await api.post(
        f"/v1/deployments/{did}/officers/{backfill}/deployment", on=days(45), today=days(45)
    )
    assert joined.status_code == 200, joined.text
    view = joined.json()["deployment"]
    assert view["status"] == "deployed"
    assert officer(view, backfill)["status"] == "deployed"
    assert officer(view, backfill)["joined_on"] == days(45)
    assert officer(view, first)["status"] == "repatriated_early"
    p1 = post(view)
    assert (p1["holder"], p1["fills"]) == (backfill, 2)
    assert "OfficerRepatriated" in [h["event"] for h in p1["history"]]
    # A force liaison officer sees their own officer, and no posts naming the others.
    theirs = await api.client.get(f"/v1/deployments/{did}", headers=api.liaison(south))
    assert [o["officer_ref"] for o in theirs.json()["officers"]] == [backfill]
    assert theirs.json()["posts"] == []


async def test_reporting_shows_the_post_fill_rate_and_time_to_fill(
    api: Api, bootstrap: str, services: dict[str, str], token: TokenFactory
) -> None:
    request_id = await requirement_with_profile(api, bootstrap, headcount=2, country="TV")
    home = force()
    did = (await api.plan(request_id))["id"]
    ref = (await api.offer(home))["officer_ref"]
    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    assert nominated.status_code == 201, nominated.text
    token_header = {"X-Consistency-Token": nominated.headers["X-Consistency-Token"]}
    analyst = bearer(token("analyst"))
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=30) as reporting:
        params = {"country": "TV"}
        summary = await reporting.get("/v1/summary", params=params, headers=analyst | token_header)
        assert summary.status_code == 200, summary.text

        async def counted() -> bool:  # the submission comes on intake's topic, in its own time
            nonlocal summary
            summary = await reporting.get("/v1/summary", params=params, headers=analyst)
            return bool(summary.json()["posts"]["total"] == 2)

        await wait_until(counted, "reporting did not count the deployment's posts")
    posts = summary.json()["posts"]
    assert (posts["total"], posts["filled"], posts["vacant"]) == (2, 1, 1)
    assert posts["fill_rate"] == 0.5
    assert posts["hours_to_fill"]["count"] == 1 and posts["hours_to_fill"]["median"] >= 0
