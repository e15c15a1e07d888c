"""What triage decides with, loaded once at start: the prioritisation policies (every published
version, so an old score can be recomputed) and the reference data with the rules it carries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.triage.domain import Rules
from services.triage.domain.service_levels import ServiceLevels, SlaStage
from services.triage.scoring import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy
from shared.reference.data import ReferenceData, load_reference_data

POLICY_DIR = DEFAULT_POLICY_PATH.parent
SERVICE_LEVELS_PATH = Path(__file__).parent / "service_levels.json"

Days = Annotated[int, Field(ge=0, le=3660)]


class ServiceLevelsFile(BaseModel):
    """`service_levels.json`: days allowed per stage (every stage named, nothing else)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    days: dict[SlaStage, Days]

    def levels(self) -> ServiceLevels:
        missing = set(SlaStage) - set(self.days)
        if missing:
            raise ValueError(f"service levels name no days for {sorted(missing)}")
        return ServiceLevels(self.version, dict(self.days))


def load_service_levels(path: Path = SERVICE_LEVELS_PATH) -> ServiceLevels:
    return ServiceLevelsFile.model_validate(json.loads(path.read_text())).levels()


def load_policies(directory: Path = POLICY_DIR) -> dict[str, Policy]:
    """Every policy file in `directory`, by version. Two files may not claim one version."""
    policies: dict[str, Policy] = {}
    for path in sorted(directory.glob("*.json")):
        policy = load_policy(path)
        if policy.version in policies:
            raise PolicyError(f"{path}: version {policy.version} is published twice")
        policies[policy.version] = policy
    return policies


@dataclass(frozen=True)
class TriageConfig:
    policy: Policy  # the one new scores are made with
    policies: dict[str, Policy]  # every published version, for recomputation
    reference: ReferenceData
    rules: Rules
    service_levels: ServiceLevels

    @classmethod
    def load(cls, policy_path: Path = DEFAULT_POLICY_PATH) -> TriageConfig:
        policy = load_policy(policy_path)
        reference = load_reference_data()
        policies = load_policies(policy_path.parent)
        policies.setdefault(policy.version, policy)
        return cls(
            policy, policies, reference, Rules.from_reference(reference), load_service_levels()
        )
