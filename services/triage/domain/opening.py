"""Opening a case when a request is submitted, with a preliminary score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from services.triage.domain.case import CaseState
from services.triage.scoring import Policy, Score, ScoringInputs, score_request
from shared.catalogue.intake import RequestAmended, RequestSubmitted
from shared.catalogue.triage import CaseRescored, RequestTriaged
from shared.events import EventData
from shared.reference.data import Country


@dataclass(frozen=True)
class ScoringContext:
    """What a score depends on besides the request: the policy, the day, the officers offered."""

    policy: Policy
    today: date
    offered_officers: int


def score_case(
    request: Mapping[str, Any],
    country: Country,
    scoring: ScoringContext,
    *,
    risk_tier: str | None = None,
    alignment: float | None = None,
) -> Score:
    inputs = ScoringInputs.model_validate(
        {
            "country": country,
            "partner_type": request["partner_type"],
            "capability": request["capability"],
            "headcount": request["headcount"],
            "needed_by": request["needed_by"],
            "offered_officers": scoring.offered_officers,
            "risk_tier": risk_tier,
            "alignment": alignment,
        }
    )
    return score_request(inputs, scoring.policy, scoring.today)


def decide_open_case(
    submitted: RequestSubmitted, country: Country, scoring: ScoringContext
) -> list[EventData]:
    """A submitted request opens a case with a preliminary (provisional) score."""
    score = score_case(submitted.model_dump(mode="json"), country, scoring)
    return [
        RequestTriaged(
            request_id=submitted.request_id,
            reference=submitted.reference,
            country=submitted.country,
            region=country.region.value,
            capability=submitted.capability,
            partner_type=submitted.partner_type,
            headcount=submitted.headcount,
            needed_by=submitted.needed_by,
            classification=submitted.classification,
            score=score.total,
            breakdown=score.breakdown,
            policy_version=score.policy_version,
        )
    ]


#: What a partner may amend that the score depends on.
SCORED_FIELDS = frozenset({"headcount", "needed_by"})


def decide_rescore(
    state: CaseState,
    amended: RequestAmended,
    amendment_id: UUID,
    country: Country,
    scoring: ScoringContext,
) -> list[EventData]:
    """An amendment of what the preliminary score depends on scores the case again (under the
    current policy: the new score names its version); after the assessment the score stands."""
    if state.assessment is not None or not SCORED_FIELDS & set(amended.changes.named()):
        return []
    score = score_case(state.request, country, scoring)
    return [
        CaseRescored(
            request_id=state.request_id,
            score=score.total,
            breakdown=score.breakdown,
            policy_version=score.policy_version,
            because_of=amendment_id,
        )
    ]
