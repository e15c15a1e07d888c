"""`jiph token`: a development token for the running stack, signed with its local key."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from jiph.errors import CommandError
from jiph.options import one_of, stack_name
from jiph.stack.config import stack_config
from shared.auth import Role, load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER

CLEARANCES = ("none", "ctc", "sc", "dv")


def register(app: typer.Typer) -> None:
    app.command(
        "token",
        help="print a development bearer token (tests and development only)",
        epilog="A token signed with the local stack's own key, accepted only by services "
        "running in development. Real users sign in at the identity provider: partners' "
        "systems by client credentials (POST /v1/partners/{id}/credentials on intake), staff "
        "through the provider's login page.",
    )(cmd_token)


def dev_token(stack: str | None, role: str, **claims: object) -> str:
    key = load_or_create_dev_key(stack_config(stack).dev_key_file)
    return mint_token(key, role=Role(role), issuer=DEV_ISSUER, audience=AUDIENCE, **claims)  # type: ignore[arg-type]


def cmd_token(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(**one_of([r.value for r in Role], "a role"))],
    partner: Annotated[str | None, typer.Option(help="partner_id claim (role partner)")] = None,
    force: Annotated[str | None, typer.Option(help="force claim (role force_liaison)")] = None,
    clearance: Annotated[str | None, typer.Option(**one_of(CLEARANCES, "a clearance"))] = None,
    sub: Annotated[
        str | None, typer.Option(help="subject (default: a name derived from the role)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="display name claim")] = None,
    ttl: Annotated[int, typer.Option(help="seconds (default 8 hours)")] = 8 * 3600,
) -> int:
    try:
        token = dev_token(
            stack_name(ctx),
            role,
            subject=sub or f"{role}-{partner or force or 'dev'}",
            partner_id=partner,
            force=force,
            clearance=clearance,
            name=name,
            ttl_seconds=ttl,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if sys.stderr.isatty():
        print(
            "jiph token: a development token; production accepts the provider's only",
            file=sys.stderr,
        )
    print(token)  # bare, for `$(jiph token ...)`
    return 0
