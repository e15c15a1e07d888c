"""What the policy endpoints answer: the response models shown in the OpenAPI document. A
what-if names cases only by id, reference, country, capability, partner type and status, with
their scores: no free text of a request."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.triage.domain import Adoption, PolicyBook
from services.triage.domain.what_if import CaseComparison, Comparison, GroupEffect


class CaseWhatIf(BaseModel):
    request_id: UUID = Field(description="The case's request")
    reference: str = Field(examples=["JIPH-2026-000123"])
    country: str = Field(examples=["SO"])
    capability: str = Field(examples=["border-security"])
    partner_type: str = Field(examples=["un"])
    status: str = Field(examples=["in_triage"])
    overridden: bool = Field(
        description="An assessor overrode the score: the override is a judgement about the case, "
        "left out of both columns (the queue ranks it by the override)"
    )
    current_score: float = Field(description="Recomputed under the policy in force (0-100)")
    current_rank: int = Field(ge=1, description="Rank in the queue under the policy in force")
    candidate_score: float = Field(description="Computed under the candidate policy (0-100)")
    candidate_rank: int = Field(ge=1, description="Rank under the candidate policy")
    score_delta: float = Field(description="candidate_score - current_score")
    rank_change: int = Field(
        description="current_rank - candidate_rank: positive means nearer the top"
    )
    current_raw: dict[str, float] = Field(
        description="Each criterion's raw value (0-1) under the policy in force: the score is "
        "the sum of raw x weight x 100, each rounded to 2 dp",
        examples=[{"fragility": 0.9, "urgency": 0.75}],
    )
    candidate_raw: dict[str, float] = Field(
        description="Each criterion's raw value under the candidate (differs from `current_raw` "
        "only where the candidate changes a criterion's parameters)"
    )

    @classmethod
    def of(cls, row: CaseComparison) -> CaseWhatIf:
        f = row.facts
        return cls(
            request_id=f.request_id,
            reference=f.reference,
            country=f.country,
            capability=f.capability,
            partner_type=f.partner_type,
            status=f.status,
            overridden=f.overridden,
            current_score=row.current_score,
            current_rank=row.current_rank,
            candidate_score=row.candidate_score,
            candidate_rank=row.candidate_rank,
            score_delta=row.score_delta,
            rank_change=row.rank_change,
            current_raw=dict(row.current_raw),
            candidate_raw=dict(row.candidate_raw),
        )


class GroupWhatIf(BaseModel):
    key: str = Field(description="The country, capability or partner type", examples=["SO"])
    count: int = Field(description="Cases in the group")
    mean_current_score: float = Field(description="Mean score under the policy in force (2 dp)")
    mean_candidate_score: float = Field(description="Mean score under the candidate (2 dp)")
    mean_rank_change: float = Field(description="Mean rank change (2 dp; positive: up)")

    @classmethod
    def of(cls, group: GroupEffect) -> GroupWhatIf:
        return cls(
            key=group.key,
            count=group.count,
            mean_current_score=group.mean_current_score,
            mean_candidate_score=group.mean_candidate_score,
            mean_rank_change=group.mean_rank_change,
        )


class Movers(BaseModel):
    up: list[CaseWhatIf] = Field(description="The biggest rises, largest first")
    down: list[CaseWhatIf] = Field(description="The biggest falls, largest first")


class Period(BaseModel):
    start: date = Field(alias="from", description="First submission day (UTC)")
    end: date = Field(alias="to", description="Last submission day (UTC), included")

    model_config = ConfigDict(populate_by_name=True)


class WhatIf(BaseModel):
    """A candidate policy against the policy in force, over the cases of a period."""

    period: Period
    scored_on: date = Field(description="The day both columns are scored on (urgency, offers)")
    current_version: str = Field(description="The policy in force", examples=["2026-11-v1"])
    candidate_version: str = Field(description="The candidate's version", examples=["2027-01-v2"])
    case_count: int
    cases: list[CaseWhatIf] = Field(description="Every case of the period, in current rank order")
    movers: Movers
    by_country: list[GroupWhatIf]
    by_capability: list[GroupWhatIf]
    by_partner_type: list[GroupWhatIf]

    @classmethod
    def of(
        cls,
        comparison: Comparison,
        *,
        period: tuple[date, date],
        scored_on: date,
        current_version: str,
        candidate_version: str,
    ) -> WhatIf:
        return cls(
            period=Period(start=period[0], end=period[1]),
            scored_on=scored_on,
            current_version=current_version,
            candidate_version=candidate_version,
            case_count=len(comparison.cases),
            cases=[CaseWhatIf.of(row) for row in comparison.cases],
            movers=Movers(
                up=[CaseWhatIf.of(row) for row in comparison.up],
                down=[CaseWhatIf.of(row) for row in comparison.down],
            ),
            by_country=[GroupWhatIf.of(g) for g in comparison.by_country],
            by_capability=[GroupWhatIf.of(g) for g in comparison.by_capability],
            by_partner_type=[GroupWhatIf.of(g) for g in comparison.by_partner_type],
        )


class PolicyView(BaseModel):
    """A prioritisation policy and how it came to be in force."""

    version: str = Field(examples=["2026-11-v1"])
    policy: dict[str, Any] = Field(description="The whole policy document (schema of the file)")
    source: Literal["published file", "adopted"] = Field(
        description="`published file`: the one shipped with the service; `adopted`: by a "
        "`PolicyAdopted` event"
    )
    adopted_by: str | None = Field(description="Who adopted it (null for the published file)")
    adopted_at: datetime | None = Field(description="When (null for the published file)")
    rationale: str | None = Field(description="Why it was adopted (null for the published file)")
    previous_version: str | None = Field(description="The version it replaced")

    @classmethod
    def of_adoption(cls, adoption: Adoption) -> PolicyView:
        return cls(
            version=adoption.version,
            policy=adoption.policy.model_dump(mode="json"),
            source="adopted",
            adopted_by=adoption.author,
            adopted_at=adoption.adopted_at,
            rationale=adoption.rationale,
            previous_version=adoption.previous_version,
        )

    @classmethod
    def in_force(cls, book: PolicyBook) -> PolicyView:
        latest = book.latest_adoption
        if latest is not None:
            return cls.of_adoption(latest)
        return cls(
            version=book.default.version,
            policy=book.default.model_dump(mode="json"),
            source="published file",
            adopted_by=None,
            adopted_at=None,
            rationale=None,
            previous_version=None,
        )


class PolicyHistory(BaseModel):
    items: list[PolicyView] = Field(description="Every adoption, the latest first")
    published_versions: list[str] = Field(
        description="The versions published as files with the service", examples=[["2026-11-v1"]]
    )


class PolicyAdoptedView(BaseModel):
    policy: PolicyView
    consistency_token: str = Field(description="Also in the `X-Consistency-Token` header")
