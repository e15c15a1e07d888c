"""A candidate policy tried on the cases of a period, changing nothing: pure.

Both columns are computed the same way: every case is scored afresh under the policy in force
and under the candidate, on the same day with the same officers on offer, with its assessment's
risk tier and alignment when it has one (as the real score does). A score override is a human
judgement about one case, not a policy's: it is left out of both columns and flagged.

Ranks are the queue's order (`GET /v1/cases`): score descending, then the earliest needed-by
date, then the request id; rank 1 is the top. `rank_change` is current rank minus candidate
rank: positive means nearer the top under the candidate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from services.triage.domain.opening import ScoringContext, score_case
from services.triage.scoring import Policy
from shared.reference.data import Country


@dataclass(frozen=True)
class CaseFacts:
    """What the answer may say of a case (no free text) and what ranks it."""

    request_id: UUID
    reference: str
    country: str
    capability: str
    partner_type: str
    status: str
    needed_by: date
    overridden: bool = False


@dataclass(frozen=True)
class CaseToScore:
    """A case with what its score depends on: the request (amendments applied), the country's
    reference data, the officers offered for its capability, its assessment's tier and
    alignment (None before the assessment)."""

    facts: CaseFacts
    request: Mapping[str, Any]
    country: Country
    offered_officers: int
    risk_tier: str | None = None
    alignment: float | None = None


#: The raw value (0-1) of each criterion: what a score is made of, besides the weights.
RawValues = Mapping[str, float]


@dataclass(frozen=True)
class Scored:
    facts: CaseFacts
    current: float
    candidate: float
    current_raw: RawValues = field(default_factory=dict)
    candidate_raw: RawValues = field(default_factory=dict)


@dataclass(frozen=True)
class CaseComparison:
    facts: CaseFacts
    current_score: float
    candidate_score: float
    current_rank: int
    candidate_rank: int
    current_raw: RawValues = field(default_factory=dict)
    candidate_raw: RawValues = field(default_factory=dict)

    @property
    def score_delta(self) -> float:
        return round(self.candidate_score - self.current_score, 2)

    @property
    def rank_change(self) -> int:
        return self.current_rank - self.candidate_rank


@dataclass(frozen=True)
class GroupEffect:
    key: str
    count: int
    mean_current_score: float
    mean_candidate_score: float
    mean_rank_change: float


@dataclass(frozen=True)
class Comparison:
    #: In current rank order.
    cases: tuple[CaseComparison, ...]
    #: The biggest rises and falls (largest change first), at most `movers` of each.
    up: tuple[CaseComparison, ...]
    down: tuple[CaseComparison, ...]
    by_country: tuple[GroupEffect, ...]
    by_capability: tuple[GroupEffect, ...]
    by_partner_type: tuple[GroupEffect, ...]


def score_both(
    cases: Sequence[CaseToScore], current: Policy, candidate: Policy, today: date
) -> list[Scored]:
    """Every case scored under both policies on `today`."""

    def scored(case: CaseToScore, policy: Policy) -> tuple[float, RawValues]:
        context = ScoringContext(policy, today, case.offered_officers)
        score = score_case(
            case.request,
            case.country,
            context,
            risk_tier=case.risk_tier,
            alignment=case.alignment,
        )
        return score.total, {part.criterion: part.raw for part in score.breakdown}

    both = []
    for case in cases:
        (now, now_raw), (then, then_raw) = scored(case, current), scored(case, candidate)
        both.append(Scored(case.facts, now, then, now_raw, then_raw))
    return both


def queue_ranks(items: Sequence[tuple[float, date, UUID]]) -> list[int]:
    """The rank (1 = top) of each (score, needed_by, request_id) in the queue's order."""
    order = sorted(range(len(items)), key=lambda i: (-items[i][0], items[i][1], items[i][2]))
    ranks = [0] * len(items)
    for position, index in enumerate(order, start=1):
        ranks[index] = position
    return ranks


def compare(scored: Sequence[Scored], *, movers: int = 10) -> Comparison:
    """Rank the cases under each policy and say what moved, overall and by group."""
    current = queue_ranks([(s.current, s.facts.needed_by, s.facts.request_id) for s in scored])
    candidate = queue_ranks([(s.candidate, s.facts.needed_by, s.facts.request_id) for s in scored])
    rows = sorted(
        (
            CaseComparison(
                s.facts,
                s.current,
                s.candidate,
                current[i],
                candidate[i],
                s.current_raw,
                s.candidate_raw,
            )
            for i, s in enumerate(scored)
        ),
        key=lambda row: row.current_rank,
    )
    rises = sorted(
        (r for r in rows if r.rank_change > 0), key=lambda r: (-r.rank_change, r.candidate_rank)
    )
    falls = sorted(
        (r for r in rows if r.rank_change < 0), key=lambda r: (r.rank_change, r.candidate_rank)
    )
    return Comparison(
        cases=tuple(rows),
        up=tuple(rises[:movers]),
        down=tuple(falls[:movers]),
        by_country=_effects(rows, lambda f: f.country),
        by_capability=_effects(rows, lambda f: f.capability),
        by_partner_type=_effects(rows, lambda f: f.partner_type),
    )


def _mean(values: Sequence[float]) -> float:
    return round(math.fsum(values) / len(values), 2)


def _effects(
    rows: Sequence[CaseComparison], key: Callable[[CaseFacts], str]
) -> tuple[GroupEffect, ...]:
    groups: dict[str, list[CaseComparison]] = defaultdict(list)
    for row in rows:
        groups[key(row.facts)].append(row)
    return tuple(
        GroupEffect(
            key=name,
            count=len(members),
            mean_current_score=_mean([m.current_score for m in members]),
            mean_candidate_score=_mean([m.candidate_score for m in members]),
            mean_rank_change=_mean([float(m.rank_change) for m in members]),
        )
        for name, members in sorted(groups.items())
    )
