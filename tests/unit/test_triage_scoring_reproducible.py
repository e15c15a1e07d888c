"""A case's score can be recomputed from what its events carry: the breakdown and the policy
version that made it (DESIGN §1: every score carries the policy version that made it)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.triage.config import TriageConfig, load_policies
from services.triage.domain import (
    Assess,
    ScoringContext,
    decide_assess,
    decide_open_case,
    fold,
    score_case,
)
from services.triage.scoring import Policy, criterion_points, recompute_total
from shared.catalogue.intake import Contact, RequestSubmitted, RoleProfile
from shared.catalogue.triage import CriterionScore, RequestAssessed, RequestTriaged
from shared.events import Actor, Envelope

CONFIG = TriageConfig.load()
TODAY = date(2026, 11, 26)


def submitted(country: str = "SO", partner_type: str = "un") -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid4(),
        reference="JIPH-2026-000042",
        partner_id="osce",
        title="T",
        description="D",
        country=country,
        requesting_body="OSCE",
        partner_type=partner_type,
        capability="border-security",
        headcount=3,
        role_profile=RoleProfile(rank="Sergeant"),
        tour_length_months=6,
        needed_by=date(2027, 1, 15),
        funding_source="cssf-oda",
        classification="OFFICIAL",
        contact=Contact(name="B", email="b@c.d"),
    )


def through_the_wire(event: RequestTriaged | RequestAssessed) -> RequestTriaged | RequestAssessed:
    """The event as a consumer (or an auditor) reads it back from the topic."""
    env = Envelope.wrap(
        event,
        stream_id="case-x",
        stream_version=1,
        producer="triage",
        actor=Actor(subject="triage", role="system"),
        correlation_id="c",
    )
    decoded = Envelope.from_bytes(env.to_bytes()).payload()
    assert isinstance(decoded, RequestTriaged | RequestAssessed)
    return decoded


def recompute(breakdown: list[CriterionScore], policy: Policy) -> float:
    """What an auditor does: take the weights of the named policy version, multiply them by the
    recorded raw values, add the points up."""
    for part in breakdown:
        assert part.weight == policy.weights[part.criterion]  # type: ignore[index]
        assert part.points == criterion_points(part.raw, policy.weights[part.criterion])  # type: ignore[index]
    return recompute_total(breakdown)


def test_every_published_policy_is_loaded_by_version() -> None:
    policies = load_policies()
    assert CONFIG.policy.version in policies
    assert policies == CONFIG.policies


@pytest.mark.parametrize(
    ("country", "partner_type", "offered"), [("SO", "un", 0), ("UA", "eu", 5), ("FR", "other", 1)]
)
def test_a_preliminary_score_is_reproducible_from_its_breakdown_and_policy_version(
    country: str, partner_type: str, offered: int
) -> None:
    request = submitted(country, partner_type)
    found = CONFIG.reference.country(country)
    assert found is not None
    [event] = decide_open_case(request, found, ScoringContext(CONFIG.policy, TODAY, offered))
    assert isinstance(event, RequestTriaged)
    read_back = through_the_wire(event)
    policy = CONFIG.policies[read_back.policy_version]
    assert recompute(read_back.breakdown, policy) == read_back.score
    # ... and scoring the same request again under that version gives the same breakdown.
    again = score_case(
        request.model_dump(mode="json"), found, ScoringContext(policy, TODAY, offered)
    )
    assert again.breakdown == read_back.breakdown and again.total == read_back.score


def test_an_assessed_score_is_reproducible_and_an_override_is_explained() -> None:
    request = submitted()
    country = CONFIG.reference.country("SO")
    assert country is not None
    scoring = ScoringContext(CONFIG.policy, TODAY, 2)
    [triaged] = decide_open_case(request, country, scoring)
    state = fold([request, triaged])
    assert state is not None
    plain = Assess("serious", alignment=0.3)
    override = Assess(
        "serious",
        alignment=0.3,
        score_override=88.5,
        override_rationale="Priority raised by the National Security Council.",
    )
    for command in (plain, override):
        [event] = decide_assess(state, command, assessor="alice", country=country, scoring=scoring)
        assert isinstance(event, RequestAssessed)
        read_back = through_the_wire(event)
        assert isinstance(read_back, RequestAssessed)
        recomputed = recompute(read_back.breakdown, CONFIG.policies[read_back.policy_version])
        assert recomputed == read_back.computed_score
        if read_back.override_rationale is None:
            assert read_back.score == recomputed
        else:
            assert read_back.score == 88.5 and read_back.score != recomputed


def test_another_policy_version_would_not_reproduce_the_score() -> None:
    request = submitted()
    country = CONFIG.reference.country("SO")
    assert country is not None
    [event] = decide_open_case(request, country, ScoringContext(CONFIG.policy, TODAY, 0))
    assert isinstance(event, RequestTriaged)
    weights = dict(CONFIG.policy.weights)
    first, second = list(weights)[:2]
    weights[first], weights[second] = weights[second], weights[first]
    other = CONFIG.policy.model_copy(update={"version": "other", "weights": weights})
    with pytest.raises(AssertionError):
        recompute(event.breakdown, other)
