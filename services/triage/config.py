"""What triage decides with, loaded once at start: the prioritisation policies (every published
version, so an old score can be recomputed) and the reference data with the rules it carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.triage.domain import Rules
from services.triage.scoring import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy
from shared.reference.data import ReferenceData, load_reference_data

POLICY_DIR = DEFAULT_POLICY_PATH.parent


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

    @classmethod
    def load(cls, policy_path: Path = DEFAULT_POLICY_PATH) -> TriageConfig:
        policy = load_policy(policy_path)
        reference = load_reference_data()
        policies = load_policies(policy_path.parent)
        policies.setdefault(policy.version, policy)
        return cls(policy, policies, reference, Rules.from_reference(reference))
