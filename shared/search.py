"""Full-text search, PostgreSQL's own: a stored `tsvector` computed from a row's text (a generated
column, so the projection's code never keeps it) and the reader's words as
`websearch_to_tsquery` (quotes for phrases, `or`, `-word`; never a syntax error). One text
configuration for every service, so that the same words find the same requests everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

#: Stemmed English: "election" finds "elections".
CONFIG = "english"


def vector_sql(parts: Sequence[str]) -> str:
    """The SQL of a generated `tsvector` column over these SQL text expressions."""
    text = " || ' ' || ".join(f"coalesce({part}, '')" for part in parts)
    return f"to_tsvector('{CONFIG}'::regconfig, {text})"


def matches(vector: sa.ColumnElement[Any], words: str) -> sa.ColumnElement[bool]:
    """`vector` holds what `words` (websearch syntax) ask for."""
    query = sa.func.websearch_to_tsquery(sa.literal_column(f"'{CONFIG}'::regconfig"), words)
    return vector.op("@@")(query)
