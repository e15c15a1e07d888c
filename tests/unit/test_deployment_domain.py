"""The deployment domain's rules, each as given (events) / when (command) / then (events or error)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.deployment import domain
from services.deployment.domain import (
    Deployment,
    DeploymentStatus,
    DomainError,
    Offer,
    OfferTerms,
    OfficerStatus,
    Requirement,
    requirement_of,
)
from shared.catalogue.deployment import (
    CapabilityOffered,
    CapabilityWithdrawn,
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    OfficerCleared,
    OfficerNominated,
    OfficerReleased,
    OfficerRepatriated,
    TourExtended,
)
from shared.catalogue.intake import RequestWithdrawn
from shared.catalogue.triage import RequestApproved, RequestPutOnHold, RequestResumed
from shared.events import EventData
from shared.reference.data import load_reference_data
from shared.refusals import Kind

REF = load_reference_data()
TODAY = date(2027, 1, 10)
START, END = date(2027, 3, 1), date(2027, 8, 31)
#: A "today" after the whole tour: the rules about today do not get in the way of the others.
LATER = END + timedelta(days=400)
REQUEST, DEPLOYMENT = uuid4(), uuid4()


def terms(**changes: Any) -> OfferTerms:
    base = OfferTerms(
        capability="public-order",
        rank="Inspector",
        gender="female",
        languages=("English",),
        skills=(),
        vetting_level="sc",
        vetting_expires=date(2030, 1, 1),
        medical_expires=date(2029, 1, 1),
        training_expires=date(2029, 6, 1),
        passport_expires=date(2031, 1, 1),
        available_from=date(2027, 1, 1),
        available_to=date(2028, 12, 31),
    )
    return replace(base, **changes)


def offer(ref: str = "OFF-A", force: str = "met", **changes: Any) -> Offer:
    return Offer(uuid4(), ref, force, terms(**changes), withdrawn=False, version=1)


def planned(headcount: int = 2, classification: str = "OFFICIAL") -> DeploymentPlanned:
    return DeploymentPlanned(
        request_id=REQUEST,
        deployment_id=DEPLOYMENT,
        country="SO",
        capability="public-order",
        headcount=headcount,
        classification=classification,
        tour_start=START,
        tour_end=END,
    )


def nominated(o: Offer) -> OfficerNominated:
    return OfficerNominated(
        request_id=REQUEST,
        deployment_id=DEPLOYMENT,
        officer_ref=o.officer_ref,
        offer_id=o.offer_id,
        force=o.force,
        gender=o.terms.gender,
    )


def released(o: Offer) -> OfficerReleased:
    return OfficerReleased(
        request_id=REQUEST, deployment_id=DEPLOYMENT, officer_ref=o.officer_ref, force=o.force
    )


def cleared(o: Offer) -> OfficerCleared:
    return OfficerCleared(
        request_id=REQUEST,
        deployment_id=DEPLOYMENT,
        officer_ref=o.officer_ref,
        valid_until=date(2029, 1, 1),
    )


def started(*offers: Offer, on: date = START) -> DeploymentStarted:
    return DeploymentStarted(
        request_id=REQUEST,
        deployment_id=DEPLOYMENT,
        started_on=on,
        officer_refs=[o.officer_ref for o in offers],
    )


def given(*events: EventData) -> Deployment:
    state = domain.fold(events)
    assert state is not None
    return state


def staffed(*offers: Offer, classification: str = "OFFICIAL") -> list[EventData]:
    """Planned with one post per officer, each nominated, released and cleared."""
    events: list[EventData] = [planned(len(offers), classification)]
    for o in offers:
        events += [nominated(o), released(o), cleared(o)]
    return events


def refused(rule: str, when: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        when()
    assert caught.value.rule == rule, caught.value.detail
    return caught.value


# --- dates -------------------------------------------------------------------------------------
class TestTourDates:
    def test_a_six_month_tour_ends_the_day_before_the_same_date_six_months_on(self) -> None:
        assert domain.tour_end_for(date(2027, 3, 1), 6) == date(2027, 8, 31)

    def test_month_ends_are_clamped(self) -> None:
        assert domain.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
        assert domain.add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)

    def test_an_extension_continues_from_the_day_after_the_old_end(self) -> None:
        assert domain.extended_end(date(2027, 8, 31), 3) == date(2027, 11, 30)


# --- offers ------------------------------------------------------------------------------------
class TestOfferCapability:
    def decide(self, **changes: Any) -> list[EventData]:
        erased = changes.pop("officer_erased", False)
        return domain.decide_offer(
            offer_id=uuid4(),
            officer_ref="OFF-A",
            force="met",
            terms=terms(**changes),
            personal_data="sealed",
            today=TODAY,
            officer_erased=erased,
        )

    def test_an_offer_carries_the_sealed_personal_data_and_no_clear_personal_fields(self) -> None:
        [event] = self.decide()
        assert isinstance(event, CapabilityOffered)
        assert event.personal_data == "sealed" and event.officer_ref == "OFF-A"
        assert not {"name", "contact", "next_of_kin"} & set(event.model_dump())

    def test_an_availability_window_that_ends_before_it_starts_is_invalid(self) -> None:
        error = refused("availability-window", lambda: self.decide(available_to=date(2026, 12, 1)))
        assert error.kind == Kind.INVALID

    def test_an_availability_window_already_over_is_refused(self) -> None:
        refused(
            "availability-in-past",
            lambda: self.decide(available_from=date(2026, 1, 1), available_to=date(2026, 6, 1)),
        )

    def test_an_availability_window_longer_than_eight_years_is_refused(self) -> None:
        refused("availability-window", lambda: self.decide(available_to=date(2036, 1, 1)))

    def test_an_erased_officer_cannot_be_offered_again(self) -> None:
        refused("officer-erased", lambda: self.decide(officer_erased=True))


class TestWithdrawOffer:
    def test_a_free_officers_offer_is_withdrawn(self) -> None:
        o = offer()
        [event] = domain.decide_withdraw_offer(o, reason="needed at home", committed_to=[])
        assert isinstance(event, CapabilityWithdrawn) and event.offer_id == o.offer_id

    def test_an_offer_is_withdrawn_once(self) -> None:
        o = replace(offer(), withdrawn=True)
        refused(
            "already-withdrawn", lambda: domain.decide_withdraw_offer(o, reason="", committed_to=[])
        )

    def test_an_officer_on_a_deployment_cannot_be_withdrawn(self) -> None:
        refused(
            "officer-committed",
            lambda: domain.decide_withdraw_offer(offer(), reason="", committed_to=[uuid4()]),
        )

    def test_folding_the_offer_stream_marks_it_withdrawn(self) -> None:
        [offered] = domain.decide_offer(
            offer_id=uuid4(),
            officer_ref="OFF-A",
            force="met",
            terms=terms(),
            personal_data="s",
            today=TODAY,
        )
        assert isinstance(offered, CapabilityOffered)
        gone = CapabilityWithdrawn(offer_id=offered.offer_id, officer_ref="OFF-A")
        state = domain.fold_offer([offered, gone])
        assert state is not None and state.withdrawn and state.version == 2


# --- requirements and planning -----------------------------------------------------------------
def requirement(**changes: Any) -> Requirement:
    base = Requirement(
        request_id=REQUEST,
        decision="approved",
        withdrawn=False,
        country="SO",
        capability="public-order",
        headcount=2,
        classification="OFFICIAL",
        tour_length_months=6,
    )
    return replace(base, **changes)


class TestRequirementStatus:
    @pytest.mark.parametrize(
        ("decision", "withdrawn", "deployment", "status"),
        [
            ("approved", False, None, "open"),
            ("approved", False, "staffing", "sourcing"),
            ("approved", False, "deployed", "deployed"),
            ("approved", False, "completed", "fulfilled"),
            ("approved", False, "cancelled", "open"),
            ("on_hold", False, "cancelled", "on_hold"),
            ("resumed", False, None, "awaiting_approval"),
            (None, True, None, "withdrawn"),
            ("approved", True, "planned", "withdrawn"),
        ],
    )
    def test_the_status_follows_from_the_facts_in_any_order(
        self, decision: str | None, withdrawn: bool, deployment: str | None, status: str
    ) -> None:
        assert domain.requirement_status(decision, withdrawn, deployment) == status


class TestPlanDeployment:
    def decide(self, req: Requirement | None, **kw: Any) -> list[EventData]:
        args: dict[str, Any] = {
            "deployment_id": DEPLOYMENT,
            "live_deployments": [],
            "tour_start": START,
            "tour_end": None,
            "mission": "UNSOM",
            "today": TODAY,
        }
        return domain.decide_plan(req, **(args | kw))

    def test_an_approved_request_gets_a_deployment_of_its_tour_length(self) -> None:
        [event] = self.decide(requirement())
        assert isinstance(event, DeploymentPlanned)
        assert (event.tour_start, event.tour_end, event.headcount) == (START, END, 2)

    def test_the_manager_may_set_the_tour_end(self) -> None:
        [event] = self.decide(requirement(), tour_end=date(2027, 12, 31))
        assert isinstance(event, DeploymentPlanned) and event.tour_end == date(2027, 12, 31)

    @pytest.mark.parametrize(
        ("req", "rule"),
        [
            (requirement_of(uuid4(), []), "request-not-approved"),
            (requirement(decision=None), "request-not-approved"),
            (requirement(decision="resumed"), "request-not-approved"),
            (requirement(decision="on_hold"), "request-on-hold"),
            (requirement(withdrawn=True), "request-withdrawn"),
        ],
    )
    def test_only_an_approved_request_standing_is_planned(
        self, req: Requirement, rule: str
    ) -> None:
        refused(rule, lambda: self.decide(req))

    def test_the_requirement_is_folded_from_triage_and_intake_events_in_order(self) -> None:
        rid = uuid4()
        approval = RequestApproved(
            request_id=rid,
            reference="JIPH-2027-000001",
            country="SO",
            capability="training",
            headcount=2,
            classification="OFFICIAL",
            needed_by=date(2027, 6, 1),
            tour_length_months=6,
        )
        held = RequestPutOnHold(request_id=rid, reason="")
        resumed = RequestResumed(request_id=rid, reason="")
        assert requirement_of(rid, [approval]).decision == "approved"
        assert requirement_of(rid, [held, resumed, approval]).decision == "approved"
        assert requirement_of(rid, [held]).decision == "on_hold"
        gone = requirement_of(
            rid, [approval, RequestWithdrawn(request_id=rid, partner_id="p", reason="x")]
        )
        assert gone.withdrawn and gone.headcount == 2

    def test_a_request_has_one_live_deployment(self) -> None:
        refused("deployment-exists", lambda: self.decide(requirement(), live_deployments=[uuid4()]))

    def test_a_tour_cannot_start_in_the_past(self) -> None:
        refused(
            "tour-start-in-past",
            lambda: self.decide(requirement(), tour_start=TODAY - timedelta(1)),
        )

    def test_a_tour_ends_after_it_starts(self) -> None:
        assert (
            refused("tour-dates", lambda: self.decide(requirement(), tour_end=START)).kind
            == Kind.INVALID
        )

    def test_a_tour_is_planned_for_at_most_two_years(self) -> None:
        refused("tour-too-long", lambda: self.decide(requirement(), tour_end=date(2029, 6, 1)))


# --- nomination --------------------------------------------------------------------------------
class TestNominate:
    def decide(self, state: Deployment, ref: str = "OFF-A", **kw: Any) -> list[EventData]:
        args: dict[str, Any] = {
            "offers": [offer(ref)],
            "booked_elsewhere": [],
            "erased": False,
            "ref": REF,
        }
        return domain.decide_nominate(state, ref, **(args | kw))

    def test_an_available_vetted_officer_offered_for_the_capability_is_nominated(self) -> None:
        o = offer()
        [event] = self.decide(given(planned()), offers=[offer(capability="sgbv"), o])
        assert isinstance(event, OfficerNominated) and event.offer_id == o.offer_id

    def test_the_first_nomination_starts_staffing(self) -> None:
        o = offer()
        assert given(planned(), nominated(o)).status == DeploymentStatus.STAFFING

    def test_the_officer_must_be_offered_for_the_capability(self) -> None:
        refused(
            "capability-mismatch",
            lambda: self.decide(given(planned()), offers=[offer(capability="sgbv")]),
        )

    def test_a_withdrawn_offer_does_not_count(self) -> None:
        gone = replace(offer(), withdrawn=True)
        refused("no-active-offer", lambda: self.decide(given(planned()), offers=[gone]))

    @pytest.mark.parametrize(
        "window",
        [{"available_from": date(2027, 3, 2)}, {"available_to": date(2027, 8, 30)}],
    )
    def test_the_officer_must_be_available_for_the_whole_tour(
        self, window: dict[str, date]
    ) -> None:
        refused(
            "officer-unavailable", lambda: self.decide(given(planned()), offers=[offer(**window)])
        )

    def test_official_sensitive_work_needs_sc_vetting(self) -> None:
        state = given(planned(classification="OFFICIAL-SENSITIVE"))
        refused(
            "vetting-insufficient", lambda: self.decide(state, offers=[offer(vetting_level="ctc")])
        )
        assert self.decide(state, offers=[offer(vetting_level="dv")])

    def test_official_work_takes_any_vetting(self) -> None:
        assert self.decide(given(planned()), offers=[offer(vetting_level="none")])

    def test_an_officer_on_an_overlapping_tour_is_refused(self) -> None:
        refused(
            "officer-double-booked",
            lambda: self.decide(given(planned()), booked_elsewhere=[uuid4()]),
        )

    def test_the_headcount_is_not_exceeded(self) -> None:
        state = given(planned(headcount=1), nominated(offer("OFF-B")))
        refused("headcount-reached", lambda: self.decide(state))

    def test_an_officer_is_nominated_once(self) -> None:
        o = offer()
        refused(
            "already-nominated", lambda: self.decide(given(planned(), nominated(o)), offers=[o])
        )

    def test_an_erased_officer_is_not_nominated(self) -> None:
        refused("officer-erased", lambda: self.decide(given(planned()), erased=True))

    def test_nominations_close_when_the_deployment_is_no_longer_staffing(self) -> None:
        o = offer("OFF-B")
        refused("not-staffing", lambda: self.decide(given(*staffed(o), started(o))))


# --- release and clearance ---------------------------------------------------------------------
class TestRelease:
    def test_the_home_force_releases_its_officer(self) -> None:
        o = offer()
        [event] = domain.decide_release(given(planned(), nominated(o)), o.officer_ref, force="met")
        assert isinstance(event, OfficerReleased)
        state = given(planned(), nominated(o), event)
        assert state.nominees[0].status == OfficerStatus.RELEASED

    def test_to_another_force_the_deployment_and_the_officer_do_not_exist(self) -> None:
        met, psni = offer(), offer("OFF-B", force="psni")
        for state, rule_says in (
            (given(planned(), nominated(met)), "deployment"),  # none of theirs on it
            (given(planned(), nominated(met), nominated(psni)), "officer"),  # theirs is not it
            # Not even a state the deployment is in (cancelled here) tells them otherwise.
            (
                given(
                    planned(),
                    nominated(met),
                    *domain.decide_cancel(given(planned(), nominated(met)), reason="x"),
                ),
                "deployment",
            ),
        ):
            refusal = refused(
                "not-found", lambda s=state: domain.decide_release(s, met.officer_ref, force="psni")
            )
            assert refusal.status == 404 and rule_says in refusal.detail

    def test_an_officer_is_released_once(self) -> None:
        o = offer()
        refused(
            "already-released",
            lambda: domain.decide_release(
                given(planned(), nominated(o), released(o)), o.officer_ref, force="met"
            ),
        )

    def test_only_a_nominee_is_released(self) -> None:
        o = offer()
        refused(
            "not-found",
            lambda: domain.decide_release(given(planned(), nominated(o)), "OFF-X", force="met"),
        )


class TestClear:
    def test_an_officer_valid_through_the_tour_is_cleared_until_the_first_expiry(self) -> None:
        o = offer()
        [event] = domain.decide_clear(
            given(planned(), nominated(o), released(o)), o.officer_ref, offer=o, ref=REF
        )
        assert isinstance(event, OfficerCleared) and event.valid_until == date(2029, 1, 1)

    def test_every_post_cleared_makes_the_deployment_ready(self) -> None:
        a, b = offer("OFF-A"), offer("OFF-B")
        assert given(*staffed(a, b)[:-1]).status == DeploymentStatus.STAFFING
        assert given(*staffed(a, b)).status == DeploymentStatus.READY

    def test_the_home_force_releases_before_clearance(self) -> None:
        o = offer()
        refused(
            "not-released",
            lambda: domain.decide_clear(
                given(planned(), nominated(o)), o.officer_ref, offer=o, ref=REF
            ),
        )

    def test_an_officer_is_cleared_once(self) -> None:
        o = offer()
        refused(
            "already-cleared",
            lambda: domain.decide_clear(given(*staffed(o)), o.officer_ref, offer=o, ref=REF),
        )

    def test_each_item_that_expires_before_the_tour_ends_is_listed(self) -> None:
        o = offer(
            vetting_expires=date(2027, 8, 1),
            medical_expires=date(2027, 4, 1),
            training_expires=date(2027, 8, 30),
            passport_expires=date(2027, 5, 1),
        )
        state = given(planned(), nominated(o), released(o))
        error = refused(
            "clearance-failed", lambda: domain.decide_clear(state, o.officer_ref, offer=o, ref=REF)
        )
        assert [e["field"] for e in error.errors] == [
            "vetting_expires",
            "medical_expires",
            "training_expires",
            "passport_expires",
        ]
        assert error.kind != Kind.INVALID

    def test_an_expiry_on_the_last_day_of_the_tour_is_valid_through_it(self) -> None:
        o = offer(medical_expires=END)
        assert domain.decide_clear(
            given(planned(), nominated(o), released(o)), o.officer_ref, offer=o, ref=REF
        )

    def test_vetting_below_the_classification_is_listed(self) -> None:
        o = offer(vetting_level="ctc")
        state = given(planned(classification="OFFICIAL-SENSITIVE"), nominated(o), released(o))
        error = refused(
            "clearance-failed", lambda: domain.decide_clear(state, o.officer_ref, offer=o, ref=REF)
        )
        assert [e["field"] for e in error.errors] == ["vetting_level"]


# --- start, extension, repatriation, completion, cancellation ----------------------------------
class TestStart:
    def test_a_ready_deployment_starts_with_its_cleared_officers(self) -> None:
        a, b = offer("OFF-A"), offer("OFF-B")
        [event] = domain.decide_start(given(*staffed(a, b)), on=START, today=LATER)
        assert isinstance(event, DeploymentStarted) and event.officer_refs == ["OFF-A", "OFF-B"]
        state = given(*staffed(a, b), event)
        assert state.status == DeploymentStatus.DEPLOYED
        assert {n.status for n in state.nominees} == {OfficerStatus.DEPLOYED}

    def test_every_post_needs_a_cleared_officer(self) -> None:
        a = offer("OFF-A")
        state = given(planned(headcount=3), nominated(a), released(a))
        error = refused(
            "posts-not-filled", lambda: domain.decide_start(state, on=START, today=LATER)
        )
        assert error.errors == [
            {"field": "officers.OFF-A", "message": "is released, not cleared"},
            {"field": "headcount", "message": "2 post(s) have no nominee"},
        ]

    def test_a_deployment_starts_once(self) -> None:
        o = offer()
        refused(
            "already-started",
            lambda: domain.decide_start(given(*staffed(o), started(o)), on=START, today=LATER),
        )

    def test_a_cancelled_deployment_does_not_start(self) -> None:
        o = offer()
        gone = domain.decide_cancel(given(*staffed(o)), reason="x")
        refused(
            "not-staffing",
            lambda: domain.decide_start(given(*staffed(o), *gone), on=START, today=LATER),
        )

    def test_a_tour_cannot_start_after_it_ends(self) -> None:
        o = offer()
        refused(
            "start-after-tour-end",
            lambda: domain.decide_start(given(*staffed(o)), on=END + timedelta(1), today=LATER),
        )


class TestExtend:
    def decide(self, state: Deployment, months: int = 3, **kw: Any) -> list[EventData]:
        offers = kw.pop("offers", {n.officer_ref: offer(n.officer_ref) for n in state.nominees})
        return domain.decide_extend(
            state, months, offers=offers, booked_elsewhere=kw.pop("booked", {}), ref=REF
        )

    def test_a_deployed_tour_is_extended_by_a_block_of_months(self) -> None:
        o = offer()
        [event] = self.decide(given(*staffed(o), started(o)))
        assert isinstance(event, TourExtended) and event.new_end == date(2027, 11, 30)
        state = given(*staffed(o), started(o), event)
        assert state.tour_end == date(2027, 11, 30) and state.extensions == 1

    def test_only_a_deployed_tour_is_extended(self) -> None:
        o = offer()
        refused("not-deployed", lambda: self.decide(given(*staffed(o))))

    def test_validity_and_availability_are_checked_again_for_the_new_end(self) -> None:
        o = offer()
        state = given(*staffed(o), started(o))
        short = offer(
            o.officer_ref, medical_expires=date(2027, 10, 1), available_to=date(2027, 9, 30)
        )
        error = refused(
            "extension-not-possible", lambda: self.decide(state, offers={o.officer_ref: short})
        )
        assert [e["field"] for e in error.errors] == [
            "officers.OFF-A.medical_expires",
            "officers.OFF-A.available_to",
        ]

    def test_another_booking_after_the_old_end_blocks_the_extension(self) -> None:
        o = offer()
        state = given(*staffed(o), started(o))
        error = refused(
            "extension-not-possible", lambda: self.decide(state, booked={o.officer_ref: [uuid4()]})
        )
        assert error.errors[0]["field"] == "officers.OFF-A.bookings"

    def test_officers_already_home_are_not_checked(self) -> None:
        a, b = offer("OFF-A"), offer("OFF-B")
        home = OfficerRepatriated(
            request_id=REQUEST,
            deployment_id=DEPLOYMENT,
            officer_ref="OFF-B",
            reason_code="medical",
            on=date(2027, 4, 1),
        )
        state = given(*staffed(a, b), started(a, b), home)
        expired = offer("OFF-B", passport_expires=date(2027, 5, 1))
        assert self.decide(state, offers={"OFF-A": a, "OFF-B": expired})

    @pytest.mark.parametrize("months", [0, 13])
    def test_an_extension_is_one_to_twelve_months(self, months: int) -> None:
        o = offer()
        assert (
            refused(
                "extension-months", lambda: self.decide(given(*staffed(o), started(o)), months)
            ).kind
            == Kind.INVALID
        )


class TestRepatriate:
    def decide(
        self, state: Deployment, code: str = "medical", on: date = date(2027, 5, 1)
    ) -> list[EventData]:
        return domain.decide_repatriate(
            state, "OFF-A", reason_code=code, on=on, ref=REF, today=LATER
        )

    def test_a_deployed_officer_comes_home_early_with_a_published_reason(self) -> None:
        o = offer()
        [event] = self.decide(given(*staffed(o), started(o)))
        assert isinstance(event, OfficerRepatriated) and event.reason_code == "medical"
        state = given(*staffed(o), started(o), event)
        assert state.nominees[0].status == OfficerStatus.REPATRIATED_EARLY

    def test_the_reason_code_is_from_the_published_list(self) -> None:
        o = offer()
        assert (
            refused(
                "unknown-reason-code",
                lambda: self.decide(given(*staffed(o), started(o)), "homesick"),
            ).kind
            == Kind.INVALID
        )

    @pytest.mark.parametrize("on", [START - timedelta(1), END + timedelta(1)])
    def test_the_date_lies_within_the_tour(self, on: date) -> None:
        o = offer()
        refused("repatriation-date", lambda: self.decide(given(*staffed(o), started(o)), on=on))

    def test_only_a_deployed_officer_is_repatriated(self) -> None:
        o = offer()
        state = given(*staffed(o), started(o), *self.decide(given(*staffed(o), started(o))))
        refused("officer-not-deployed", lambda: self.decide(state))

    def test_before_the_start_there_is_nobody_to_repatriate(self) -> None:
        o = offer()
        refused("not-deployed", lambda: self.decide(given(*staffed(o))))


class TestComplete:
    def test_a_completed_tour_brings_the_deployed_officers_home(self) -> None:
        o = offer()
        [event] = domain.decide_complete(given(*staffed(o), started(o)), on=END, today=LATER)
        assert isinstance(event, DeploymentCompleted)
        state = given(*staffed(o), started(o), event)
        assert state.status == DeploymentStatus.COMPLETED
        assert state.nominees[0].status == OfficerStatus.RETURNED

    def test_only_a_deployed_tour_completes(self) -> None:
        o = offer()
        refused(
            "not-deployed", lambda: domain.decide_complete(given(*staffed(o)), on=END, today=LATER)
        )

    def test_a_tour_completes_after_it_started(self) -> None:
        o = offer()
        state = given(*staffed(o), started(o))
        refused(
            "completion-date",
            lambda: domain.decide_complete(state, on=START - timedelta(1), today=LATER),
        )


class TestCancel:
    def test_a_deployment_not_yet_deployed_is_cancelled_and_frees_its_nominees(self) -> None:
        a, b = offer("OFF-A"), offer("OFF-B")
        [event] = domain.decide_cancel(
            given(planned(), nominated(a), nominated(b)), reason="no funds"
        )
        assert isinstance(event, DeploymentCancelled)
        assert event.released_officer_refs == ["OFF-A", "OFF-B"]
        assert (
            given(planned(), nominated(a), nominated(b), event).status == DeploymentStatus.CANCELLED
        )

    def test_a_deployment_is_cancelled_once(self) -> None:
        state = given(planned(), *domain.decide_cancel(given(planned()), reason="x"))
        refused("already-cancelled", lambda: domain.decide_cancel(state, reason="x"))

    def test_deployed_officers_come_home_by_repatriation_or_completion(self) -> None:
        o = offer()
        refused(
            "not-cancellable",
            lambda: domain.decide_cancel(given(*staffed(o), started(o)), reason="x"),
        )


def test_a_stream_that_does_not_start_with_a_plan_is_refused() -> None:
    with pytest.raises(ValueError):
        domain.fold([cleared(offer())])


class TestDatesThatMakeSense:
    """Each lifecycle date against the ones before it and against today (the integrity issue:
    a deployment started a month before it was planned, a repatriation five months ahead)."""

    def test_a_tour_does_not_start_before_its_planned_start(self) -> None:
        o = offer()
        early = START - timedelta(days=30)
        refused(
            "start-before-tour-start",
            lambda: domain.decide_start(given(*staffed(o)), on=early, today=START),
        )

    def test_no_lifecycle_date_lies_in_the_future(self) -> None:
        o = offer()
        refused(
            "start-in-future",
            lambda: domain.decide_start(given(*staffed(o)), on=START, today=START - timedelta(1)),
        )
        deployed = given(*staffed(o), started(o))
        ahead = START + timedelta(days=150)
        refused(
            "repatriation-in-future",
            lambda: domain.decide_repatriate(
                deployed, "OFF-A", reason_code="medical", on=ahead, ref=REF, today=START
            ),
        )
        refused(
            "completion-in-future",
            lambda: domain.decide_complete(deployed, on=END, today=END - timedelta(1)),
        )
        [done] = domain.decide_complete(deployed, on=END, today=END)
        assert isinstance(done, DeploymentCompleted) and done.completed_on == END
