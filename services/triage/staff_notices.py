"""What hub staff are told by e-mail about cases (shared/mail): each a reaction to a case event,
owed in the transaction that met it: a board approval that leaves the case waiting for a minister
tells the ministers; a case given to an officer by someone else tells that officer. Each is an
entry in `NOTICES`: a function from the event and the case to the notices it calls for."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import domain
from services.triage.config import TriageConfig
from services.triage.domain.decisions import needs_minister
from shared.catalogue.triage import ApprovalGiven, CaseAssigned
from shared.commands import Writer
from shared.events import Envelope
from shared.mail.messages import Notice
from shared.mail.outbox import MINISTERS, owe, staff
from shared.projection import Projection
from shared.topics import INTAKE_EVENTS

Decide = Callable[[Envelope, domain.CaseState, TriageConfig], Sequence[Notice]]


def _case_fields(state: domain.CaseState) -> dict[str, str]:
    """What every notice may say of a case: codes and the reference, never the partner's text
    (an e-mail cannot check that its reader is cleared for OFFICIAL-SENSITIVE)."""
    return {
        "reference": str(state.request["reference"]),
        "capability": str(state.request["capability"]),
        "country": str(state.request["country"]),
        "case_path": f"/v1/cases/{state.request_id}",
    }


def ministerial_decision_wanted(
    env: Envelope, state: domain.CaseState, config: TriageConfig
) -> Sequence[Notice]:
    """The board approved and the case's risk needs a minister too (the domain's own rule)."""
    if env.data.get("stage") != domain.Stage.BOARD or not needs_minister(state, config.rules):
        return ()
    tier = state.assessment.risk_tier if state.assessment else "unknown"
    fields = _case_fields(state) | {"risk_tier": tier}
    return [Notice("ministerial-decision-wanted", MINISTERS, fields)]


def case_assigned(env: Envelope, state: domain.CaseState, config: TriageConfig) -> Sequence[Notice]:
    """A colleague gave the case to its new owner; a claim tells no one (the owner took it)."""
    if env.data.get("claimed"):
        return ()
    return [Notice("case-assigned", staff(env.data["owner"]), _case_fields(state))]


#: Event type → what it tells staff.
NOTICES: dict[str, Decide] = {
    ApprovalGiven.event_type: ministerial_decision_wanted,
    CaseAssigned.event_type: case_assigned,
}


def add_staff_notices(projection: Projection, config: TriageConfig) -> None:
    @projection.react("staff-notices", *NOTICES)
    async def notify_staff(conn: AsyncConnection, env: Envelope, writer: Writer) -> None:
        """The case as this event left it (events after it, if any, are not looked at: a
        replay decides the same), and the notices owed for it."""
        stream = domain.case_stream_id(env.data["request_id"])
        history = await writer.load(conn, stream, key=env.key)
        partner = [e.payload() for e in history.related if e.topic == INTAKE_EVENTS]
        own = [e.payload() for e in history.own if e.stream_version <= env.stream_version]
        state = domain.fold([*partner, *own])
        if state is None:
            return
        notices = NOTICES[env.event_type](env, state, config)
        await owe(conn, notices, str(env.event_id))
