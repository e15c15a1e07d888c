"""Service levels, pure: which stage a case is at for its service level, and when that stage is
due. The days per stage are data (`services/triage/service_levels.json`), loaded at start like
the prioritisation policy; a case's due date is made at read time from the stage it entered and
when, so a new file applies to every case at once without a rebuild.

The clock of a stage starts when the case entered it: the case's opening for the first
assessment (an information request does not stop it: the hub chose to wait), the assessment for
the board, the board's approval for the minister; a resumption after a hold starts it again.
Held and decided cases have no due date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from services.triage.domain.case import CaseStatus


class SlaStage(StrEnum):
    ASSESSMENT = "assessment"  # to the first assessment
    BOARD = "board"  # to the board's decision
    MINISTERIAL = "ministerial"  # to the minister's decision


STAGE_OF_STATUS: Mapping[CaseStatus, SlaStage] = {
    CaseStatus.IN_TRIAGE: SlaStage.ASSESSMENT,
    CaseStatus.INFORMATION_REQUESTED: SlaStage.ASSESSMENT,
    CaseStatus.ASSESSED: SlaStage.BOARD,
    CaseStatus.AWAITING_MINISTERIAL: SlaStage.MINISTERIAL,
}


def sla_stage(status: CaseStatus) -> SlaStage | None:
    """The service-level stage of a case in `status`; None when no clock runs."""
    return STAGE_OF_STATUS.get(status)


@dataclass(frozen=True)
class ServiceLevels:
    version: str
    days: Mapping[SlaStage, int]

    def due_on(self, stage: SlaStage, since: date) -> date:
        """The last day the stage is within its service level."""
        return since + timedelta(days=self.days[stage])

    @staticmethod
    def breached(due_on: date | None, today: date) -> bool:
        return due_on is not None and today > due_on
