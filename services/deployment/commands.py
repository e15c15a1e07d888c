"""What force liaison officers and deployment managers send: bounded, strict request bodies
(unknown fields refused, server-set fields absent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.deployment.domain import MAX_EXTENSION_MONTHS, OfferTerms
from shared.reference.codes import Capability, VettingLevel
from shared.reference.data import load_reference_data

Text = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(min_length=1, max_length=80)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[0-9+()\-. ]+$")]
OfficerRef = Annotated[str, Field(min_length=5, max_length=40, pattern=r"^OFF-[A-Z0-9]+$")]
Gender = Literal["female", "male", "non-binary", "not-stated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_Strict):
    email: Email = Field(examples=["j.smith@met.police.example"])
    phone: Phone | None = Field(default=None, examples=["+44 20 7230 1212"])


class NextOfKinIn(_Strict):
    name: Text = Field(examples=["Alex Smith"])
    relationship: Short = Field(examples=["spouse"])
    phone: Phone | None = Field(default=None, examples=["+44 7700 900123"])
    email: Email | None = None


class OfficerIn(_Strict):
    """The officer. Name, contact and next of kin are personal data: they are sealed with the
    officer's own key and shown only to deployment managers who give a justification."""

    name: Text = Field(description="Personal data", examples=["Jo Smith"])
    rank: Short = Field(examples=["Inspector"])
    contact: ContactIn = Field(description="Personal data")
    gender: Gender = Field(examples=["female"])
    languages: list[Short] = Field(default=[], max_length=10, examples=[["English", "French"]])
    skills: list[Short] = Field(default=[], max_length=20, examples=[["public order command"]])
    next_of_kin: NextOfKinIn | None = Field(default=None, description="Personal data")

    def personal_data(self) -> bytes:
        """The personal fields, as the bytes that get sealed."""
        return orjson.dumps(
            self.model_dump(mode="json", include={"name", "contact", "next_of_kin"})
        )


class OfferCapability(_Strict):
    """An officer your force offers for a capability (the force is taken from your token). The
    server assigns a pseudonymous `officer_ref`. An officer is offered once: send their
    `officer_ref` again and their active offer is updated in place (every term, and their
    personal data sealed afresh), never duplicated."""

    officer: OfficerIn
    officer_ref: OfficerRef | None = Field(default=None, description="Re-offer a known officer")
    capability: Capability = Field(examples=["public-order"])
    vetting_level: VettingLevel = Field(examples=["sc"])
    vetting_expires: date = Field(examples=["2029-01-31"])
    medical_expires: date = Field(examples=["2028-06-30"])
    training_expires: date = Field(
        description="Hostile-environment training", examples=["2028-03-31"]
    )
    passport_expires: date = Field(examples=["2031-09-30"])
    available_from: date = Field(examples=["2027-01-01"])
    available_to: date = Field(examples=["2028-12-31"])

    def terms(self) -> OfferTerms:
        o = self.officer
        return OfferTerms(
            capability=self.capability.value,
            rank=o.rank,
            gender=o.gender,
            languages=tuple(o.languages),
            skills=tuple(o.skills),
            vetting_level=self.vetting_level.value,
            vetting_expires=self.vetting_expires,
            medical_expires=self.medical_expires,
            training_expires=self.training_expires,
            passport_expires=self.passport_expires,
            available_from=self.available_from,
            available_to=self.available_to,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What an Idempotency-Key is compared against: everything, personal data included (only a
        hash of it is stored)."""
        return self.model_dump(mode="json")


class PlanDeployment(_Strict):
    """Plan the deployment that staffs an approved request."""

    request_id: UUID
    tour_start: date = Field(examples=["2027-03-01"])
    tour_end: date | None = Field(
        default=None,
        description="Last day of the tour; default: the request's tour length",
        examples=["2028-02-29"],
    )
    mission: Text | None = Field(default=None, examples=["UNSOM"])


PostId = Annotated[str, Field(min_length=2, max_length=4, pattern=r"^P[1-9][0-9]{0,2}$")]


class NominateOfficer(_Strict):
    officer_ref: OfficerRef = Field(examples=["OFF-7K2M9QX4TA"])
    post_id: PostId | None = Field(
        default=None,
        description="The post to fill (default: the first vacant one)",
        examples=["P1"],
    )


class WithdrawNomination(_Strict):
    reason: Reason = Field(
        description="Internal: staff read it, the partner never does",
        examples=["Medical review found the officer unfit for the tour."],
    )


class ReplaceNominee(_Strict):
    officer_ref: OfficerRef = Field(
        description="The officer who takes the post", examples=["OFF-9R3T5WQ2ZB"]
    )
    reason: Reason = Field(
        description="Internal: why the nominee is replaced",
        examples=["Failed clearance: passport expires mid-tour."],
    )


class DeployOfficer(_Strict):
    on: date | None = Field(default=None, description="The day they joined (default today)")


class UpdateOffer(_Strict):
    """Readiness dates and availability, changed in place; fields left out stay as they are."""

    vetting_level: VettingLevel | None = None
    vetting_expires: date | None = None
    medical_expires: date | None = None
    training_expires: date | None = Field(default=None, description="Hostile-environment training")
    passport_expires: date | None = None
    available_from: date | None = None
    available_to: date | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateOffer:
        if not self.model_dump(exclude_none=True):
            raise ValueError("name at least one field to change")
        return self

    def applied_to(self, terms: OfferTerms) -> OfferTerms:
        changes: dict[str, Any] = self.model_dump(exclude_none=True)
        if self.vetting_level is not None:
            changes["vetting_level"] = self.vetting_level.value
        return replace(terms, **changes)


class StartDeployment(_Strict):
    on: date | None = Field(default=None, description="Start date (default today)")


class ExtendTour(_Strict):
    months: int = Field(ge=1, le=MAX_EXTENSION_MONTHS, examples=[6])


class RepatriateOfficer(_Strict):
    reason_code: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="A published repatriation reason code", examples=["medical"]
    )
    on: date = Field(examples=["2027-05-14"])
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Internal: what happened, for staff; never shown to the partner",
        examples=["Evacuated after a vehicle accident; recovering at home."],
    )

    @field_validator("reason_code")
    @classmethod
    def _published(cls, value: str) -> str:
        if not load_reference_data().is_repatriation_reason(value):
            codes = ", ".join(r.code for r in load_reference_data().repatriation_reasons)
            raise ValueError(f"'{value}' is not a published repatriation reason ({codes})")
        return value


class CompleteDeployment(_Strict):
    on: date | None = Field(default=None, description="Completion date (default today)")


class CancelDeployment(_Strict):
    reason: Reason = Field(
        description="Internal: staff read it, the partner never does",
        examples=["The host government withdrew its invitation."],
    )
    partner_message: str | None = Field(
        default=None,
        max_length=2000,
        description="What the partner is told about the cancellation, if anything",
        examples=["The deployment cannot go ahead this year; the hub will be in touch."],
    )
