"""Prioritisation: the weighted score, its breakdown and the versioned policy behind it."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.triage.scoring import (
    DEFAULT_POLICY_PATH,
    Criterion,
    Policy,
    PolicyError,
    Score,
    ScoringInputs,
    load_policy,
    recompute_total,
    score_request,
)
from shared.reference.codes import Capability, PartnerType, Region, RiskTier
from shared.reference.data import Country, load_reference_data

TODAY = date(2026, 11, 26)

# Not read from the data files, so the hand-computed expectations below stay put.
SOMALIA = Country(
    code="SO",
    name="Somalia",
    region=Region.AFRICA,
    oda_eligible=True,
    fragility=108,
    hmg_priority=True,
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _inputs(**changes: Any) -> ScoringInputs:
    values: dict[str, Any] = {
        "country": SOMALIA,
        "partner_type": PartnerType.UN,
        "capability": Capability.PUBLIC_ORDER,
        "headcount": 4,
        "needed_by": TODAY + timedelta(days=164),
        "offered_officers": 1,
        "risk_tier": RiskTier.MEDIUM,
        "alignment": None,
    }
    return ScoringInputs(**(values | changes))


def _raw(score: Score, criterion: str) -> float:
    return next(part.raw for part in score.breakdown if part.criterion == criterion)


def _policy_copy(tmp_path: Path, edit: Any) -> Path:
    data = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "weights-edited.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_shipped_policy_weights_cover_every_criterion_and_sum_to_one(policy: Policy) -> None:
    assert set(policy.weights) == set(Criterion)
    assert math.isclose(math.fsum(policy.weights.values()), 1.0, abs_tol=1e-9)
    assert policy.version == "2026-11-v1"


def test_known_request_gives_the_breakdown_computed_by_hand(policy: Policy) -> None:
    # Policy 2026-11-v1: weights .25/.20/.15/.15/.10/.15.
    # fragility 108/120 = 0.9                     -> 0.9 x 25 = 22.5
    # HMG priority country, public-order not a priority theme: 0.6 -> 0.6 x 20 = 12.0
    # UN partner: 1.0                             -> 15.0
    # needed in 164 days: 1 - (164-30)/(365-30) = 0.6 -> 0.6 x 15 = 9.0
    # 1 officer offered of 4 requested: 0.25      -> 0.25 x 10 = 2.5
    # medium human-rights risk: 0.7               -> 0.7 x 15 = 10.5
    score = score_request(_inputs(), policy, TODAY)

    expected = [
        ("fragility", 0.25, 22.5),
        ("alignment", 0.2, 12.0),
        ("partner_type", 0.15, 15.0),
        ("urgency", 0.15, 9.0),
        ("capability_availability", 0.1, 2.5),
        ("human_rights_risk", 0.15, 10.5),
    ]
    assert [(part.criterion, part.weight, part.points) for part in score.breakdown] == expected
    assert [part.raw for part in score.breakdown] == pytest.approx([0.9, 0.6, 1.0, 0.6, 0.25, 0.7])
    assert score.total == 71.5
    assert score.policy_version == "2026-11-v1"
    assert not score.provisional
    explanations = [part.explanation for part in score.breakdown]
    assert explanations[0] == "fragility 108/120 (Somalia)"
    assert "is an HMG priority country" in explanations[1]
    assert "public-order is not a priority theme" in explanations[1]
    assert "164 days" in explanations[3]
    assert explanations[4] == "1 officer(s) offered for public-order against 4 requested"
    assert explanations[5] == "human-rights risk medium"


def test_real_reference_country_can_be_scored(policy: Policy) -> None:
    country = load_reference_data().country("SS")
    assert country is not None
    score = score_request(_inputs(country=country), policy, TODAY)
    assert 0 <= score.total <= 100
    assert "South Sudan" in score.breakdown[0].explanation


def test_urgency_is_higher_for_nearer_dates(policy: Policy) -> None:
    days = [-5, 0, 30, 60, 120, 200, 300, 365, 500]
    urgency = [
        _raw(score_request(_inputs(needed_by=TODAY + timedelta(days=d)), policy, TODAY), "urgency")
        for d in days
    ]
    assert urgency[:3] == [1.0, 1.0, 1.0]
    assert urgency[-2:] == [0.0, 0.0]
    # strictly falling from 30 days (full urgency) to 365 days (none)
    assert all(nearer > later for nearer, later in pairwise(urgency[2:8]))
    near = score_request(_inputs(needed_by=TODAY + timedelta(days=45)), policy, TODAY)
    far = score_request(_inputs(needed_by=TODAY + timedelta(days=250)), policy, TODAY)
    assert near.total > far.total


@pytest.mark.parametrize("multilateral", [PartnerType.UN, PartnerType.EU, PartnerType.OSCE])
def test_multilateral_partner_scores_above_foreign_government(
    policy: Policy, multilateral: PartnerType
) -> None:
    ours = score_request(_inputs(partner_type=multilateral), policy, TODAY)
    theirs = score_request(_inputs(partner_type=PartnerType.FOREIGN_GOVERNMENT), policy, TODAY)
    assert ours.total > theirs.total


def test_missing_risk_tier_marks_the_score_provisional(policy: Policy) -> None:
    score = score_request(_inputs(risk_tier=None), policy, TODAY)
    assert score.provisional
    risk = score.breakdown[-1]
    assert (risk.criterion, risk.raw, risk.points) == ("human_rights_risk", 0.5, 7.5)
    assert "provisional" in risk.explanation
    assert not score_request(_inputs(risk_tier=RiskTier.LOW), policy, TODAY).provisional


def test_higher_human_rights_risk_lowers_the_score(policy: Policy) -> None:
    totals = [score_request(_inputs(risk_tier=tier), policy, TODAY).total for tier in RiskTier]
    assert totals == sorted(totals, reverse=True)


def test_assessor_alignment_replaces_the_computed_alignment(policy: Policy) -> None:
    score = score_request(_inputs(alignment=0.25), policy, TODAY)
    part = score.breakdown[1]
    assert (part.raw, part.points) == (0.25, 5.0)
    assert "assessor" in part.explanation


def test_priority_theme_raises_alignment(policy: Policy) -> None:
    themed = score_request(_inputs(capability=Capability.SGBV), policy, TODAY)
    assert _raw(themed, "alignment") == pytest.approx(1.0)


def test_capability_availability_is_capped_at_one(policy: Policy) -> None:
    score = score_request(_inputs(offered_officers=9, headcount=2), policy, TODAY)
    assert _raw(score, "capability_availability") == 1.0
    none_offered = score_request(_inputs(offered_officers=0), policy, TODAY)
    assert _raw(none_offered, "capability_availability") == 0.0


def test_breakdown_lists_every_criterion_in_order(policy: Policy) -> None:
    score = score_request(_inputs(), policy, TODAY)
    assert [part.criterion for part in score.breakdown] == [c.value for c in Criterion]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"risk_tier": None},
        {"needed_by": TODAY + timedelta(days=97), "headcount": 3, "offered_officers": 2},
        {"partner_type": PartnerType.OTHER, "alignment": 0.33, "risk_tier": RiskTier.SERIOUS},
    ],
)
def test_total_is_reproducible_from_the_breakdown(policy: Policy, changes: dict[str, Any]) -> None:
    score = score_request(_inputs(**changes), policy, TODAY)
    assert score.total == recompute_total(score.breakdown)
    assert abs(score.total - sum(part.points for part in score.breakdown)) < 0.005
    for part in score.breakdown:
        assert part.weight == policy.weights[Criterion(part.criterion)]
        assert part.points == round(part.raw * part.weight * 100, 2)
    assert Score.model_validate_json(score.model_dump_json()) == score


def test_a_score_whose_total_does_not_match_its_breakdown_is_refused(policy: Policy) -> None:
    score = score_request(_inputs(), policy, TODAY)
    with pytest.raises(ValidationError, match="sum of the breakdown"):
        Score.model_validate(score.model_dump() | {"total": score.total + 1})


def test_edited_policy_copy_changes_score_and_version(policy: Policy, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["version"] = "2026-12-v2"
        data["weights"].update(fragility=0.4, partner_type=0.0)
        data["partner_type"]["points"]["un"] = 0.5

    edited = load_policy(_policy_copy(tmp_path, edit))
    before = score_request(_inputs(), policy, TODAY)
    after = score_request(_inputs(), edited, TODAY)

    assert after.policy_version == "2026-12-v2"
    assert after.total != before.total
    assert after.breakdown[0].points == 36.0  # 0.9 x 0.4 x 100
    assert after.breakdown[2].points == 0.0
    assert after.total == recompute_total(after.breakdown)


def test_policy_whose_weights_do_not_sum_to_one_is_refused(tmp_path: Path) -> None:
    path = _policy_copy(tmp_path, lambda data: data["weights"].update(fragility=0.3))
    with pytest.raises(PolicyError, match="sum to 1"):
        load_policy(path)


def test_policy_missing_a_criterion_is_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["weights"]["fragility"] += data["weights"].pop("urgency")

    with pytest.raises(PolicyError, match="urgency"):
        load_policy(_policy_copy(tmp_path, edit))


def test_policy_missing_a_partner_type_is_refused(tmp_path: Path) -> None:
    path = _policy_copy(tmp_path, lambda data: data["partner_type"]["points"].pop("osce"))
    with pytest.raises(PolicyError, match="osce"):
        load_policy(path)


def test_policy_with_an_unknown_theme_is_refused(tmp_path: Path) -> None:
    path = _policy_copy(
        tmp_path, lambda data: data["alignment"]["priority_themes"].append("astrology")
    )
    with pytest.raises(PolicyError, match="priority_themes"):
        load_policy(path)


def test_inputs_refuse_impossible_values() -> None:
    with pytest.raises(ValidationError):
        _inputs(headcount=0)
    with pytest.raises(ValidationError):
        _inputs(offered_officers=-1)
    with pytest.raises(ValidationError):
        _inputs(alignment=1.5)
