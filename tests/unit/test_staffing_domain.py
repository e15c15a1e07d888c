"""Posts and changing people, as given (events) / when (command) / then (events or error):
withdrawal, replacement, backfill after a repatriation, offers updated in place."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.deployment import domain
from services.deployment.domain import DeploymentStatus, DomainError, OfficerStatus
from shared.catalogue.deployment import (
    NominationWithdrawn,
    OfferUpdated,
    OfficerDeployed,
    OfficerNominated,
    OfficerRepatriated,
)
from shared.catalogue.intake import RequestSubmitted, RoleProfile
from shared.events import REGISTRY
from tests.unit.test_deployment_domain import (
    DEPLOYMENT,
    END,
    LATER,
    REF,
    REQUEST,
    START,
    cleared,
    given,
    nominated,
    offer,
    planned,
    refused,
    released,
    started,
)


def nominate(state: domain.Deployment, o: domain.Offer, **kw: Any) -> list[Any]:
    return domain.decide_nominate(
        state, o.officer_ref, offers=[o], booked_elsewhere=[], erased=False, ref=REF, **kw
    )


def test_a_plan_has_one_post_per_head_with_the_role_profile() -> None:
    state = given(
        planned(3).model_copy(
            update={"rank": "Inspector", "languages": ["French"], "vetting_level": "sc"}
        )
    )
    assert [p.post_id for p in state.posts] == ["P1", "P2", "P3"]
    assert all(p.needed_from == START and p.holder is None for p in state.posts)
    assert state.profile.rank == "Inspector" and state.profile.languages == ("French",)
    assert domain.required_vetting(state, REF) == "sc"


def test_planning_carries_the_requests_role_profile_and_vetting() -> None:
    profile = RoleProfile(rank="Sergeant", skills=["cyber"], languages=["Arabic"])
    submitted = RequestSubmitted.model_construct(request_id=REQUEST, role_profile=profile)
    requirement = replace(
        domain.requirement_of(REQUEST, [submitted]),
        decision="approved",
        country="SO",
        capability="cybercrime",
        headcount=1,
        classification="OFFICIAL",
    )
    (event,) = domain.decide_plan(
        requirement,
        deployment_id=DEPLOYMENT,
        live_deployments=[],
        tour_start=START,
        tour_end=END,
        mission=None,
        today=START,
        vetting_level="ctc",
    )
    assert (event.rank, event.skills, event.languages, event.vetting_level) == (
        "Sergeant",
        ["cyber"],
        ["Arabic"],
        "ctc",
    )


def test_a_nomination_fills_the_named_post_or_the_first_vacant_one() -> None:
    a, b = offer("OFF-A"), offer("OFF-B")
    state = given(planned(2))
    (event,) = nominate(state, a, post_id="P2")
    assert event.post_id == "P2" and event.starts_on is None
    state = given(planned(2), event)
    assert state.post("P2").holder == "OFF-A"  # type: ignore[union-attr]
    assert nominate(state, b)[0].post_id == "P1"
    refused("post-filled", lambda: nominate(state, b, post_id="P2"))
    error = refused("unknown-post", lambda: nominate(state, b, post_id="P9"))
    assert error.errors[0]["field"] == "post_id"


def test_an_older_nomination_without_a_post_fills_the_first_vacant_one() -> None:
    a = offer("OFF-A")
    state = given(planned(2), nominated(a))
    assert state.nominee("OFF-A").post_id == "P1"  # type: ignore[union-attr]
    assert [p.holder for p in state.posts] == ["OFF-A", None]


def test_withdrawing_a_cleared_nominee_reopens_their_post_and_unreadies_the_deployment() -> None:
    a = offer("OFF-A")
    state = given(planned(1), nominated(a), released(a), cleared(a))
    assert state.status == DeploymentStatus.READY
    (event,) = domain.decide_withdraw_nomination(state, "OFF-A", reason="passport lost")
    assert isinstance(event, NominationWithdrawn) and event.post_id == "P1"
    after = given(planned(1), nominated(a), released(a), cleared(a), event)
    assert after.status == DeploymentStatus.STAFFING
    assert after.vacant[0].post_id == "P1"
    assert after.nominee("OFF-A").status == OfficerStatus.WITHDRAWN  # type: ignore[union-attr]
    refused("not-nominated", lambda: domain.decide_withdraw_nomination(after, "OFF-A", reason="x"))
    # Withdrawn, they may be nominated again (their offer was updated, say).
    assert nominate(after, a)[0].officer_ref == "OFF-A"


def test_a_deployed_officer_cannot_be_withdrawn_only_repatriated() -> None:
    a = offer("OFF-A")
    state = given(planned(1), nominated(a), released(a), cleared(a), started(a))
    refused("not-staffing", lambda: domain.decide_withdraw_nomination(state, "OFF-A", reason="x"))


def test_replacing_a_nominee_withdraws_and_refills_the_same_post_in_one_step() -> None:
    a, b = offer("OFF-A", medical_expires=date(2027, 5, 1)), offer("OFF-B")
    state = given(planned(2), nominated(a), released(a))
    events = domain.decide_replace(
        state,
        "OFF-A",
        "OFF-B",
        reason="failed clearance",
        offers=[b],
        booked_elsewhere=[],
        erased=False,
        ref=REF,
    )
    withdrawn, renominated = events
    assert isinstance(withdrawn, NominationWithdrawn) and withdrawn.replaced_by == "OFF-B"
    assert isinstance(renominated, OfficerNominated) and renominated.post_id == "P1"
    after = given(planned(2), nominated(a), released(a), *events)
    assert after.post("P1").holder == "OFF-B" and after.post("P1").filled == 2  # type: ignore[union-attr]


def test_a_replacement_that_does_not_fit_changes_nothing() -> None:
    a, b = offer("OFF-A"), offer("OFF-B", capability="forensics")
    state = given(planned(1), nominated(a))
    for replacement, rule, offers in (
        ("OFF-B", "capability-mismatch", [b]),
        ("OFF-A", "same-officer", [a]),
    ):
        refused(
            rule,
            lambda r=replacement, o=offers: domain.decide_replace(  # type: ignore[misc]
                state, "OFF-A", r, reason="x", offers=o, booked_elsewhere=[], erased=False, ref=REF
            ),
        )


def test_clearance_names_an_item_expiring_mid_tour_and_passes_once_the_offer_is_updated() -> None:
    a = offer("OFF-A", medical_expires=date(2027, 6, 30))
    state = given(planned(1), nominated(a), released(a))
    error = refused(
        "clearance-failed", lambda: domain.decide_clear(state, "OFF-A", offer=a, ref=REF)
    )
    assert error.errors == [
        {"field": "medical_expires", "message": "medical expires on 2027-06-30, before 2027-08-31"}
    ]
    (update,) = domain.decide_update_offer(
        a, replace(a.terms, medical_expires=date(2028, 1, 1)), today=START
    )
    assert isinstance(update, OfferUpdated)
    assert update.model_dump(exclude_none=True).keys() == {
        "offer_id",
        "officer_ref",
        "medical_expires",
    }
    updated = domain.evolve_offer(a, update, 2)
    assert updated.offer_id == a.offer_id and updated.terms.medical_expires == date(2028, 1, 1)
    assert domain.decide_clear(state, "OFF-A", offer=updated, ref=REF)


def test_clearance_also_checks_the_availability_window_against_the_tour() -> None:
    a = offer("OFF-A")
    state = given(planned(1), nominated(a), released(a))
    shrunk = replace(a, terms=replace(a.terms, available_to=END - timedelta(days=1)))
    error = refused(
        "clearance-failed", lambda: domain.decide_clear(state, "OFF-A", offer=shrunk, ref=REF)
    )
    assert [e["field"] for e in error.errors] == ["available_to"]


def test_an_update_must_keep_covering_the_officers_booked_tours() -> None:
    a = offer("OFF-A")
    narrower = replace(a.terms, available_to=END - timedelta(days=10))
    refused(
        "officer-committed",
        lambda: domain.decide_update_offer(a, narrower, today=START, bookings=[(START, END)]),
    )
    refused("offer-unchanged", lambda: domain.decide_update_offer(a, a.terms, today=START))
    withdrawn = replace(a, withdrawn=True)
    refused("offer-withdrawn", lambda: domain.decide_update_offer(withdrawn, narrower, today=START))


def repatriated(o: domain.Offer, on: date) -> OfficerRepatriated:
    return OfficerRepatriated(
        request_id=REQUEST,
        deployment_id=DEPLOYMENT,
        officer_ref=o.officer_ref,
        reason_code="medical",
        on=on,
    )


def test_a_repatriation_reopens_the_post_for_the_rest_of_the_tour_and_a_backfill_joins() -> None:
    a, b = offer("OFF-A"), offer("OFF-B", available_from=date(2027, 5, 1))
    back = date(2027, 5, 14)
    history = [planned(1), nominated(a), released(a), cleared(a), started(a)]
    refused("not-staffing", lambda: nominate(given(*history), b))  # no vacated post yet
    history.append(repatriated(a, back))
    state = given(*history)
    assert state.post("P1").needed_from == back + timedelta(days=1)  # type: ignore[union-attr]
    (backfill,) = nominate(state, b)
    assert backfill.post_id == "P1" and backfill.starts_on == date(2027, 5, 15)
    history += [backfill, released(b), cleared(b)]
    state = given(*history)
    assert state.status == DeploymentStatus.DEPLOYED
    refused(
        "deployment-date",
        lambda: domain.decide_deploy_officer(state, "OFF-B", on=back, today=LATER),
    )
    (joined,) = domain.decide_deploy_officer(state, "OFF-B", on=date(2027, 5, 20), today=LATER)
    assert isinstance(joined, OfficerDeployed)
    state = given(*history, joined)
    assert state.nominee("OFF-B").status == OfficerStatus.DEPLOYED  # type: ignore[union-attr]
    assert state.post("P1").holder == "OFF-B"  # type: ignore[union-attr]


def test_a_backfill_must_be_available_from_the_reopened_day_not_the_tour_start() -> None:
    a, late = offer("OFF-A"), offer("OFF-L", available_from=date(2027, 7, 1))
    state = given(
        planned(1),
        nominated(a),
        released(a),
        cleared(a),
        started(a),
        repatriated(a, date(2027, 5, 14)),
    )
    refused("officer-unavailable", lambda: nominate(state, late))


def test_officers_nominated_before_the_start_do_not_deploy_one_by_one() -> None:
    a = offer("OFF-A")
    state = given(planned(1), nominated(a), released(a), cleared(a), started(a))
    refused(
        "not-a-backfill",
        lambda: domain.decide_deploy_officer(state, "OFF-A", on=START, today=LATER),
    )


@pytest.mark.parametrize("event_type", ["DeploymentPlanned", "OfficerNominated"])
def test_stored_version_1_events_load_as_version_2(event_type: str) -> None:
    base = {"request_id": str(REQUEST), "deployment_id": str(DEPLOYMENT)}
    data = {
        "DeploymentPlanned": base
        | {
            "country": "SO",
            "capability": "public-order",
            "headcount": 2,
            "classification": "OFFICIAL",
            "tour_start": "2027-03-01",
            "tour_end": "2027-08-31",
        },
        "OfficerNominated": base
        | {"officer_ref": "OFF-A", "offer_id": str(uuid4()), "force": "met", "gender": "female"},
    }[event_type]
    loaded = REGISTRY.decode(event_type, 1, data)
    assert loaded.schema_version == 2
    assert getattr(loaded, "post_id", None) is None and getattr(loaded, "rank", None) is None


def test_a_planned_deployment_is_not_changed_by_these_rules_when_nothing_applies() -> None:
    with pytest.raises(DomainError):
        domain.decide_withdraw_nomination(given(planned(1)), "OFF-NOBODY", reason="x")
