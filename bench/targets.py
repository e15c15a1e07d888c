"""The one shape of a benchmark's verdict: `make bench` (scripts/bench.sh) collects every line
that starts with `target:` into its closing table."""

from __future__ import annotations


def target(label: str, figure: str, ok: bool) -> str:
    return f"target: {label}: {figure} {'PASS' if ok else 'MISS'}"
