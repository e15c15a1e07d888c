"""What partners send: bounded, strict request bodies (unknown fields refused, server fields
absent), with a description and an example for every field."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from shared.reference.codes import Capability, FundingSource, PartnerType
from shared.reference.data import load_reference_data
from shared.text import require_visible

Text = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=5000)]
Short = Annotated[str, Field(min_length=1, max_length=80)]

ACCEPTED_CLASSIFICATIONS = ("OFFICIAL", "OFFICIAL-SENSITIVE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoleProfileIn(_Strict):
    rank: Short = Field(description="Rank or grade sought", examples=["Inspector"])
    skills: list[Short] = Field(default=[], max_length=20, examples=[["public order command"]])
    languages: list[Short] = Field(default=[], max_length=10, examples=[["English", "French"]])


class ContactIn(_Strict):
    name: Text = Field(description="Who the hub should talk to", examples=["Amina Diallo"])
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = Field(
        examples=["a.diallo@un.org"]
    )
    phone: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, examples=["+41 22 917 1234"]
    )


def _country(code: str) -> str:
    code = code.strip().upper()
    if load_reference_data().country(code) is None:
        raise ValueError(
            f"'{code}' is neither an ISO 3166-1 alpha-2 code nor a territory the FCDO lists"
        )
    return code


#: How far ahead a request may ask for officers (the hub plans tours up to two years out).
NEEDED_BY_HORIZON = timedelta(days=5 * 365)


def _needed_by(value: date) -> date:
    today = date.today()
    if value <= today:
        raise ValueError("needed_by must be a date in the future")
    if value > today + NEEDED_BY_HORIZON:
        raise ValueError(f"needed_by must be within five years (by {today + NEEDED_BY_HORIZON})")
    return value


def _classification(value: str) -> str:
    value = value.strip().upper()
    if value not in ACCEPTED_CLASSIFICATIONS:
        raise ValueError(
            f"this system does not accept {value} material: only OFFICIAL and "
            "OFFICIAL-SENSITIVE may be submitted; send higher classifications through "
            "accredited channels"
        )
    return value


class SubmitRequest(_Strict):
    """A request for UK policing assistance. The organisation is taken from your token."""

    title: Text = Field(
        description="A short title", examples=["Public order advisers for elections"]
    )
    description: LongText = Field(
        description="What is needed and why",
        examples=["Two advisers to mentor the national police's public order unit ahead of ..."],
    )
    country: Annotated[str, Field(min_length=2, max_length=10)] = Field(
        description="The country or territory of deployment: ISO 3166-1 alpha-2, or the FCDO "
        "register's code of a territory ISO lacks (XK Kosovo, SH-AC Ascension)",
        examples=["SO"],
    )
    mission: Text | None = Field(default=None, description="Mission, if any", examples=["UNSOM"])
    requesting_body: Text | None = Field(
        default=None,
        description="Who asks: taken from the partner registry; if given, it must match it",
        examples=["UN Police Division"],
    )
    partner_type: PartnerType | None = Field(
        default=None,
        description="Taken from the partner registry (the hub's to say: it weighs in the "
        "priority score); if given, it must match it",
        examples=["un"],
    )
    capability: Capability = Field(description="Capability category", examples=["public-order"])
    headcount: int = Field(ge=1, le=100, description="Officers needed", examples=[2])
    role_profile: RoleProfileIn
    tour_length_months: int = Field(ge=1, le=24, examples=[12])
    needed_by: date = Field(
        description="Date by which officers are needed (future)", examples=["2027-03-01"]
    )
    funding_source: FundingSource = Field(examples=["cssf-oda"])
    classification: Annotated[str, Field(max_length=40)] = Field(
        description="OFFICIAL or OFFICIAL-SENSITIVE; nothing higher is accepted",
        examples=["OFFICIAL"],
    )
    contact: ContactIn

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("classification")
    @classmethod
    def _accepted_classification(cls, value: str) -> str:
        return _classification(value)

    @field_validator("needed_by")
    @classmethod
    def _future(cls, value: date) -> date:
        return _needed_by(value)


class RequestChanges(_Strict):
    """Fields a partner may change before assessment (all optional)."""

    title: Text | None = None
    description: LongText | None = None
    mission: Text | None = None
    headcount: int | None = Field(default=None, ge=1, le=100)
    role_profile: RoleProfileIn | None = None
    tour_length_months: int | None = Field(default=None, ge=1, le=24)
    needed_by: date | None = None
    contact: ContactIn | None = None

    @field_validator("needed_by")
    @classmethod
    def _future(cls, value: date | None) -> date | None:
        return None if value is None else _needed_by(value)

    def as_changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class AmendRequest(_Strict):
    """Answers to the hub's questions, and/or changes made before assessment (after it, answers
    only)."""

    changes: RequestChanges = Field(default_factory=RequestChanges)
    answers: list[
        Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(require_visible)]
    ] = Field(
        default=[],
        max_length=20,
        description="Answers to the open information request: one per question, in the order "
        "the questions were asked (a two-question request needs two answers)",
        examples=[["Yes: the mission provides armoured transport."]],
    )
    information_request_id: UUID | None = Field(
        default=None, description="Which information request the answers reply to"
    )


class WriteToHub(_Strict):
    """A message to the hub about the request (the conversation; answers to the hub's questions
    go in an amendment's `answers`)."""

    message: Annotated[
        str, Field(min_length=1, max_length=5000), AfterValidator(require_visible)
    ] = Field(examples=["The host state confirmed armoured transport this morning."])


class WithdrawRequest(_Strict):
    reason: LongText = Field(
        description="Why the request is withdrawn",
        examples=["The mission's mandate was not renewed."],
    )


# --- the partner registry (hub administrators) -------------------------------------------------
PartnerId = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
        description="The partner's id: lower case letters, digits, dots and dashes; it is the "
        "`partner_id` claim of the partner's tokens",
        examples=["un-dpo"],
    ),
]


def _registry_country(code: str | None) -> str | None:
    return None if code is None else _country(code)


class RegisterPartner(_Strict):
    """A partner organisation the hub accepts requests from."""

    partner_id: PartnerId
    name: Text = Field(examples=["UN Department of Peace Operations"])
    partner_type: PartnerType = Field(examples=["un"])
    organisation: Text = Field(
        description="The requesting body its requests name", examples=["UN Police Division"]
    )
    country: Annotated[str, Field(min_length=2, max_length=10)] | None = Field(
        default=None, description="Where it is based (ISO alpha-2 or FCDO territory code)"
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return _registry_country(value)


class UpdatePartner(_Strict):
    """Corrections to a partner's details (only the fields given change)."""

    name: Text | None = None
    partner_type: PartnerType | None = None
    organisation: Text | None = None
    country: Annotated[str, Field(min_length=2, max_length=10)] | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return _registry_country(value)

    def as_changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ChangePartnerStatus(_Strict):
    reason: LongText = Field(examples=["The mission's mandate ended on 30 June."])
