"""The closed code sets that code names in type hints and query parameters (capabilities, partner
types, funding sources, classifications, vetting levels, risk tiers, regions). The JSON files
beside this module are the source of truth (`shared.reference.data`); a unit test keeps them and
these enums identical."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    EXECUTIVE_POLICING = "executive-policing"
    TRAINING = "training"
    MONITORING_REPORTING = "monitoring-reporting"
    MENTORING_ADVISING = "mentoring-advising"
    PROGRAMME_MANAGEMENT = "programme-management"
    PUBLIC_ORDER = "public-order"
    INVESTIGATIONS = "investigations"
    FORENSICS = "forensics"
    INTELLIGENCE = "intelligence"
    SERIOUS_ORGANISED_CRIME = "serious-organised-crime"
    SGBV = "sgbv"
    COMMUNITY_POLICING = "community-policing"
    CYBERCRIME = "cybercrime"
    BORDER_SECURITY = "border-security"
    LEADERSHIP = "leadership"


class PartnerType(StrEnum):
    UN = "un"
    EU = "eu"
    OSCE = "osce"
    FOREIGN_GOVERNMENT = "foreign-government"
    UK_EMBASSY = "uk-embassy"
    UK_FORCE = "uk-force"
    OTHER = "other"


class FundingSource(StrEnum):
    CSSF_ODA = "cssf-oda"
    CSSF_NON_ODA = "cssf-non-oda"
    FULL_COST_RECOVERY = "full-cost-recovery"
    OTHER = "other"


class Classification(StrEnum):
    """The markings this system stores; anything higher is refused, never stored."""

    OFFICIAL = "OFFICIAL"
    OFFICIAL_SENSITIVE = "OFFICIAL-SENSITIVE"


class VettingLevel(StrEnum):
    """National security vetting, lowest first (`vetting_at_least` compares them)."""

    NONE = "none"
    CTC = "ctc"
    SC = "sc"
    DV = "dv"


class RiskTier(StrEnum):
    """OSJA human-rights risk, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    SERIOUS = "serious"


class Region(StrEnum):
    AFRICA = "africa"
    MIDDLE_EAST_NORTH_AFRICA = "middle-east-north-africa"
    EUROPE = "europe"
    EURASIA = "eurasia"
    SOUTH_ASIA = "south-asia"
    EAST_ASIA_PACIFIC = "east-asia-pacific"
    AMERICAS_CARIBBEAN = "americas-caribbean"
    #: For a code that is no longer in the reference data (an event older than the file).
    UNLISTED = "unlisted"
