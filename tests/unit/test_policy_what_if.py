"""A candidate policy tried on cases (pure): ranks in the queue's order, movers, effects by
group; and adopting a policy: a new version, a rationale, the policy in force."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.triage.config import TriageConfig
from services.triage.domain import (
    AdoptPolicy,
    DomainError,
    ScoringContext,
    book_of,
    decide_adopt,
    score_case,
)
from services.triage.domain.policy import adoption_of
from services.triage.domain.what_if import (
    CaseFacts,
    CaseToScore,
    Scored,
    compare,
    queue_ranks,
    score_both,
)
from services.triage.scoring import DEFAULT_POLICY_PATH, Policy, criterion_points
from shared.catalogue.triage import PolicyAdopted, PolicyDocument

CONFIG = TriageConfig.load()
POLICY = CONFIG.policy
TODAY = date(2026, 11, 26)
COUNTRIES = ("SO", "UA", "ML")
CAPABILITIES = ("sgbv", "training", "border-security")
PARTNER_TYPES = ("un", "eu", "foreign-government")


def shifted(policy: Policy, version: str, **weights: float) -> Policy:
    document = policy.model_dump(mode="json") | {"version": version}
    document["weights"] = document["weights"] | weights
    return Policy.model_validate(document)


URGENT = shifted(
    POLICY,
    "test-urgent",
    fragility=0.35,
    alignment=0.1,
    partner_type=0.1,
    urgency=0.3,
    capability_availability=0.05,
    human_rights_risk=0.1,
)


def facts(i: int, needed_by: date = TODAY) -> CaseFacts:
    return CaseFacts(
        request_id=uuid.UUID(int=i + 1),
        reference=f"JIPH-2026-{i + 1:06d}",
        country=COUNTRIES[i % 3],
        capability=CAPABILITIES[i % 3],
        partner_type=PARTNER_TYPES[(i // 3) % 3],
        status="in_triage",
        needed_by=needed_by,
    )


scores = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 2))
days = st.integers(min_value=0, max_value=400).map(lambda d: TODAY + timedelta(days=d))
case_lists = st.lists(st.tuples(scores, scores, days), max_size=40)


def scored_cases(drawn: list[tuple[float, float, date]]) -> list[Scored]:
    return [
        Scored(facts(i, d), current, candidate) for i, (current, candidate, d) in enumerate(drawn)
    ]


def test_a_policy_whose_scores_could_round_above_100_is_refused() -> None:
    document = POLICY.model_dump(mode="json") | {"version": "thirds"}
    document["weights"] = dict.fromkeys(document["weights"], 1 / 6)
    with pytest.raises(ValueError, match="at most 4 decimal places"):
        Policy.model_validate(document)
    document["weights"] = dict(zip(document["weights"], (0.1667,) * 4 + (0.1666,) * 2, strict=True))
    document["fragility"] = {"scale_max": 1}  # every raw value 1: the highest total there is
    policy = Policy.model_validate(document)
    case = CaseToScore(facts(0), {"partner_type": "un", "capability": "sgbv", "headcount": 1,
                       "needed_by": TODAY.isoformat()}, CONFIG.reference.country("SO"), 5,
                       "low", 1.0)  # fmt: skip
    [both] = score_both([case], policy, policy, TODAY)
    assert both.candidate == 100.0


# --- ranks ----------------------------------------------------------------------------------


def test_ranks_follow_the_queue_score_then_needed_by_then_id() -> None:
    a, b, c = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
    later = TODAY + timedelta(days=10)
    ranks = queue_ranks([(50.0, later, a), (50.0, TODAY, c), (70.0, later, b), (50.0, TODAY, b)])
    assert ranks == [4, 3, 1, 2]


@given(case_lists)
def test_ranks_are_a_permutation_and_rank_changes_sum_to_zero(
    drawn: list[tuple[float, float, date]],
) -> None:
    result = compare(scored_cases(drawn))
    n = len(drawn)
    assert sorted(r.current_rank for r in result.cases) == list(range(1, n + 1))
    assert sorted(r.candidate_rank for r in result.cases) == list(range(1, n + 1))
    assert sum(r.rank_change for r in result.cases) == 0
    assert [r.current_rank for r in result.cases] == list(range(1, n + 1))
    for group in (result.by_country, result.by_capability, result.by_partner_type):
        assert sum(g.count for g in group) == n


@given(st.lists(st.tuples(scores, days), max_size=40))
def test_identical_scores_move_nothing(drawn: list[tuple[float, date]]) -> None:
    result = compare(scored_cases([(s, s, d) for s, d in drawn]))
    assert result.up == () and result.down == ()
    assert all(r.rank_change == 0 and r.score_delta == 0 for r in result.cases)
    for g in result.by_country:
        assert g.mean_current_score == g.mean_candidate_score and g.mean_rank_change == 0


@given(case_lists, st.integers(min_value=1, max_value=5))
def test_movers_are_the_biggest_changes_in_each_direction(
    drawn: list[tuple[float, float, date]], limit: int
) -> None:
    result = compare(scored_cases(drawn), movers=limit)
    rises = sorted((r.rank_change for r in result.cases if r.rank_change > 0), reverse=True)
    falls = sorted(r.rank_change for r in result.cases if r.rank_change < 0)
    assert [r.rank_change for r in result.up] == rises[:limit]
    assert [r.rank_change for r in result.down] == falls[:limit]


def test_a_group_effect_is_the_mean_of_its_cases() -> None:
    drawn = [(40.0, 60.0, TODAY), (50.0, 45.0, TODAY), (70.0, 20.0, TODAY), (10.0, 90.0, TODAY)]
    result = compare(scored_cases(drawn))
    somalia = next(g for g in result.by_country if g.key == "SO")  # cases 0 and 3
    assert somalia.count == 2
    assert somalia.mean_current_score == 25.0 and somalia.mean_candidate_score == 75.0
    by_id = {r.facts.request_id.int: r for r in result.cases}
    assert somalia.mean_rank_change == (by_id[1].rank_change + by_id[4].rank_change) / 2


# --- scoring both columns ---------------------------------------------------------------------


def to_score(
    i: int, *, risk_tier: str | None = None, alignment: float | None = None
) -> CaseToScore:
    f = facts(i, TODAY + timedelta(days=20 + 40 * i))
    request = {
        "partner_type": f.partner_type,
        "capability": f.capability,
        "headcount": 1 + i % 4,
        "needed_by": f.needed_by.isoformat(),
    }
    return CaseToScore(f, request, CONFIG.reference.country(f.country), i % 3, risk_tier, alignment)


def test_both_columns_are_the_breakdown_raw_values_times_each_policys_weights() -> None:
    cases = [to_score(i, risk_tier="high" if i % 2 else None, alignment=0.3) for i in range(9)]
    for case, scored in zip(cases, score_both(cases, POLICY, URGENT, TODAY), strict=True):
        breakdown = score_case(
            case.request,
            case.country,
            ScoringContext(POLICY, TODAY, case.offered_officers),
            risk_tier=case.risk_tier,
            alignment=case.alignment,
        ).breakdown
        expected = round(
            math.fsum(criterion_points(p.raw, URGENT.weights[p.criterion]) for p in breakdown), 2
        )
        assert scored.candidate == expected
        assert scored.current == round(math.fsum(p.points for p in breakdown), 2)


def test_an_assessed_cases_tier_and_alignment_count_in_both_columns() -> None:
    unassessed, assessed = score_both(
        [to_score(0), to_score(0, risk_tier="serious", alignment=1.0)], POLICY, URGENT, TODAY
    )
    assert unassessed.current != assessed.current
    assert unassessed.candidate != assessed.candidate


def test_the_same_policy_twice_moves_nothing() -> None:
    cases = [to_score(i) for i in range(12)]
    result = compare(score_both(cases, POLICY, POLICY, TODAY))
    assert result.up == result.down == ()


# --- adoption -------------------------------------------------------------------------------


def book(*adopted: tuple[Policy, datetime]) -> Any:
    adoptions = [
        adoption_of(
            PolicyAdopted(
                policy_version=p.version,
                policy=PolicyDocument.model_validate(p.model_dump(mode="json")),
                author="erin",
                rationale="Board decision 2026/14",
                previous_version=POLICY.version,
            ),
            at,
        )
        for p, at in adopted
    ]
    return book_of(POLICY, CONFIG.policies, adoptions)


def test_adopting_records_version_document_author_rationale_and_previous_version() -> None:
    [event] = decide_adopt(book(), AdoptPolicy(URGENT, "  Board decision 2026/14  "), author="erin")
    assert isinstance(event, PolicyAdopted)
    assert event.policy_version == "test-urgent" and event.author == "erin"
    assert event.rationale == "Board decision 2026/14"
    assert event.previous_version == POLICY.version
    assert Policy.model_validate(event.policy.model_dump(mode="json")) == URGENT
    assert event.partition_key() == "policy"


def test_a_version_published_or_adopted_before_is_refused() -> None:
    published = json.loads(DEFAULT_POLICY_PATH.read_text())
    for known, policy in (
        (book(), Policy.model_validate(published)),
        (book((URGENT, datetime(2026, 12, 1, tzinfo=UTC))), URGENT),
    ):
        with pytest.raises(DomainError) as refused:
            decide_adopt(known, AdoptPolicy(policy, "a rationale that is long enough"), author="e")
        assert refused.value.rule == "policy-version-exists" and refused.value.status == 409


@pytest.mark.parametrize("rationale", ["too short", "   \u200b\u200b\u200b  a b c d e f g h i  "])
def test_a_rationale_needs_ten_visible_characters(rationale: str) -> None:
    with pytest.raises(DomainError) as refused:
        decide_adopt(book(), AdoptPolicy(URGENT, rationale), author="erin")
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "body.rationale"


def test_the_policy_in_force_is_the_latest_adoption_at_each_moment() -> None:
    first, second = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    other = shifted(URGENT, "test-other")
    known = book((URGENT, first), (other, second))
    assert book().in_force == POLICY
    assert known.in_force == other
    assert known.in_force_at(first - timedelta(seconds=1)) == POLICY
    assert known.in_force_at(first) == URGENT
    assert known.in_force_at(second + timedelta(days=1)) == other
    assert known.by_version("test-urgent") == URGENT
    assert known.by_version(POLICY.version) == POLICY
    assert known.by_version("never") is None
