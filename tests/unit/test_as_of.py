"""The one rule of reads of the past (`shared.as_of`): what a view had at a version or a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.as_of import AsOf, cut
from shared.refusals import DomainError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (name, own stream version or 0 for another service's event, minutes after T0)
ROWS = [
    ("submitted", 0, 0),
    ("triaged", 1, 1),
    ("amended", 0, 2),
    ("assessed", 2, 3),
    ("late-partner-event", 0, 4),
    ("held", 3, 5),
    ("withdrawn", 0, 6),
]


def names(as_of: AsOf) -> tuple[list[str], tuple[int, datetime, str]]:
    kept, point = cut(
        ROWS, as_of, own=lambda r: r[1] > 0, version=lambda r: r[1], occurred_at=lambda r: at(r[2])
    )
    return [r[0] for r in kept], (point.version, point.at, point.by)


def test_as_of_a_version_is_the_stream_to_it_and_the_others_before_its_next_event() -> None:
    kept, point = names(AsOf(version=2))
    assert kept == ["submitted", "triaged", "amended", "assessed", "late-partner-event"]
    assert point == (2, at(3), "version")


def test_as_of_the_current_version_takes_every_other_event() -> None:
    kept, point = names(AsOf(version=3))
    assert kept == [r[0] for r in ROWS] and point == (3, at(5), "version")


def test_as_of_a_time_takes_every_event_at_or_before_it() -> None:
    kept, point = names(AsOf(at=at(3)))
    assert kept == ["submitted", "triaged", "amended", "assessed"]
    assert point == (2, at(3), "time")
    assert names(AsOf(at=at(0)))[1][0] == 0  # submitted, not yet a version of the own stream


@pytest.mark.parametrize(
    ("as_of", "field"),
    [
        (AsOf(version=4), "query.as_of_version"),
        (AsOf(version=0), "query.as_of_version"),
        (AsOf(at=at(-1)), "query.as_of"),
    ],
)
def test_a_point_the_view_never_had_is_refused_naming_the_parameter(
    as_of: AsOf, field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        names(as_of)
    assert refused.value.rule == "as-of-out-of-range" and refused.value.status == 422
    assert [e["field"] for e in refused.value.errors] == [field]


def test_both_parameters_at_once_are_refused_and_none_is_the_current_view() -> None:
    with pytest.raises(DomainError) as refused:
        AsOf.asked(2, T0)
    assert refused.value.rule == "as-of-ambiguous" and refused.value.status == 422
    assert AsOf.asked(None, None) is None
    assert AsOf.asked(2, None) == AsOf(version=2)
