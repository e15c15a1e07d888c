"""Loaded by the schemathesis runs of tests/fuzz (SCHEMATHESIS_HOOKS): a workaround for a crash
of the tools, not of the gateway.

CPython 3.11's parser sometimes fails with "SystemError: AST constructor recursion depth
mismatch" when Hypothesis parses a lambda's source to describe a strategy, deep in one of
schemathesis' worker threads. The description is only the strategy's repr: without it, the same
cases are generated and checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis.internal import lambda_sources

_describe: Callable[[Any], str] = lambda_sources.lambda_description


def _described_or_plain(f: Any) -> str:
    try:
        return _describe(f)
    except SystemError:
        return "lambda"


lambda_sources.lambda_description = _described_or_plain
