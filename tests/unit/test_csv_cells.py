"""CSV cells a spreadsheet would run as formulas are made text (OWASP's CSV-injection rule)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.exports import FORMULA_STARTS, cell, csv_lines


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"],
)
def test_a_formula_becomes_text(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Op. Nightjar", "Op. Nightjar"),
        (-3.5, -3.5),
        (7, 7),
        (None, ""),
        (date(2027, 1, 2), "2027-01-02"),
    ],
)
def test_other_values_are_left_as_they_are(value: Any, shown: Any) -> None:
    assert cell(value) == shown


@given(st.text(max_size=30))
def test_no_cell_of_an_export_starts_like_a_formula(text: str) -> None:
    async def rows() -> Any:
        yield {"title": text}

    async def body() -> str:
        return "".join([chunk async for chunk in csv_lines(rows(), ("title",))])

    [_, [written]] = list(csv.reader(io.StringIO(asyncio.run(body()), newline="")))
    assert not written.startswith(FORMULA_STARTS)
    assert written in (text, "'" + text)
