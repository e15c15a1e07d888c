"""The rules of a deployment's life: nominate, release, clear, start, extend, repatriate,
complete, cancel. Each takes the deployment's state and the facts a handler looked up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from uuid import UUID

from services.deployment.domain.dates import MAX_EXTENSION_MONTHS, extended_end
from services.deployment.domain.deployment import (
    CANCELLABLE,
    DEPLOYED,
    NOMINATING,
    Deployment,
    DeploymentStatus,
    Nominee,
    OfficerStatus,
    Post,
)
from services.deployment.domain.offers import Offer
from services.deployment.domain.readiness import (
    availability_problems,
    required_vetting,
    validity_problems,
)
from shared.catalogue.deployment import (
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentStarted,
    OfficerCleared,
    OfficerNominated,
    OfficerReleased,
    OfficerRepatriated,
    TourExtended,
)
from shared.events import EventData
from shared.reference.data import ReferenceData
from shared.refusals import DomainError, Kind, NotFound


def _nominee(state: Deployment, officer_ref: str) -> Nominee:
    nominee = state.nominee(officer_ref)
    if nominee is None:
        raise DomainError("not-nominated", f"{officer_ref} is not nominated to this deployment")
    return nominee


def _require(
    state: Deployment, allowed: frozenset[DeploymentStatus], rule: str, doing: str
) -> None:
    if state.status not in allowed:
        raise DomainError(rule, f"the deployment is {state.status.value}: cannot {doing}")


def _require_staffing_of(state: Deployment, nominee: Nominee, doing: str) -> None:
    """Before the start; or, under way, for a backfill nominee who has not joined yet."""
    backfill = state.status in DEPLOYED and nominee.starts_on is not None
    if not backfill:
        _require(state, CANCELLABLE, "not-staffing", doing)
    if nominee.status == OfficerStatus.WITHDRAWN:
        raise DomainError("not-nominated", f"{nominee.officer_ref}'s nomination was withdrawn")


def _post_to_fill(state: Deployment, post_id: str | None) -> Post:
    """The post a nomination fills: the one named, or the first vacant one. While the tour is
    under way only a post reopened by an early repatriation can be filled (a backfill)."""
    if state.status in DEPLOYED:
        if (
            not any(n.status == OfficerStatus.REPATRIATED_EARLY for n in state.nominees)
            or not state.vacant
        ):
            raise DomainError(
                "not-staffing", "the deployment is deployed: only a vacated post can be backfilled"
            )
    else:
        _require(state, NOMINATING | {DeploymentStatus.READY}, "not-staffing", "nominate officers")
    if post_id is None:
        if not state.vacant:
            raise DomainError(
                "headcount-reached",
                f"all {state.headcount} posts of this deployment have a nominee",
            )
        return state.vacant[0]
    post = state.post(post_id)
    if post is None:
        raise DomainError(
            "unknown-post",
            f"this deployment has posts {state.posts[0].post_id} to {state.posts[-1].post_id}",
            kind=Kind.INVALID,
            errors=[{"field": "post_id", "message": f"no post {post_id!r} here"}],
        )
    if post.holder is not None:
        raise DomainError("post-filled", f"post {post_id} is held by {post.holder}")
    return post


def decide_nominate(
    state: Deployment,
    officer_ref: str,
    *,
    offers: Sequence[Offer],
    booked_elsewhere: Sequence[UUID],
    erased: bool,
    ref: ReferenceData,
    post_id: str | None = None,
) -> list[EventData]:
    """Pick the officer's offer that fits the post for the rest of the tour, or say why none
    does. `booked_elsewhere` are the officer's other tours overlapping the post's window."""
    post = _post_to_fill(state, post_id)
    if erased:
        raise DomainError("officer-erased", f"the personal data of {officer_ref} was erased")
    current = state.nominee(officer_ref)
    if current is not None and current.status != OfficerStatus.WITHDRAWN:
        raise DomainError("already-nominated", f"{officer_ref} is already nominated here")
    candidates = [o for o in offers if not o.withdrawn and o.officer_ref == officer_ref]
    if not candidates:
        raise DomainError("no-active-offer", f"{officer_ref} has no active offer")
    candidates = [o for o in candidates if o.capability == state.capability]
    if not candidates:
        raise DomainError(
            "capability-mismatch", f"{officer_ref} is not offered for {state.capability}"
        )
    start = max(post.needed_from, state.tour_start)
    candidates = [
        o
        for o in candidates
        if o.terms.available_from <= start and o.terms.available_to >= state.tour_end
    ]
    if not candidates:
        raise DomainError(
            "officer-unavailable",
            f"{officer_ref} is not available from {start} to {state.tour_end}",
        )
    need = required_vetting(state, ref)
    candidates = [o for o in candidates if ref.vetting_at_least(o.terms.vetting_level, need)]
    if not candidates:
        raise DomainError(
            "vetting-insufficient", f"{state.classification} work needs {need} vetting or above"
        )
    if booked_elsewhere:
        raise DomainError(
            "officer-double-booked",
            f"{officer_ref} is on deployment {booked_elsewhere[0]} at that time",
        )
    offer = candidates[0]
    return [
        OfficerNominated(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            offer_id=offer.offer_id,
            force=offer.force,
            gender=offer.terms.gender,
            post_id=post.post_id,
            starts_on=start if state.status in DEPLOYED else None,
        )
    ]


def decide_release(state: Deployment, officer_ref: str, *, force: str) -> list[EventData]:
    """By the officer's own force. To another force's liaison officer, a deployment without any
    of their officers, and another force's officer on it, look like ones that do not exist
    (before any rule on the deployment's state can tell them otherwise)."""
    if not any(n.force == force for n in state.nominees):
        raise NotFound("deployment")
    nominee = state.nominee(officer_ref)
    if nominee is None or nominee.force != force:
        raise NotFound("officer")
    _require_staffing_of(state, nominee, "release officers")
    if nominee.status != OfficerStatus.NOMINATED:
        raise DomainError("already-released", f"{officer_ref} is already {nominee.status.value}")
    return [
        OfficerReleased(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            force=force,
        )
    ]


def decide_clear(
    state: Deployment, officer_ref: str, *, offer: Offer | None, ref: ReferenceData
) -> list[EventData]:
    """`offer` is the one the officer was nominated under (None only if they were not)."""
    nominee = _nominee(state, officer_ref)
    _require_staffing_of(state, nominee, "clear officers")
    if nominee.status == OfficerStatus.NOMINATED:
        raise DomainError("not-released", f"{officer_ref}'s home force has not released them yet")
    if nominee.status != OfficerStatus.RELEASED:
        raise DomainError("already-cleared", f"{officer_ref} is already {nominee.status.value}")
    assert offer is not None and offer.offer_id == nominee.offer_id
    problems = validity_problems(
        offer.terms, state.tour_end, state.classification, ref, required_vetting(state, ref)
    )
    problems += availability_problems(
        offer.terms, nominee.starts_on or state.tour_start, state.tour_end
    )
    if problems:
        raise DomainError(
            "clearance-failed",
            f"{officer_ref} cannot be cleared for a tour ending on {state.tour_end}: "
            f"{len(problems)} item(s) fail",
            errors=problems,
        )
    t = offer.terms
    valid_until = min(t.vetting_expires, t.medical_expires, t.training_expires, t.passport_expires)
    return [
        OfficerCleared(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            valid_until=valid_until,
        )
    ]


def _not_after_today(rule: str, what: str, on: date, today: date) -> None:
    """A lifecycle date records what happened: never one still to come."""
    if on > today:
        raise DomainError(
            rule, f"{what} {on} is in the future (today is {today})", kind=Kind.INVALID
        )


def decide_start(state: Deployment, *, on: date, today: date) -> list[EventData]:
    if state.status in (DeploymentStatus.DEPLOYED, DeploymentStatus.COMPLETED):
        raise DomainError("already-started", "the deployment has already started")
    _require(state, CANCELLABLE, "not-staffing", "start")
    if state.status != DeploymentStatus.READY:
        missing = [
            {"field": f"officers.{n.officer_ref}", "message": f"is {n.status.value}, not cleared"}
            for n in state.nominees
            if n.status not in (OfficerStatus.CLEARED, OfficerStatus.WITHDRAWN)
        ]
        vacant = len(state.vacant)
        if vacant > 0:
            missing.append({"field": "headcount", "message": f"{vacant} post(s) have no nominee"})
        raise DomainError(
            "posts-not-filled",
            "every post needs a cleared officer before the start",
            errors=missing,
        )
    if on < state.tour_start:
        raise DomainError(
            "start-before-tour-start",
            f"the tour was planned to start on {state.tour_start}: start it then or later "
            "(or plan it again)",
            kind=Kind.INVALID,
        )
    _not_after_today("start-in-future", "the start date", on, today)
    if on > state.tour_end:
        raise DomainError(
            "start-after-tour-end", f"the tour ends on {state.tour_end}", kind=Kind.INVALID
        )
    return [
        DeploymentStarted(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            started_on=on,
            officer_refs=[n.officer_ref for n in state.cleared],
        )
    ]


def decide_extend(
    state: Deployment,
    months: int,
    *,
    offers: Mapping[str, Offer],
    booked_elsewhere: Mapping[str, Sequence[UUID]],
    ref: ReferenceData,
) -> list[EventData]:
    """Re-check every officer still deployed against the new end: validity, availability and
    other bookings. `offers` maps each officer to the offer they were nominated under."""
    _require(state, DEPLOYED, "not-deployed", "extend the tour")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise DomainError(
            "extension-months", f"extend by 1 to {MAX_EXTENSION_MONTHS} months", kind=Kind.INVALID
        )
    new_end = extended_end(state.tour_end, months)
    problems: list[dict[str, str]] = []
    for n in state.nominees:
        if n.status != OfficerStatus.DEPLOYED:
            continue
        offer = offers[n.officer_ref]
        for p in validity_problems(
            offer.terms, new_end, state.classification, ref, required_vetting(state, ref)
        ):
            problems.append(
                {"field": f"officers.{n.officer_ref}.{p['field']}", "message": p["message"]}
            )
        if offer.terms.available_to < new_end:
            problems.append(
                {
                    "field": f"officers.{n.officer_ref}.available_to",
                    "message": f"offered until {offer.terms.available_to} only",
                }
            )
        for other in booked_elsewhere.get(n.officer_ref, ()):
            problems.append(
                {
                    "field": f"officers.{n.officer_ref}.bookings",
                    "message": f"on deployment {other} before {new_end}",
                }
            )
    if problems:
        raise DomainError(
            "extension-not-possible",
            f"the tour cannot run to {new_end}: {len(problems)} item(s) fail",
            errors=problems,
        )
    return [
        TourExtended(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            months=months,
            new_end=new_end,
        )
    ]


def decide_repatriate(
    state: Deployment,
    officer_ref: str,
    *,
    reason_code: str,
    on: date,
    ref: ReferenceData,
    today: date,
    reason: str | None = None,
) -> list[EventData]:
    _require(state, DEPLOYED, "not-deployed", "repatriate officers")
    nominee = _nominee(state, officer_ref)
    if nominee.status != OfficerStatus.DEPLOYED:
        raise DomainError("officer-not-deployed", f"{officer_ref} is {nominee.status.value}")
    if not ref.is_repatriation_reason(reason_code):
        raise DomainError(
            "unknown-reason-code",
            f"{reason_code!r} is not a published repatriation reason",
            kind=Kind.INVALID,
        )
    assert state.started_on is not None
    if not state.started_on <= on <= state.tour_end:
        raise DomainError(
            "repatriation-date",
            f"the date must lie within the tour ({state.started_on} to {state.tour_end})",
            kind=Kind.INVALID,
        )
    _not_after_today("repatriation-in-future", "the repatriation date", on, today)
    return [
        OfficerRepatriated(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            reason_code=reason_code,
            on=on,
            reason=reason,
        )
    ]


def decide_complete(state: Deployment, *, on: date, today: date) -> list[EventData]:
    _require(state, DEPLOYED, "not-deployed", "complete")
    assert state.started_on is not None
    if on < state.started_on:
        raise DomainError(
            "completion-date", f"the tour started on {state.started_on}", kind=Kind.INVALID
        )
    _not_after_today("completion-in-future", "the completion date", on, today)
    return [
        DeploymentCompleted(
            request_id=state.request_id, deployment_id=state.deployment_id, completed_on=on
        )
    ]


def decide_cancel(
    state: Deployment, *, reason: str, partner_message: str | None = None
) -> list[EventData]:
    if state.status == DeploymentStatus.CANCELLED:
        raise DomainError("already-cancelled", "the deployment is already cancelled")
    if state.status not in CANCELLABLE:
        raise DomainError(
            "not-cancellable",
            f"the deployment is {state.status.value}: officers come home by repatriation or "
            "completion",
        )
    return [
        DeploymentCancelled(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            reason=reason,
            partner_message=partner_message,
            released_officer_refs=[
                n.officer_ref for n in state.nominees if n.status != OfficerStatus.WITHDRAWN
            ],
        )
    ]
