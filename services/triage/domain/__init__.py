"""Triage's domain, pure: a case per request, how it is assessed, and who may decide on it.

No I/O and no `await` here. A case's state folds two histories: the case's own stream
(`case-<request_id>`, triage's events) and the partner's facts about the request that intake
publishes (submission, amendments, withdrawal). `evolve` is written so that the interleaving of
the two histories does not change the status: an amendment closes the information request it
names whether it is folded before or after that request, and a withdrawal closes the case
wherever it falls. Separation of duties (DESIGN §5) is decided here, on the state alone.
"""

from services.triage.domain.case import (
    BEFORE_ASSESSMENT,
    CLOSED,
    MIN_OVERRIDE_RATIONALE,
    STAGE_ROLE,
    Assessment,
    CaseState,
    CaseStatus,
    Decision,
    Stage,
    case_stream_id,
    evolve,
    fold,
)
from services.triage.domain.casework import (
    Assign,
    decide_assign,
    decide_claim,
    decide_message,
    decide_note,
    decide_release,
)
from services.triage.domain.decisions import (
    AskForInformation,
    Assess,
    Decide,
    Rules,
    Staff,
    decide_assess,
    decide_decision,
    decide_request_information,
)
from services.triage.domain.opening import (
    ScoringContext,
    decide_open_case,
    decide_rescore,
    score_case,
)
from services.triage.domain.policy import (
    MIN_POLICY_RATIONALE,
    Adoption,
    AdoptPolicy,
    PolicyBook,
    adoption_of,
    book_of,
    decide_adopt,
    policy_stream_id,
)
from shared.refusals import DomainError

__all__ = [
    "BEFORE_ASSESSMENT",
    "CLOSED",
    "MIN_OVERRIDE_RATIONALE",
    "MIN_POLICY_RATIONALE",
    "STAGE_ROLE",
    "AdoptPolicy",
    "Adoption",
    "AskForInformation",
    "Assess",
    "Assessment",
    "Assign",
    "CaseState",
    "CaseStatus",
    "Decide",
    "Decision",
    "DomainError",
    "PolicyBook",
    "Rules",
    "ScoringContext",
    "Staff",
    "Stage",
    "adoption_of",
    "book_of",
    "case_stream_id",
    "decide_adopt",
    "decide_assess",
    "decide_assign",
    "decide_claim",
    "decide_decision",
    "decide_message",
    "decide_note",
    "decide_open_case",
    "decide_release",
    "decide_request_information",
    "decide_rescore",
    "evolve",
    "fold",
    "policy_stream_id",
    "score_case",
]
