"""Events on `jiph.triage.events`: how the hub assessed, prioritised and decided."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.catalogue.fields import (
    CaseVersion,
    Classification,
    Code,
    CountryCode,
    Fraction,
    Headcount,
    Identity,
    LongText,
    Reference,
    RiskTier,
    Score,
    ShortText,
    Stage,
    TourMonths,
)
from shared.events import REGISTRY, EventData, event
from shared.topics import TRIAGE_EVENTS

PartnerMessage = LongText | None

#: The one stream (and Kafka key) of policy adoptions in triage's store: adoptions of a policy
#: stay in order, and every instance of triage reads the same policy in force from it.
POLICY_STREAM = "policy"


class CriterionScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    criterion: Code
    raw: Fraction
    weight: Fraction
    points: Score
    explanation: ShortText


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Days = Annotated[int, Field(ge=0, le=100_000)]


class FragilityParameters(_Wire):
    scale_max: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]


class AlignmentParameters(_Wire):
    priority_country: Fraction
    priority_theme: Fraction
    priority_themes: list[Code] = Field(max_length=20)


class PointsByCode(_Wire):
    points: dict[Code, Fraction] = Field(max_length=20)


class UrgencyParameters(_Wire):
    full_within_days: Days
    zero_after_days: Days


class HumanRightsRiskParameters(PointsByCode):
    unassessed: Fraction


class PolicyDocument(_Wire):
    """A prioritisation policy as it travels: the shape of `weights-v1.json`, codes as strings
    (triage's scoring checks the rest before it adopts one: weights summing to 1, every
    criterion, partner type and risk tier present)."""

    version: Code
    description: LongText = ""
    weights: dict[Code, Fraction] = Field(max_length=20)
    fragility: FragilityParameters
    alignment: AlignmentParameters
    partner_type: PointsByCode
    urgency: UrgencyParameters
    human_rights_risk: HumanRightsRiskParameters


class _TriageEvent(EventData):
    topic: ClassVar[str] = TRIAGE_EVENTS
    request_id: UUID


@event
class RequestTriaged(_TriageEvent):
    """The hub opened a case with a preliminary priority score."""

    event_type: ClassVar[str] = "RequestTriaged"
    reference: Reference
    country: CountryCode
    region: Code
    capability: Code
    partner_type: Code
    headcount: Headcount
    needed_by: date
    classification: Classification
    score: Score
    breakdown: list[CriterionScore] = Field(max_length=20)
    policy_version: Code


@event
class CaseRescored(_TriageEvent):
    """The case's preliminary score was made again: the partner changed what it is scored on."""

    event_type: ClassVar[str] = "CaseRescored"
    score: Score
    breakdown: list[CriterionScore] = Field(max_length=20)
    policy_version: Code
    #: The partner's amendment that changed the inputs.
    because_of: UUID


@event
class InformationRequested(_TriageEvent):
    """The hub asked the partner questions before it can assess."""

    event_type: ClassVar[str] = "InformationRequested"
    information_request_id: UUID
    questions: list[Annotated[str, Field(max_length=1000)]] = Field(min_length=1, max_length=20)


class _Decision(_TriageEvent):
    """What every assessment and decision records: the case version it was made on (what the
    decider saw), and optionally a message written for the partner (the rest is internal)."""

    case_version: CaseVersion = 0
    partner_message: PartnerMessage = None


@event
class RequestAssessedV1(_TriageEvent):
    """A triage officer assessed risk and alignment; the score is final."""

    event_type: ClassVar[str] = "RequestAssessed"
    schema_version: ClassVar[int] = 1
    score: Score
    breakdown: list[CriterionScore]
    policy_version: Code
    risk_tier: RiskTier
    alignment: Fraction | None = None
    assessor: Identity
    notes: LongText = ""
    computed_score: Score
    override_rationale: LongText | None = None


@event
class RequestAssessed(_Decision):
    """A triage officer assessed risk and alignment; the score is final. Lowering the risk tier
    of a case once assessed higher needs a written `tier_rationale`."""

    event_type: ClassVar[str] = "RequestAssessed"
    schema_version: ClassVar[int] = 2
    score: Score
    breakdown: list[CriterionScore] = Field(max_length=20)
    policy_version: Code
    risk_tier: RiskTier
    alignment: Fraction | None = None
    assessor: Identity
    notes: LongText = ""
    computed_score: Score
    override_rationale: LongText | None = None
    tier_rationale: LongText | None = None


@event
class ApprovalGivenV1(_TriageEvent):
    """The board (IPAB) or a minister approved at their stage."""

    event_type: ClassVar[str] = "ApprovalGiven"
    schema_version: ClassVar[int] = 1
    stage: Stage
    approver: Identity
    reason: LongText = ""


@event
class ApprovalGiven(_Decision):
    """The board (IPAB) or a minister approved at their stage. `reason` is internal."""

    event_type: ClassVar[str] = "ApprovalGiven"
    schema_version: ClassVar[int] = 2
    stage: Stage
    approver: Identity
    reason: LongText = ""


@event
class RequestApproved(_TriageEvent):
    """Every approval the request needs is given; sourcing can start."""

    event_type: ClassVar[str] = "RequestApproved"
    reference: Reference
    country: CountryCode
    capability: Code
    headcount: Headcount
    classification: Classification
    needed_by: date
    tour_length_months: TourMonths


@event
class RequestRejectedV1(_TriageEvent):
    """The hub declined the request, with a published reason code."""

    event_type: ClassVar[str] = "RequestRejected"
    schema_version: ClassVar[int] = 1
    reason_code: Code
    reason: LongText = ""
    stage: Stage = "board"


@event
class RequestRejected(_Decision):
    """The hub declined the request, with a published reason code. `reason` is internal."""

    event_type: ClassVar[str] = "RequestRejected"
    schema_version: ClassVar[int] = 2
    reason_code: Code
    reason: LongText = ""
    stage: Stage = "board"
    decided_by: Identity | None = None


@event
class RequestPutOnHoldV1(_TriageEvent):
    """The decision is paused."""

    event_type: ClassVar[str] = "RequestPutOnHold"
    schema_version: ClassVar[int] = 1
    reason: LongText = ""


@event
class RequestPutOnHold(_Decision):
    """The decision is paused. `reason` is internal."""

    event_type: ClassVar[str] = "RequestPutOnHold"
    schema_version: ClassVar[int] = 2
    reason: LongText = ""
    stage: Stage = "board"
    decided_by: Identity | None = None


@event
class RequestResumedV1(_TriageEvent):
    """A paused request is back in the decision queue."""

    event_type: ClassVar[str] = "RequestResumed"
    schema_version: ClassVar[int] = 1
    reason: LongText = ""


@event
class RequestResumed(_Decision):
    """A paused request is back in the decision queue. `reason` is internal."""

    event_type: ClassVar[str] = "RequestResumed"
    schema_version: ClassVar[int] = 2
    reason: LongText = ""
    stage: Stage = "board"
    decided_by: Identity | None = None


@event
class PolicyAdopted(EventData):
    """The hub adopted a prioritisation policy: every score made from now on is made with it and
    names its version. About no request (no `request_id`): its key is `policy`."""

    topic: ClassVar[str] = TRIAGE_EVENTS
    event_type: ClassVar[str] = "PolicyAdopted"
    policy_version: Code = Field(description="The version every score made with it names")
    policy: PolicyDocument = Field(
        description="The whole policy document as triage's scoring validated it (the schema of "
        "services/triage/policy/weights-v1.json): a score can be recomputed from it for ever",
    )
    author: Identity = Field(description="Who adopted it (the token's subject)")
    rationale: LongText = Field(description="Why the hub adopted it")
    previous_version: Code = Field(description="The version in force until this adoption")

    def partition_key(self) -> str:
        return POLICY_STREAM


def _to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 of a decision recorded neither the case version nor a partner message, nor
    (for rejections, holds and resumptions) who decided: those stay unknown."""
    return data


for _event_type in ("RequestAssessed", "ApprovalGiven", "RequestRejected"):
    REGISTRY.upcaster(_event_type, 1)(_to_v2)


@REGISTRY.upcaster("RequestPutOnHold", 1)
@REGISTRY.upcaster("RequestResumed", 1)
def _hold_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 holds and resumptions had no stage: only the board held cases then."""
    return {**data, "stage": "board"}


# --- casework: owners, internal notes, the conversation with the partner ----------------------
@event
class CaseAssigned(_TriageEvent):
    """A case has a named owner now: given by a colleague (`assigned_by`) or taken by the owner
    (`claimed`). The event a staff notification ("a case assigned to you") reacts to."""

    event_type: ClassVar[str] = "CaseAssigned"
    owner: Identity = Field(description="Who owns the case from now on (a staff subject)")
    assigned_by: Identity = Field(description="Who gave it (the owner, for a claim)")
    claimed: bool = Field(description="True when the owner took the case themselves")
    previous_owner: Identity | None = Field(
        default=None, description="Who owned it until now, if anyone"
    )


@event
class CaseReleased(_TriageEvent):
    """The case has no owner any more: back in the unassigned queue."""

    event_type: ClassVar[str] = "CaseReleased"
    previous_owner: Identity = Field(description="Who owned it until now")
    released_by: Identity = Field(description="Who released it")


@event
class CaseNoteAdded(_TriageEvent):
    """An internal note on the case: staff only, in the case's history; never shown to the
    partner (intake's timeline leaves it out)."""

    event_type: ClassVar[str] = "CaseNoteAdded"
    note_id: UUID
    note: LongText = Field(description="The note (internal)")
    author: Identity


@event
class MessageToPartner(_TriageEvent):
    """The hub wrote to the partner about the request: shown in the partner's timeline."""

    event_type: ClassVar[str] = "MessageToPartner"
    message_id: UUID
    partner_message: LongText = Field(description="What the partner reads")
    author: Identity
