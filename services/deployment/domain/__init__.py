"""Deployment's domain, pure: offers of officers, and the life of a deployment and its officers.

No I/O and no `await` here. Commands are decided against the aggregate's own event stream plus the
facts a handler looked up for it (the officer's offers, their other bookings, what triage and
intake said about the request); reference data (vetting ranks, repatriation reasons) is passed in
as data.
"""

from services.deployment.domain.changes import (
    decide_deploy_officer,
    decide_replace,
    decide_withdraw_nomination,
)
from services.deployment.domain.dates import (
    MAX_EXTENSION_MONTHS,
    MAX_TOUR_MONTHS,
    add_months,
    extended_end,
    tour_end_for,
)
from services.deployment.domain.decisions import (
    decide_cancel,
    decide_clear,
    decide_complete,
    decide_extend,
    decide_nominate,
    decide_release,
    decide_repatriate,
    decide_start,
)
from services.deployment.domain.deployment import (
    CANCELLABLE,
    DEPLOYED,
    LIVE,
    NOMINATING,
    Deployment,
    DeploymentStatus,
    Nominee,
    OfficerStatus,
    Post,
    RoleProfile,
    evolve,
    fold,
)
from services.deployment.domain.matching import (
    Candidate,
    Matches,
    PostNeeds,
    match_post,
    needs_of,
)
from services.deployment.domain.offers import (
    Offer,
    OfferTerms,
    decide_offer,
    decide_update_offer,
    decide_withdraw_offer,
    evolve_offer,
    fold_offer,
)
from services.deployment.domain.readiness import (
    availability_problems,
    required_vetting,
    validity_problems,
)
from services.deployment.domain.requirement import (
    Requirement,
    decide_plan,
    requirement_of,
    requirement_status,
)
from shared.refusals import DomainError

__all__ = [
    "CANCELLABLE",
    "DEPLOYED",
    "LIVE",
    "MAX_EXTENSION_MONTHS",
    "MAX_TOUR_MONTHS",
    "NOMINATING",
    "Candidate",
    "Deployment",
    "DeploymentStatus",
    "DomainError",
    "Matches",
    "Nominee",
    "Offer",
    "OfferTerms",
    "OfficerStatus",
    "Post",
    "PostNeeds",
    "Requirement",
    "RoleProfile",
    "add_months",
    "availability_problems",
    "decide_cancel",
    "decide_clear",
    "decide_complete",
    "decide_deploy_officer",
    "decide_extend",
    "decide_nominate",
    "decide_offer",
    "decide_plan",
    "decide_release",
    "decide_repatriate",
    "decide_replace",
    "decide_start",
    "decide_update_offer",
    "decide_withdraw_nomination",
    "decide_withdraw_offer",
    "evolve",
    "evolve_offer",
    "extended_end",
    "fold",
    "fold_offer",
    "match_post",
    "needs_of",
    "required_vetting",
    "requirement_of",
    "requirement_status",
    "tour_end_for",
    "validity_problems",
]
