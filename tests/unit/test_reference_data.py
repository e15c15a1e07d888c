"""Reference data: shipped files, enums and the rules they carry."""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from pathlib import Path

import pycountry
import pytest

from shared.reference.codes import (
    Capability,
    Classification,
    FundingSource,
    PartnerType,
    Region,
    RiskTier,
    VettingLevel,
)
from shared.reference.data import (
    PACKAGE_DIR,
    ReferenceData,
    ReferenceDataError,
    load_reference_data,
)

ISO_CODES = sorted(record.alpha_2 for record in pycountry.countries)

# Countries most relevant to international policing missions: each needs real values.
# fmt: off
MISSION_COUNTRIES = {
    "SO", "SS", "SD", "YE", "AF", "CD", "CF", "ML", "SY", "HT", "IQ", "LY", "NG", "ET", "UA",
    "MD", "GE", "AM", "BA", "RS", "MK", "AL", "ME", "KE", "UG", "SL", "LR", "GH", "SN", "NE",
    "BF", "TD", "CM", "MZ", "ZW", "PK", "BD", "LK", "MM", "NP", "LB", "JO", "PS", "TN", "EG",
    "MA", "CO", "VE", "GT", "HN", "SV", "JM", "TT", "PH", "ID", "KH", "TL", "PG", "SB",
}
# fmt: on


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference_data()


def _file(name: str, directory: Path = PACKAGE_DIR) -> object:
    return json.loads((directory / name).read_text(encoding="utf-8"))


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit_json(path: Path, edit: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data), encoding="utf-8")


def test_every_iso_country_has_a_country_with_a_region(ref: ReferenceData) -> None:
    for code in ISO_CODES:
        country = ref.country(code)
        assert country is not None, code
        assert country.code == code
        assert country.name
        assert country.region in set(Region)
    assert [country.code for country in ref.countries][: len(ISO_CODES)] == ISO_CODES


def test_territories_the_fcdo_lists_and_iso_lacks_are_countries_too(ref: ReferenceData) -> None:
    # A request for a mission in Kosovo (EULEX) or a UK Sovereign Base Area used to be refused.
    for code, name in (("XK", "Kosovo"), ("XQZ", "Akrotiri"), ("SH-TA", "Tristan da Cunha")):
        country = ref.country(code)
        assert country is not None and country.name == name
        assert country.region != Region.UNLISTED
    extra = [c.code for c in ref.countries][len(ISO_CODES) :]
    assert extra and not set(extra) & set(ISO_CODES)


def test_a_code_no_longer_in_the_data_is_unlisted_with_the_defaults(ref: ReferenceData) -> None:
    gone = ref.country_or_unlisted("AN")  # Netherlands Antilles: withdrawn from ISO in 2010
    assert gone.region == Region.UNLISTED and not gone.oda_eligible and not gone.hmg_priority
    assert ref.country_or_unlisted("so") == ref.country("SO")


@pytest.mark.parametrize("code", ["ZZ", "UK", "", "GBR", "AN"])
def test_unknown_country_code_is_none(ref: ReferenceData, code: str) -> None:
    assert ref.country(code) is None


def test_country_lookup_ignores_case_and_spaces(ref: ReferenceData) -> None:
    assert ref.country(" so ") == ref.country("SO")


def test_country_names_are_common_names(ref: ReferenceData) -> None:
    assert ref.country("BO").name == "Bolivia"  # type: ignore[union-attr]
    assert ref.country("GB").name == "United Kingdom"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("enum", "filename"),
    [
        (Capability, "capabilities.json"),
        (PartnerType, "partner_types.json"),
        (FundingSource, "funding_sources.json"),
        (Classification, "classifications.json"),
        (VettingLevel, "vetting_levels.json"),
        (RiskTier, "risk_tiers.json"),
        (Region, "regions.json"),
    ],
)
def test_enums_list_exactly_the_data_file_codes(enum: type[StrEnum], filename: str) -> None:
    entries = _file(filename)
    assert isinstance(entries, list)
    assert [entry["code"] for entry in entries] == [member.value for member in enum]
    assert all(entry["label"] for entry in entries)


def test_capabilities_have_labels_and_descriptions(ref: ReferenceData) -> None:
    assert len(ref.capabilities) == 15
    assert ref.capability("sgbv").label == "Sexual and gender-based violence"  # type: ignore[union-attr]
    assert all(info.description for info in ref.capabilities)
    assert ref.is_capability("public-order")
    assert not ref.is_capability("counter-terrorism")


def test_region_file_maps_exactly_the_iso_codes() -> None:
    regions = _file("country_regions.json")
    assert isinstance(regions, dict)
    assert sorted(regions) == ISO_CODES
    assert set(regions.values()) == {member.value for member in Region} - {Region.UNLISTED}


def test_fragility_is_within_the_scale(ref: ReferenceData) -> None:
    assert all(0 <= country.fragility <= 120 for country in ref.countries)


def test_mission_countries_have_overrides() -> None:
    countries = _file("countries.json")
    assert isinstance(countries, dict)
    overrides = countries["overrides"]
    assert MISSION_COUNTRIES.issubset(overrides)
    assert len(overrides) >= 60


def test_listed_country_takes_its_override(ref: ReferenceData) -> None:
    somalia = ref.country("SO")
    assert somalia is not None
    assert somalia.region is Region.AFRICA
    assert somalia.fragility > 100
    assert somalia.oda_eligible
    assert somalia.hmg_priority
    assert ref.country("UA").region is Region.EURASIA  # type: ignore[union-attr]


def test_unlisted_country_takes_the_defaults(ref: ReferenceData) -> None:
    norway = ref.country("NO")
    assert norway is not None
    assert norway.region is Region.EUROPE
    assert (norway.fragility, norway.oda_eligible, norway.hmg_priority) == (50, False, False)


def test_vetting_levels_are_ordered(ref: ReferenceData) -> None:
    assert [level.code for level in ref.vetting_levels] == ["none", "ctc", "sc", "dv"]
    assert ref.vetting_at_least("dv", "sc")
    assert ref.vetting_at_least("sc", "sc")
    assert not ref.vetting_at_least("ctc", "sc")
    assert ref.vetting_at_least(VettingLevel.CTC, VettingLevel.NONE)


def test_unknown_vetting_level_is_an_error(ref: ReferenceData) -> None:
    with pytest.raises(ValueError, match="unknown vetting level"):
        ref.vetting_at_least("top-secret", "sc")


def test_official_sensitive_needs_sc_or_above(ref: ReferenceData) -> None:
    need = ref.required_vetting("OFFICIAL-SENSITIVE")
    assert need == "sc"
    assert not ref.vetting_at_least("ctc", need)
    assert ref.vetting_at_least("dv", need)
    assert ref.required_vetting("OFFICIAL") == "none"


@pytest.mark.parametrize("marking", ["SECRET", "TOP SECRET", "official"])
def test_higher_classifications_are_refused(ref: ReferenceData, marking: str) -> None:
    assert not ref.is_classification(marking)
    with pytest.raises(ValueError, match="not a classification"):
        ref.required_vetting(marking)


def test_high_and_serious_risk_need_a_minister(ref: ReferenceData) -> None:
    assert [ref.needs_ministerial_approval(tier) for tier in RiskTier] == [
        False,
        False,
        True,
        True,
    ]


def test_reason_codes_are_published_with_labels(ref: ReferenceData) -> None:
    rejection = {reason.code for reason in ref.rejection_reasons}
    assert {"out-of-scope", "insufficient-capacity", "duplicate", "unacceptable-risk"} <= rejection
    assert {"no-funding", "partner-withdrew-support", "other"} <= rejection
    assert ref.is_rejection_reason("duplicate")
    assert not ref.is_rejection_reason("bored")
    assert ref.rejection_reason("no-funding").label  # type: ignore[union-attr]
    assert [reason.code for reason in ref.repatriation_reasons] == [
        "medical",
        "compassionate",
        "disciplinary",
        "security",
        "operational",
        "other",
    ]
    assert ref.is_repatriation_reason("medical")


def test_partner_types_and_funding_sources(ref: ReferenceData) -> None:
    multilateral = {info.code for info in ref.partner_types if info.multilateral}
    assert multilateral == {"un", "eu", "osce"}
    assert ref.is_partner_type("uk-embassy")
    assert not ref.is_partner_type("nato")
    assert ref.is_funding_source("cssf-oda")
    assert not ref.is_funding_source("lottery")


def test_default_load_is_cached() -> None:
    assert load_reference_data() is load_reference_data()


def test_edited_copy_changes_behaviour_without_code_changes(data_copy: Path) -> None:
    def edit(data: dict[str, dict[str, object]]) -> None:
        data["overrides"]["NO"] = {"fragility": 14.5, "hmg_priority": True}

    _edit_json(data_copy / "countries.json", edit)
    norway = load_reference_data(data_copy).country("NO")
    assert norway is not None
    assert (norway.fragility, norway.hmg_priority, norway.oda_eligible) == (14.5, True, False)


def test_region_file_missing_a_country_is_refused(data_copy: Path) -> None:
    _edit_json(data_copy / "country_regions.json", lambda data: data.pop("FR"))
    with pytest.raises(ReferenceDataError, match="FR has no region"):
        load_reference_data(data_copy)


def test_region_file_with_a_non_iso_code_is_refused(data_copy: Path) -> None:
    _edit_json(data_copy / "country_regions.json", lambda data: data.update(XK="europe"))
    with pytest.raises(ReferenceDataError, match="XK"):
        load_reference_data(data_copy)


def test_override_for_a_non_iso_code_is_refused(data_copy: Path) -> None:
    _edit_json(data_copy / "countries.json", lambda data: data["overrides"].update(XK={}))
    with pytest.raises(ReferenceDataError, match="XK"):
        load_reference_data(data_copy)


def test_fragility_outside_the_scale_is_refused(data_copy: Path) -> None:
    _edit_json(
        data_copy / "countries.json",
        lambda data: data["overrides"].update(NO={"fragility": 121}),
    )
    with pytest.raises(ReferenceDataError, match="fragility"):
        load_reference_data(data_copy)


def test_duplicate_codes_are_refused(data_copy: Path) -> None:
    _edit_json(data_copy / "rejection_reasons.json", lambda data: data.append(data[0]))
    with pytest.raises(ReferenceDataError, match="duplicate"):
        load_reference_data(data_copy)


def test_missing_file_is_refused(data_copy: Path) -> None:
    (data_copy / "capabilities.json").unlink()
    with pytest.raises(ReferenceDataError, match=r"capabilities\.json"):
        load_reference_data(data_copy)
