"""Which prioritisation policy is in force, and adopting a new one.

The policies triage knows are the files published with it (`policy/*.json`, one of them the
default) and those the hub adopted since: each adoption is a `PolicyAdopted` event on the one
stream `policy` of triage's store, with the whole policy document, its author and rationale. The
policy in force is the latest adoption, else the default file. Reading it from the event store
(not from process memory) is what lets every instance of the service agree without a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.triage.scoring import Policy
from shared.catalogue.triage import POLICY_STREAM, PolicyAdopted, PolicyDocument
from shared.events import EventData
from shared.refusals import DomainError, invalid
from shared.text import visible_length

#: A rationale is the record of why the queue changed: at least this many visible characters.
MIN_POLICY_RATIONALE = 10


def policy_stream_id() -> str:
    """The stream of adoptions in triage's store (also their Kafka key)."""
    return POLICY_STREAM


@dataclass(frozen=True)
class Adoption:
    """One adoption, as its event recorded it."""

    policy: Policy
    author: str
    rationale: str
    previous_version: str
    adopted_at: datetime

    @property
    def version(self) -> str:
        return self.policy.version


@dataclass(frozen=True)
class PolicyBook:
    """Every policy triage knows: the published files, the default one, the adoptions (oldest
    first)."""

    default: Policy
    published: Mapping[str, Policy]
    adoptions: tuple[Adoption, ...] = ()

    @property
    def in_force(self) -> Policy:
        return self.adoptions[-1].policy if self.adoptions else self.default

    @property
    def latest_adoption(self) -> Adoption | None:
        return self.adoptions[-1] if self.adoptions else None

    def in_force_at(self, moment: datetime) -> Policy:
        """The policy in force at `moment`: what a reaction to an event of that time scores
        with, so that a consumer running late (or a replay) scores as it would have then."""
        chosen = self.default
        for adoption in self.adoptions:
            if adoption.adopted_at <= moment:
                chosen = adoption.policy
        return chosen

    def by_version(self, version: str) -> Policy | None:
        """A policy by the version a score names (published or adopted), for recomputation."""
        for adoption in self.adoptions:
            if adoption.version == version:
                return adoption.policy
        return self.published.get(version)

    @property
    def versions(self) -> frozenset[str]:
        return frozenset(self.published) | {a.version for a in self.adoptions}


def adoption_of(event: PolicyAdopted, adopted_at: datetime) -> Adoption:
    return Adoption(
        policy=Policy.model_validate(event.policy.model_dump(mode="json")),
        author=event.author,
        rationale=event.rationale,
        previous_version=event.previous_version,
        adopted_at=adopted_at,
    )


def book_of(
    default: Policy, published: Mapping[str, Policy], adoptions: Iterable[Adoption]
) -> PolicyBook:
    return PolicyBook(default, dict(published), tuple(adoptions))


@dataclass(frozen=True)
class AdoptPolicy:
    policy: Policy
    rationale: str


def decide_adopt(book: PolicyBook, command: AdoptPolicy, *, author: str) -> list[EventData]:
    """Adopt `command.policy` (already valid: scoring's own model checked it). Its version must
    be new, so that a version names one document for ever (a score can always be recomputed)."""
    rationale = command.rationale.strip()
    if visible_length(rationale) < MIN_POLICY_RATIONALE:
        raise invalid(
            "policy-rationale-required",
            "adopting a policy needs a rationale of at least "
            f"{MIN_POLICY_RATIONALE} visible characters",
            errors=[
                {
                    "field": "body.rationale",
                    "message": f"at least {MIN_POLICY_RATIONALE} visible characters",
                }
            ],
        )
    version = command.policy.version
    if version in book.versions:
        how = "published as a file" if version in book.published else "adopted already"
        raise DomainError(
            "policy-version-exists",
            f"policy version {version} is {how}: a new policy needs a version of its own",
        )
    return [
        PolicyAdopted(
            policy_version=version,
            policy=PolicyDocument.model_validate(command.policy.model_dump(mode="json")),
            author=author,
            rationale=rationale,
            previous_version=book.in_force.version,
        )
    ]
