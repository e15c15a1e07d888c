"""Prioritisation: a transparent weighted score (0-100) with a breakdown per criterion.

Each criterion turns the request into a raw value between 0 and 1 and a sentence saying why;
its points are `raw x weight x 100` (rounded to 2 dp) and the total is the sum of the points.
Weights and parameters live in a versioned policy file (`policy/weights-v1.json`), and every score
carries the version that made it, so a score can be recomputed from its breakdown and policy.
Pure functions only: the caller loads the policy once at start and passes `today` in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.catalogue.triage import CriterionScore
from shared.reference.codes import Capability, PartnerType, RiskTier
from shared.reference.data import Country

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policy" / "weights-v1.json"
WEIGHT_TOLERANCE = 1e-9

Unit = Annotated[float, Field(ge=0, le=1)]


class Criterion(StrEnum):
    """The criteria, in the order the breakdown lists them."""

    FRAGILITY = "fragility"
    ALIGNMENT = "alignment"
    PARTNER_TYPE = "partner_type"
    URGENCY = "urgency"
    CAPABILITY_AVAILABILITY = "capability_availability"
    HUMAN_RIGHTS_RISK = "human_rights_risk"


class PolicyError(ValueError):
    """The policy file is missing or invalid."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FragilityParams(_Frozen):
    """How a country's fragility (0-120) becomes a raw value."""

    scale_max: float = Field(
        gt=0, le=1000, allow_inf_nan=False, description="Fragility that counts as raw 1.0"
    )


class AlignmentParams(_Frozen):
    """Alignment with HMG priorities when the assessor gives no judgement of their own."""

    priority_country: Unit = Field(description="Share of the raw value for an HMG priority country")
    priority_theme: Unit = Field(description="Share of the raw value for a priority theme")
    priority_themes: tuple[Capability, ...] = Field(
        max_length=20, description="Capabilities that count as HMG priority themes"
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Self:
        if abs(self.priority_country + self.priority_theme - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError("alignment priority_country + priority_theme must be 1")
        return self


class PartnerTypeParams(_Frozen):
    """Multilateral first: the raw value of each partner type."""

    points: dict[PartnerType, Unit] = Field(description="Raw value (0-1) of every partner type")

    @model_validator(mode="after")
    def _every_partner_type(self) -> Self:
        missing = [str(member) for member in PartnerType if member not in self.points]
        if missing:
            raise ValueError(f"partner_type points missing for {', '.join(missing)}")
        return self


class UrgencyParams(_Frozen):
    """How the needed-by date becomes a raw value: full, then falling linearly to none."""

    full_within_days: int = Field(
        ge=0, le=100_000, description="Needed within this many days: raw 1.0"
    )
    zero_after_days: int = Field(le=100_000, description="Needed after this many days: raw 0.0")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.zero_after_days <= self.full_within_days:
            raise ValueError("urgency zero_after_days must exceed full_within_days")
        return self


class HumanRightsRiskParams(_Frozen):
    """The raw value of each OSJA human-rights risk tier (lower risk, higher priority)."""

    points: dict[RiskTier, Unit] = Field(description="Raw value (0-1) of every risk tier")
    unassessed: Unit = Field(description="Raw value before assessment (the score is provisional)")

    @model_validator(mode="after")
    def _every_tier(self) -> Self:
        missing = [str(member) for member in RiskTier if member not in self.points]
        if missing:
            raise ValueError(f"human_rights_risk points missing for {', '.join(missing)}")
        return self


class Policy(_Frozen):
    """A versioned prioritisation policy: one weight per criterion (summing to 1) and parameters."""

    version: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Names the policy in every score made with it; letters, digits, `.`, `_`, `-`",
        examples=["2026-11-v1"],
    )
    description: str = Field(default="", max_length=2000, description="What the policy is for")
    weights: dict[Criterion, Unit] = Field(
        description="One weight (0-1) per criterion; they sum to 1"
    )
    fragility: FragilityParams
    alignment: AlignmentParams
    partner_type: PartnerTypeParams
    urgency: UrgencyParams
    human_rights_risk: HumanRightsRiskParams

    @model_validator(mode="after")
    def _weights_complete(self) -> Self:
        missing = [str(criterion) for criterion in Criterion if criterion not in self.weights]
        if missing:
            raise ValueError(f"weights missing for {', '.join(missing)}")
        total = math.fsum(self.weights.values())
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"weights must sum to 1, not {total!r}")
        # A criterion's points are rounded to 2 dp of 100 x weight: with weights of at most 4
        # decimals the maxima add up to exactly 100, so no total can round above it (1/6 each
        # would make 6 x 16.67 = 100.02, a score the score itself refuses).
        coarse = [
            str(c) for c, w in self.weights.items() if abs(w * 10_000 - round(w * 10_000)) > 1e-6
        ]
        if coarse:
            raise ValueError(f"weights have at most 4 decimal places ({', '.join(coarse)})")
        return self


class ScoringInputs(_Frozen):
    """What the score depends on; `risk_tier` and `alignment` come from the assessment."""

    country: Country
    #: Codes, not enums: a request scored again after a code left the reference data still has
    #: a score (an unknown partner type scores as `other`).
    partner_type: str
    capability: str
    headcount: int = Field(ge=1)
    needed_by: date
    offered_officers: int = Field(ge=0, description="Officers UK forces offer for the capability")
    risk_tier: RiskTier | None = None
    alignment: Unit | None = Field(default=None, description="Assessor's alignment judgement")


class Score(_Frozen):
    total: float = Field(ge=0, le=100)
    breakdown: list[CriterionScore]
    policy_version: str
    provisional: bool = Field(description="Made before the human-rights risk was assessed")

    @model_validator(mode="after")
    def _reproducible(self) -> Self:
        for part in self.breakdown:
            if part.points != criterion_points(part.raw, part.weight):
                raise ValueError(f"{part.criterion}: points do not match raw x weight x 100")
        if self.total != recompute_total(self.breakdown):
            raise ValueError("total is not the sum of the breakdown's points")
        return self


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file (default: the shipped `policy/weights-v1.json`)."""
    path = DEFAULT_POLICY_PATH if path is None else path
    try:
        return Policy.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc


def criterion_points(raw: float, weight: float) -> float:
    return round(raw * weight * 100, 2)


def recompute_total(breakdown: Iterable[CriterionScore]) -> float:
    """The total a breakdown adds up to: the sum of its points, rounded to 2 dp."""
    return round(math.fsum(part.points for part in breakdown), 2)


def score_request(inputs: ScoringInputs, policy: Policy, today: date) -> Score:
    """Score a request under `policy` as of `today`, criterion by criterion."""
    breakdown = []
    for criterion, rate in _CRITERIA.items():
        raw, explanation = rate(inputs, policy, today)
        weight = policy.weights[criterion]
        breakdown.append(
            CriterionScore(
                criterion=criterion.value,
                raw=raw,
                weight=weight,
                points=criterion_points(raw, weight),
                explanation=explanation,
            )
        )
    return Score(
        total=recompute_total(breakdown),
        breakdown=breakdown,
        policy_version=policy.version,
        provisional=inputs.risk_tier is None,
    )


# --- the criteria: each gives (raw 0..1, explanation) -----------------------------------------

Rating = tuple[float, str]


def _fragility(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    country, scale = inputs.country, policy.fragility.scale_max
    raw = min(1.0, country.fragility / scale)
    return raw, f"fragility {country.fragility:g}/{scale:g} ({country.name})"


def _alignment(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    if inputs.alignment is not None:
        return inputs.alignment, f"assessor's judgement {inputs.alignment:.2f}"
    params = policy.alignment
    priority_country = inputs.country.hmg_priority
    priority_theme = inputs.capability in params.priority_themes
    raw = (params.priority_country if priority_country else 0.0) + (
        params.priority_theme if priority_theme else 0.0
    )
    return raw, (
        f"{inputs.country.name} {'is' if priority_country else 'is not'} an HMG priority country; "
        f"{inputs.capability} {'is' if priority_theme else 'is not'} a priority theme"
    )


def _partner_type(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    points = policy.partner_type.points
    try:
        raw = points[PartnerType(inputs.partner_type)]
    except ValueError:
        raw = points[PartnerType.OTHER]
        return raw, f"partner type {inputs.partner_type[:40]} (unknown: as other, {raw:g} of 1)"
    return raw, f"partner type {inputs.partner_type} ({raw:g} of 1)"


def _urgency(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    params = policy.urgency
    days = (inputs.needed_by - today).days
    if days <= params.full_within_days:
        raw = 1.0
    elif days >= params.zero_after_days:
        raw = 0.0
    else:
        span = params.zero_after_days - params.full_within_days
        raw = 1.0 - (days - params.full_within_days) / span
    when = f"{days} days from {today}" if days >= 0 else f"{-days} days overdue at {today}"
    return raw, (
        f"needed by {inputs.needed_by} ({when}); full urgency within "
        f"{params.full_within_days} days, none after {params.zero_after_days}"
    )


def _capability_availability(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    raw = min(1.0, inputs.offered_officers / inputs.headcount)
    return raw, (
        f"{inputs.offered_officers} officer(s) offered for {inputs.capability} "
        f"against {inputs.headcount} requested"
    )


def _human_rights_risk(inputs: ScoringInputs, policy: Policy, today: date) -> Rating:
    params = policy.human_rights_risk
    if inputs.risk_tier is None:
        return params.unassessed, "human-rights risk not yet assessed (provisional)"
    return params.points[inputs.risk_tier], f"human-rights risk {inputs.risk_tier}"


_CRITERIA: dict[Criterion, Callable[[ScoringInputs, Policy, date], Rating]] = {
    Criterion.FRAGILITY: _fragility,
    Criterion.ALIGNMENT: _alignment,
    Criterion.PARTNER_TYPE: _partner_type,
    Criterion.URGENCY: _urgency,
    Criterion.CAPABILITY_AVAILABILITY: _capability_availability,
    Criterion.HUMAN_RIGHTS_RISK: _human_rights_risk,
}
