"""The need-to-know policy (`shared.redaction`): field by field, fail closed, at any depth."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.auth import Clearance, Principal, Role
from shared.redaction import (
    FIELDS,
    OFFICIAL,
    SENSITIVE,
    WITHHELD,
    Reader,
    filter_visible_only,
    group_label,
    shown_to,
)

CLEARED, UNCLEARED = Reader(cleared=True), Reader(cleared=False)

CASE: dict[str, Any] = {
    "id": "r1",
    "classification": SENSITIVE,
    "title": "Op NIGHTJAR",
    "country": "SO",
    "contact": {"name": "A. Person", "email": "a@b.c"},
    "assessment": {"notes": "source is a defector", "risk_tier": "high"},
    "history": [
        {"event": "RequestAmended", "data": {"changes": {"mission": "UNSOM", "headcount": 3}}},
        {"event": "RequestPutOnHold", "data": {"reason": "awaiting FCDO", "stage": "board"}},
    ],
}


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def test_an_uncleared_reader_sees_no_protected_value_at_any_depth() -> None:
    shown = shown_to(UNCLEARED, SENSITIVE, CASE)
    leaked = _strings(shown) & {
        "Op NIGHTJAR",
        "A. Person",
        "a@b.c",
        "source is a defector",
        "UNSOM",
        "awaiting FCDO",
    }
    assert leaked == set()
    assert shown["redacted"] is True
    assert shown["withheld"] == ["contact", "mission", "notes", "reason", "title"]
    # What is not protected stays: codes, counts, stages.
    assert shown["country"] == "SO" and shown["assessment"]["risk_tier"] == "high"
    assert shown["history"][0]["data"]["changes"]["headcount"] == 3
    assert shown["history"][1]["data"]["stage"] == "board"


def test_a_cleared_reader_and_official_material_lose_nothing() -> None:
    for reader, classification in ((CLEARED, SENSITIVE), (UNCLEARED, OFFICIAL)):
        shown = shown_to(reader, classification, CASE)
        assert {k: v for k, v in shown.items() if k not in ("redacted", "withheld")} == CASE
        assert shown["redacted"] is False and shown["withheld"] == []


def test_unknown_classification_fails_closed() -> None:
    for classification in (None, "", "official", "SECRET", "OFFICIAL-SENSITIVE "):
        assert shown_to(UNCLEARED, classification, CASE)["title"] is None


def test_the_reader_follows_the_clearance_claim() -> None:
    def reader(clearance: Clearance) -> Reader:
        return Reader.of(Principal(subject="s", role=Role.ANALYST, clearance=clearance))

    assert [reader(c).cleared for c in Clearance] == [
        c in (Clearance.SC, Clearance.DV) for c in Clearance
    ]


def test_aggregates_and_filters_never_name_a_withheld_value() -> None:
    assert group_label(UNCLEARED, SENSITIVE, "mission", "UNSOM") == WITHHELD
    assert group_label(CLEARED, SENSITIVE, "mission", "UNSOM") == "UNSOM"
    assert group_label(UNCLEARED, OFFICIAL, "mission", "UNSOM") == "UNSOM"
    assert group_label(UNCLEARED, SENSITIVE, "mission", None) is None
    assert filter_visible_only(UNCLEARED, "mission") and not filter_visible_only(CLEARED, "mission")
    assert not filter_visible_only(UNCLEARED, "country")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from([*FIELDS, "a", "b", "data"]), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from([*FIELDS, "a", "data"]), json_values, max_size=5))
def test_no_protected_field_keeps_a_value_for_an_uncleared_reader(doc: dict[str, Any]) -> None:
    def protected_values(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [v for k, v in value.items() if k in FIELDS and v is not None] + [
                x for v in value.values() for x in protected_values(v)
            ]
        if isinstance(value, list):
            return [x for v in value for x in protected_values(v)]
        return []

    shown = shown_to(UNCLEARED, SENSITIVE, doc)
    assert protected_values({k: v for k, v in shown.items() if k != "withheld"}) == []
    assert shown["redacted"] == bool(protected_values(doc))
