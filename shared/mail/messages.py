"""The kinds of staff e-mail and their wording. GOV.UK Notify keeps its own copy of each template
(its id in the settings, `MAIL_NOTIFY_TEMPLATES`) with the same personalisation fields; the SMTP
path renders the text here. A new kind is one entry (and, for Notify, one template)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    subject: str
    body: str
    fields: tuple[str, ...]


TEMPLATES = {
    "ministerial-decision-wanted": Template(
        subject="Ministerial decision wanted: {reference}",
        body=(
            "The approval board approved {reference} ({capability}, {country}), assessed at "
            "{risk_tier} human-rights risk: it now needs a minister's decision.\n\n"
            "Open the case: {case_path}\n"
        ),
        fields=("reference", "capability", "country", "risk_tier", "case_path"),
    ),
    "case-assigned": Template(
        subject="Case assigned to you: {reference}",
        body="{reference} ({capability}, {country}) is now yours.\n\nOpen the case: {case_path}\n",
        fields=("reference", "capability", "country", "case_path"),
    ),
    "due-date-near": Template(
        subject="Due soon: {reference}",
        body="{reference} is due at its {stage} stage on {due_on}.\n\nOpen the case: {case_path}\n",
        fields=("reference", "stage", "due_on", "case_path"),
    ),
}


def _check_fields(kind: str, personalisation: dict[str, str]) -> None:
    template = TEMPLATES[kind]  # an unknown kind is a programming error
    if set(personalisation) != set(template.fields):
        raise ValueError(f"{kind} takes {', '.join(template.fields)}")


@dataclass(frozen=True)
class Notice:
    """Something staff must be told: its kind, whom (`ministers`, `staff:<subject>`), and the
    template's fields."""

    kind: str
    recipient: str
    personalisation: dict[str, str]

    def __post_init__(self) -> None:
        _check_fields(self.kind, self.personalisation)


@dataclass(frozen=True)
class StaffEmail:
    """One e-mail to one address. `personalisation` holds exactly the template's fields: no
    free text from partners (an e-mail cannot check the reader's clearance)."""

    kind: str
    to: str
    personalisation: dict[str, str]

    def __post_init__(self) -> None:
        _check_fields(self.kind, self.personalisation)

    def rendered(self) -> tuple[str, str]:
        template = TEMPLATES[self.kind]
        values: dict[str, Any] = self.personalisation
        return template.subject.format(**values), template.body.format(**values)
