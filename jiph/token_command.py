"""`jiph token`: a development token for the running stack, signed with its local key."""

from __future__ import annotations

import argparse
import sys

from jiph.stack.config import stack_config
from shared.auth import Role, load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "token",
        help="print a development bearer token (tests and development only)",
        description="A token signed with the local stack's own key, accepted only by services "
        "running in development. Real users sign in at the identity provider: partners' "
        "systems by client credentials (POST /v1/partners/{id}/credentials on intake), staff "
        "through the provider's login page.",
    )
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--partner", help="partner_id claim (role partner)")
    p.add_argument("--force", help="force claim (role force_liaison)")
    p.add_argument("--clearance", choices=["none", "ctc", "sc", "dv"])
    p.add_argument("--sub", help="subject (default: a name derived from the role)")
    p.add_argument("--name", help="display name claim")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (default 8 hours)")
    p.set_defaults(handler=cmd_token)


def dev_token(stack: str | None, role: str, **claims: object) -> str:
    key = load_or_create_dev_key(stack_config(stack).dev_key_file)
    return mint_token(key, role=Role(role), issuer=DEV_ISSUER, audience=AUDIENCE, **claims)  # type: ignore[arg-type]


def cmd_token(args: argparse.Namespace) -> int:
    try:
        token = dev_token(
            args.stack,
            args.role,
            subject=args.sub or f"{args.role}-{args.partner or args.force or 'dev'}",
            partner_id=args.partner,
            force=args.force,
            clearance=args.clearance,
            name=args.name,
            ttl_seconds=args.ttl,
        )
    except ValueError as exc:
        raise SystemExit(f"jiph token: {exc}") from exc
    if sys.stderr.isatty():
        print(
            "jiph token: a development token; production accepts the provider's only",
            file=sys.stderr,
        )
    print(token)
    return 0
