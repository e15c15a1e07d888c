"""Failures an operator can cause or fix: a name mistyped, a time that is not one, Kafka or a
service away. `jiph` says each in one line on stderr and exits 1, never with a traceback
(`jiph.cli.main`); anything else is a bug and keeps its traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CommandError(Exception):
    """One line for the operator: what went wrong and, where it helps, what to type instead."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean X or Y?)` for the close matches of `word`, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def not_one_of(word: str, choices: Iterable[str], what: str) -> str:
    """`'intak' is not a service (did you mean intake?)`; the choices listed when none is close."""
    known = list(choices)
    return f"{word!r} is not {what}{did_you_mean(word, known) or '; one of ' + ', '.join(known)}"
