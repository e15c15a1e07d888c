"""The one text rule, and the boundary that applies it to every request before any route."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, Query
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.input_boundary import InputBoundary
from shared.problems import install_problem_handlers
from shared.text import (
    TextRefused,
    canonical_identity,
    clean_text,
    is_canonical_identity,
    refusal,
    visible_length,
)

ALLOWED_CONTROLS = {"\t", "\n"}


def _refused_char(c: str) -> bool:
    code = ord(c)
    return (
        (unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROLS and c != "\r")
        or 0xD800 <= code <= 0xDFFF
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )


@given(st.text(alphabet=st.characters(codec=None)))
def test_clean_text_refuses_exactly_the_refused_characters_and_is_idempotent(text: str) -> None:
    bad = any(_refused_char(c) for c in text)
    if bad:
        with pytest.raises(TextRefused):
            clean_text(text)
        assert refusal(text) is not None
        return
    cleaned = clean_text(text)
    assert refusal(text) is None
    assert cleaned == clean_text(cleaned)
    assert cleaned == unicodedata.normalize("NFC", cleaned)
    assert "\r" not in cleaned and cleaned == cleaned.strip()


def test_line_breaks_become_newlines_and_nul_is_named() -> None:
    assert clean_text("  one\r\ntwo\rthree\n ") == "one\ntwo\nthree"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    with pytest.raises(TextRefused, match="U\\+0000 \\(NUL\\)"):
        clean_text("a\x00b")
    with pytest.raises(TextRefused, match="bidirectional"):
        clean_text("abc\u202edef")


def test_identities_have_one_canonical_form() -> None:
    assert canonical_identity(" Alice ") == canonical_identity("alice") == "alice"
    assert canonical_identity("\uff41lice") == "alice"  # fullwidth a (NFKC)
    assert is_canonical_identity("hub.triage.priya-shah")
    for variant in ("Alice", " alice", "alice\u200b\x00", ""):
        assert not is_canonical_identity(variant)


def test_visible_length_ignores_every_kind_of_whitespace() -> None:
    assert visible_length("\u00a0" * 9 + "x") == 1
    assert visible_length("\u2003\u3000\u200b\ufeff justified ") == len("justified")


# --- the boundary ----------------------------------------------------------------------------
class Body(BaseModel):
    title: str
    answers: list[str] = []


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(InputBoundary, max_bytes=10_000)

    @app.post("/things")
    async def post(
        body: Body, q: str | None = Query(None), x_note: str | None = Header(None)
    ) -> Any:
        return {"title": body.title, "answers": body.answers, "q": q, "note": x_note}

    return app


async def _call(**kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/things", **kwargs)


async def test_text_in_a_body_reaches_the_route_normalised() -> None:
    answer = await _call(json={"title": " e\u0301\r\n ", "answers": ["a\r\nb"]})
    assert answer.status_code == 200
    assert answer.json()["title"] == "\u00e9" and answer.json()["answers"] == ["a\nb"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"json": {"title": "a\u0000b"}}, "body.title"),
        ({"json": {"title": "ok", "answers": ["fine", "bad\x1b[31m"]}}, "body.answers.1"),
        ({"json": {"title": "ok"}, "params": {"q": "x\x00"}}, "query.q"),
        ({"json": {"title": "ok"}, "headers": {"x-note": "a\x7fb"}}, "header.x-note"),
    ],
)
async def test_a_refused_character_anywhere_is_a_422_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    answer = await _call(**kwargs)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]


async def test_query_parameters_reach_the_route_normalised() -> None:
    answer = await _call(json={"title": "ok"}, params={"q": "  cafe\u0301 "})
    assert answer.json()["q"] == "caf\u00e9"
