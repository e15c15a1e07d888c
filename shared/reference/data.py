"""Typed reference data, loaded once at start from the JSON files beside this module.

The files are the source of truth: editing one (a fragility score, an HMG-priority flag, a label,
a new rejection reason) changes behaviour without a code change. The `StrEnum`s of
`shared.reference.codes` name the closed sets that code refers to in type hints; a unit test keeps
them and the files identical.
Countries are the UK government's list: ISO 3166-1 alpha-2 from `pycountry`, plus the countries and
territories the FCDO's registers name and ISO lacks (`territories.json`: Kosovo, the Sovereign
Base Areas, Ascension, Tristan da Cunha, ...). The files add region, ODA eligibility, fragility and
HMG priority, with defaults for countries they do not list.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from shared.reference.codes import Region, VettingLevel

PACKAGE_DIR = Path(__file__).resolve().parent
#: The code a country no longer in the data is scored and counted under.
_UNLISTED_CODE = "ZZ"
FRAGILITY_MAX = 120.0


class ReferenceDataError(ValueError):
    """A reference data file is missing, malformed or inconsistent."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$", max_length=40)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
Fragility = Annotated[float, Field(ge=0, le=FRAGILITY_MAX)]


class Entry(_Frozen):
    """One code of a published list, with its human label."""

    code: Code
    label: Label
    description: str = Field(default="", max_length=500)


class CapabilityInfo(Entry):
    description: str = Field(min_length=1, max_length=500)


class PartnerTypeInfo(Entry):
    multilateral: bool


class FundingSourceInfo(Entry):
    oda: bool


class ClassificationInfo(Entry):
    min_vetting: VettingLevel


class RiskTierInfo(Entry):
    ministerial_approval: bool


class Country(_Frozen):
    #: ISO alpha-2, or the FCDO register's code of a territory ISO lacks (`XK`, `SH-AC`, `XQZ`).
    code: Annotated[str, Field(pattern=r"^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$")]
    name: str
    region: Region
    oda_eligible: bool
    fragility: Fragility
    hmg_priority: bool


class _CountryDefaults(_Frozen):
    fragility: Fragility
    oda_eligible: bool
    hmg_priority: bool


class _CountryOverride(_Frozen):
    region: Region | None = None
    oda_eligible: bool | None = None
    fragility: Fragility | None = None
    hmg_priority: bool | None = None


class _Territory(_Frozen):
    code: str
    name: str
    listed_in: Literal["country", "territory"]  # which FCDO register
    region: Region
    oda_eligible: bool
    fragility: Fragility
    hmg_priority: bool


class _TerritoriesFile(_Frozen):
    about: str = ""
    entries: tuple[_Territory, ...]


class _CountriesFile(_Frozen):
    about: str = ""
    defaults: _CountryDefaults
    overrides: dict[str, _CountryOverride]


E = TypeVar("E", bound=Entry)


def _by_code(entries: Iterable[E]) -> dict[str, E]:
    return {entry.code: entry for entry in entries}


class ReferenceData(_Frozen):
    """Every code list, in file order, with lookups. Build it with `load_reference_data`."""

    capabilities: tuple[CapabilityInfo, ...]
    partner_types: tuple[PartnerTypeInfo, ...]
    funding_sources: tuple[FundingSourceInfo, ...]
    classifications: tuple[ClassificationInfo, ...]
    vetting_levels: tuple[Entry, ...]  # lowest first: the order is the ranking
    risk_tiers: tuple[RiskTierInfo, ...]
    regions: tuple[Entry, ...]
    rejection_reasons: tuple[Entry, ...]
    repatriation_reasons: tuple[Entry, ...]
    countries: tuple[Country, ...]
    unlisted_fragility: Fragility = 50.0

    _countries: dict[str, Country] = PrivateAttr(default_factory=dict)
    _capabilities: dict[str, CapabilityInfo] = PrivateAttr(default_factory=dict)
    _partner_types: dict[str, PartnerTypeInfo] = PrivateAttr(default_factory=dict)
    _funding_sources: dict[str, FundingSourceInfo] = PrivateAttr(default_factory=dict)
    _classifications: dict[str, ClassificationInfo] = PrivateAttr(default_factory=dict)
    _risk_tiers: dict[str, RiskTierInfo] = PrivateAttr(default_factory=dict)
    _rejection_reasons: dict[str, Entry] = PrivateAttr(default_factory=dict)
    _repatriation_reasons: dict[str, Entry] = PrivateAttr(default_factory=dict)
    _vetting_rank: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        lists: dict[str, Iterable[Entry]] = {
            "capabilities": self.capabilities,
            "partner_types": self.partner_types,
            "funding_sources": self.funding_sources,
            "classifications": self.classifications,
            "vetting_levels": self.vetting_levels,
            "risk_tiers": self.risk_tiers,
            "regions": self.regions,
            "rejection_reasons": self.rejection_reasons,
            "repatriation_reasons": self.repatriation_reasons,
        }
        for name, entries in lists.items():
            codes = [entry.code for entry in entries]
            if not codes:
                raise ValueError(f"{name} is empty")
            if len(set(codes)) != len(codes):
                raise ValueError(f"{name} has duplicate codes")
        vetting = {entry.code for entry in self.vetting_levels}
        for classification in self.classifications:
            if classification.min_vetting not in vetting:
                raise ValueError(
                    f"classification {classification.code} needs unknown vetting level "
                    f"{classification.min_vetting}"
                )
        regions = {entry.code for entry in self.regions}
        for country in self.countries:
            if country.region not in regions:
                raise ValueError(f"country {country.code} has unlisted region {country.region}")
        if len({country.code for country in self.countries}) != len(self.countries):
            raise ValueError("countries has duplicate codes")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._countries = {country.code: country for country in self.countries}
        self._capabilities = _by_code(self.capabilities)
        self._partner_types = _by_code(self.partner_types)
        self._funding_sources = _by_code(self.funding_sources)
        self._classifications = _by_code(self.classifications)
        self._risk_tiers = _by_code(self.risk_tiers)
        self._rejection_reasons = _by_code(self.rejection_reasons)
        self._repatriation_reasons = _by_code(self.repatriation_reasons)
        self._vetting_rank = {entry.code: rank for rank, entry in enumerate(self.vetting_levels)}

    # --- lookups -------------------------------------------------------------------------------

    def country(self, code: str) -> Country | None:
        """The country or territory with this code (any case), or None."""
        return self._countries.get(code.strip().upper())

    def country_or_unlisted(self, code: str) -> Country:
        """The country, or for a code no longer in the data (an event older than the file) one
        with region `unlisted` and the default fragility, ODA eligibility and priority."""
        known = self.country(code)
        if known is not None:
            return known
        return Country(
            code=_UNLISTED_CODE,
            name=f"{code[:40]} (not in the reference data)",
            region=Region.UNLISTED,
            oda_eligible=False,
            fragility=self.unlisted_fragility,
            hmg_priority=False,
        )

    def capability(self, code: str) -> CapabilityInfo | None:
        return self._capabilities.get(code)

    def is_capability(self, code: str) -> bool:
        return code in self._capabilities

    def partner_type(self, code: str) -> PartnerTypeInfo | None:
        return self._partner_types.get(code)

    def is_partner_type(self, code: str) -> bool:
        return code in self._partner_types

    def is_funding_source(self, code: str) -> bool:
        return code in self._funding_sources

    def is_classification(self, code: str) -> bool:
        """Whether this system may store material so marked (false for anything higher)."""
        return code in self._classifications

    def rejection_reason(self, code: str) -> Entry | None:
        return self._rejection_reasons.get(code)

    def is_rejection_reason(self, code: str) -> bool:
        return code in self._rejection_reasons

    def repatriation_reason(self, code: str) -> Entry | None:
        return self._repatriation_reasons.get(code)

    def is_repatriation_reason(self, code: str) -> bool:
        return code in self._repatriation_reasons

    # --- rules carried by the data ---------------------------------------------------------------

    def vetting_at_least(self, have: str, need: str) -> bool:
        """Whether vetting level `have` meets or exceeds `need`. Unknown levels are an error."""
        for level in (have, need):
            if level not in self._vetting_rank:
                raise ValueError(f"unknown vetting level {level!r}")
        return self._vetting_rank[have] >= self._vetting_rank[need]

    def required_vetting(self, classification: str) -> str:
        """The lowest vetting level that may see material of this classification."""
        info = self._classifications.get(classification)
        if info is None:
            raise ValueError(f"{classification!r} is not a classification this system stores")
        return info.min_vetting

    def needs_ministerial_approval(self, risk_tier: str) -> bool:
        """Whether a request of this human-rights risk tier needs a minister after the board."""
        info = self._risk_tiers.get(risk_tier)
        if info is None:
            raise ValueError(f"unknown risk tier {risk_tier!r}")
        return info.ministerial_approval


# --- loading -------------------------------------------------------------------------------

T = TypeVar("T")


def _read(directory: Path, name: str, shape: type[T]) -> T:
    path = directory / name
    try:
        return TypeAdapter(shape).validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ReferenceDataError(f"{path}: {exc}") from exc


def _countries(regions: dict[str, Region], file: _CountriesFile) -> tuple[Country, ...]:
    iso = {record.alpha_2: record for record in pycountry.countries}
    problems = [f"{code} in country_regions.json is not an ISO 3166-1 alpha-2 code"
                for code in sorted(regions.keys() - iso.keys())]  # fmt: skip
    problems += [f"{code} has no region in country_regions.json"
                 for code in sorted(iso.keys() - regions.keys())]  # fmt: skip
    problems += [f"{code} in countries.json is not an ISO 3166-1 alpha-2 code"
                 for code in sorted(file.overrides.keys() - iso.keys())]  # fmt: skip
    if problems:
        raise ReferenceDataError("; ".join(problems))
    defaults = file.defaults
    countries = []
    for code in sorted(iso):
        record = iso[code]
        override = file.overrides.get(code, _CountryOverride())
        countries.append(
            Country(
                code=code,
                name=str(getattr(record, "common_name", None) or record.name),
                region=override.region or regions[code],
                oda_eligible=_pick(override.oda_eligible, defaults.oda_eligible),
                fragility=_pick(override.fragility, defaults.fragility),
                hmg_priority=_pick(override.hmg_priority, defaults.hmg_priority),
            )
        )
    return tuple(countries)


def _territories(file: _TerritoriesFile, iso: set[str]) -> tuple[Country, ...]:
    clashes = sorted({t.code for t in file.entries} & iso)
    if clashes:
        raise ReferenceDataError(f"territories.json lists ISO codes: {', '.join(clashes)}")
    return tuple(
        Country(
            code=t.code,
            name=t.name,
            region=t.region,
            oda_eligible=t.oda_eligible,
            fragility=t.fragility,
            hmg_priority=t.hmg_priority,
        )
        for t in file.entries
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


def _load(directory: Path) -> ReferenceData:
    def read(name: str, shape: type[T]) -> T:
        return _read(directory, name, shape)

    countries_file = read("countries.json", _CountriesFile)
    countries = _countries(read("country_regions.json", dict[str, Region]), countries_file)
    countries += _territories(
        read("territories.json", _TerritoriesFile), {c.code for c in countries}
    )
    try:
        return ReferenceData(
            capabilities=read("capabilities.json", tuple[CapabilityInfo, ...]),
            partner_types=read("partner_types.json", tuple[PartnerTypeInfo, ...]),
            funding_sources=read("funding_sources.json", tuple[FundingSourceInfo, ...]),
            classifications=read("classifications.json", tuple[ClassificationInfo, ...]),
            vetting_levels=read("vetting_levels.json", tuple[Entry, ...]),
            risk_tiers=read("risk_tiers.json", tuple[RiskTierInfo, ...]),
            regions=read("regions.json", tuple[Entry, ...]),
            rejection_reasons=read("rejection_reasons.json", tuple[Entry, ...]),
            repatriation_reasons=read("repatriation_reasons.json", tuple[Entry, ...]),
            countries=countries,
            unlisted_fragility=countries_file.defaults.fragility,
        )
    except ValidationError as exc:
        raise ReferenceDataError(f"{directory}: {exc}") from exc


@functools.cache
def _shipped() -> ReferenceData:
    return _load(PACKAGE_DIR)


def load_reference_data(directory: Path | None = None) -> ReferenceData:
    """Load every reference list from `directory` (default: the files shipped in this package,
    loaded once and cached). Raises `ReferenceDataError` if a file is missing or inconsistent."""
    return _shipped() if directory is None else _load(directory)
