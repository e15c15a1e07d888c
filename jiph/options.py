"""What several `jiph` commands take alike: a name from a fixed set (a stack, a service, a role,
an event type), checked with close matches suggested and completed by the shell, and the root's
`--stack`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer

from jiph.errors import not_one_of


def completes(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Shell completion from `choices`."""
    return lambda incomplete: [c for c in choices if c.startswith(incomplete)]


def one_of(choices: Sequence[str], what: str, metavar: str | None = None) -> dict[str, Any]:
    """`typer.Option`/`typer.Argument` keywords for a value that must be one of `choices`:
    refused with the close matches (`'intak' is not a service (did you mean intake?)`),
    offered by shell completion, listed in the help (as the metavar unless one is given)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(not_one_of(value, choices, what))
        return value

    return {
        "callback": check,
        "autocompletion": completes(choices),
        "metavar": metavar or "|".join(choices),
    }


def stack_name(ctx: typer.Context) -> str | None:
    """The root's `--stack` (or `$JIPH_STACK`); None means the default stack."""
    value = ctx.find_root().params.get("stack")
    return str(value) if value else None
