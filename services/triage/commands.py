"""What hub staff send: bounded, strict request bodies (unknown fields refused, server fields
absent), with a description and an example for every field."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.triage import domain
from services.triage.domain import CaseStatus, Decision, Stage
from services.triage.scoring import Policy
from shared.api import supported
from shared.reference.codes import RiskTier
from shared.refusals import invalid
from shared.text import require_visible

Day = Annotated[date | None, AfterValidator(supported)]

Question = Annotated[str, Field(min_length=1, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AssessCase(_Strict):
    """A triage officer's assessment: the OSJA human-rights risk, alignment and notes. The
    server computes the score under the current policy; an override needs a rationale."""

    risk_tier: RiskTier = Field(description="OSJA human-rights risk", examples=["high"])
    alignment: float | None = Field(
        default=None,
        ge=0,
        le=1,
        examples=[0.8],
        description="Your judgement of alignment with HMG priorities (0-1); "
        "omit to use the policy's priority countries and themes",
    )
    notes: str = Field(default="", max_length=5000, examples=["Host state consent confirmed."])
    score_override: float | None = Field(
        default=None,
        ge=0,
        le=100,
        examples=[80],
        description="Replace the computed score (0-100); needs `override_rationale`",
    )
    override_rationale: str | None = Field(
        default=None,
        max_length=2000,
        description=f"Why the score is overridden (at least {domain.MIN_OVERRIDE_RATIONALE} "
        "visible characters); recorded with the assessment",
        examples=["Ministerial commitment made at the 2026 summit raises the priority."],
    )
    tier_rationale: str | None = Field(
        default=None,
        max_length=2000,
        description="Required when the risk tier is lower than an earlier assessment's (at "
        f"least {domain.MIN_OVERRIDE_RATIONALE} visible characters); shown in the case history. "
        "A case once assessed high or serious keeps its ministerial stage.",
        examples=["The host state's new oversight body reviewed the unit in October."],
    )
    partner_message: str | None = Field(
        default=None,
        max_length=2000,
        description="What the partner is told about the assessment, if anything; notes stay "
        "internal",
    )

    def to_command(self) -> domain.Assess:
        return domain.Assess(
            risk_tier=self.risk_tier.value,
            alignment=self.alignment,
            notes=self.notes,
            score_override=self.score_override,
            override_rationale=self.override_rationale,
            tier_rationale=self.tier_rationale,
            partner_message=self.partner_message,
        )


class RequestInformation(_Strict):
    """Questions for the partner; the case waits for the answers before it can be assessed."""

    questions: list[Question] = Field(
        min_length=1, max_length=20, examples=[["Will the host state provide armoured transport?"]]
    )

    def to_command(self) -> domain.AskForInformation:
        return domain.AskForInformation(tuple(self.questions))


class DecideOnCase(_Strict):
    """A decision at a stage: `approve`, `reject` (with a published `reason_code`), `hold` or
    `resume`. The board (role `approver`) decides first; for high or serious human-rights risk a
    `minister` then decides at the `ministerial` stage."""

    decision: Decision = Field(examples=["approve"])
    stage: Stage = Field(examples=["board"])
    reason: str = Field(
        default="",
        max_length=2000,
        examples=["Meets the board's criteria."],
        description="Internal: the hub's own record of why (never shown to the partner)",
    )
    reason_code: str | None = Field(
        default=None,
        max_length=40,
        examples=["out-of-scope"],
        description="Required to reject: one of GET /v1/reference/rejection-reasons",
    )
    partner_message: str | None = Field(
        default=None,
        max_length=2000,
        examples=["The board will look at the request again once the elections are over."],
        description="What the partner is told with this decision, if anything",
    )

    def to_command(self) -> domain.Decide:
        return domain.Decide(
            self.decision, self.stage, self.reason, self.reason_code, self.partner_message
        )


# --- prioritisation policy -------------------------------------------------------------------
#: A what-if answers at most this many cases: scoring each twice takes about 0.1 ms, and the
#: answer lists every case.
MAX_WHAT_IF_CASES = 2000
MAX_WHAT_IF_DAYS = 3660


class TryPolicy(_Strict):
    """A candidate policy to try on the cases submitted in a period; nothing is written."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    policy: Policy = Field(
        description="A whole candidate policy document, the schema of the published "
        "`weights-v1.json` (weights summing to 1, every criterion's parameters); checked by the "
        "scoring's own rules, a fault answers 422 naming the field (`body.policy.weights`)"
    )
    period_from: Day = Field(
        default=None,
        alias="from",
        description="First submission day (UTC) of the period; default: 364 days before `to`",
        examples=["2026-01-01"],
    )
    period_to: Day = Field(
        default=None,
        alias="to",
        description="Last submission day (UTC) of the period, included; default: today",
        examples=["2026-12-31"],
    )
    statuses: list[CaseStatus] | None = Field(
        default=None,
        max_length=len(CaseStatus),
        description="Only cases with these statuses (default: every case of the period)",
        examples=[["in_triage", "assessed"]],
    )
    movers: int = Field(
        default=10, ge=1, le=100, description="How many of the biggest rises and of the falls"
    )

    def period(self, today: date) -> tuple[date, date]:
        """The period asked for, defaults filled in; a reversed or too long one is refused."""
        end = self.period_to or today
        start = self.period_from or end - timedelta(days=364)
        if start > end:
            raise invalid(
                "bad-period",
                f"the period starts ({start}) after it ends ({end})",
                errors=[{"field": "body.from", "message": f"after the period's end {end}"}],
            )
        if (end - start).days > MAX_WHAT_IF_DAYS:
            raise invalid(
                "bad-period",
                f"a period is at most {MAX_WHAT_IF_DAYS} days",
                errors=[{"field": "body.from", "message": f"at most {MAX_WHAT_IF_DAYS} days"}],
            )
        return start, end


class AdoptPolicyBody(_Strict):
    """Adopt a policy: from now on every new score is made with it and names its version."""

    policy: Policy = Field(
        description="The whole policy document (schema of `weights-v1.json`) with a version not "
        "published or adopted before"
    )
    rationale: str = Field(
        min_length=1,
        max_length=5000,
        description=f"Why the hub adopts it (at least {domain.MIN_POLICY_RATIONALE} visible "
        "characters); recorded with the adoption",
        examples=["Board decision 2026/14: urgency and fragility weigh more from January."],
    )

    def to_command(self) -> domain.AdoptPolicy:
        return domain.AdoptPolicy(self.policy, self.rationale)


# --- casework -------------------------------------------------------------------------------
#: Free text written by staff: the text rule (at the input boundary), visible text, bounded.
Written = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(require_visible)]


class AssignCase(_Strict):
    """Give the case to a member of staff."""

    owner: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The staff member's subject (the `sub` of their token); compared in "
        "canonical form (case folded)",
        examples=["alice"],
    )

    def to_command(self) -> domain.Assign:
        return domain.Assign(self.owner)


class AddNote(_Strict):
    """An internal note: staff only, never shown to the partner."""

    note: Written = Field(examples=["Spoke to the desk officer: host-state consent is in hand."])


class WriteToPartner(_Strict):
    """A message to the partner: it appears in the partner's timeline."""

    message: Written = Field(
        examples=["Could you send the mission's latest force generation plan?"]
    )
