"""`jiph tail TOPIC…|all`: the gateway's events as they happen, one line each (or JSON)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

import shared.catalogue  # noqa: F401  (registers the event types --type is checked against)
from jiph import eventlog
from jiph.errors import CommandError, did_you_mean
from jiph.stack.config import stack_config
from shared.events import REGISTRY

#: The facts worth a glance for each event type.
KEY_FACTS: dict[str, tuple[str, ...]] = {
    "RequestSubmitted": ("country", "capability", "headcount", "partner_type", "needed_by"),
    "RequestAmended": ("changes", "answers"),
    "RequestWithdrawn": ("reason",),
    "RequestTriaged": ("score", "country", "capability", "policy_version"),
    "InformationRequested": ("questions",),
    "RequestAssessed": ("score", "risk_tier", "assessor"),
    "ApprovalGiven": ("stage", "approver"),
    "RequestApproved": ("headcount", "country"),
    "RequestRejected": ("reason_code", "reason"),
    "RequestPutOnHold": ("reason",),
    "RequestResumed": ("reason",),
    "PolicyAdopted": ("policy_version", "previous_version", "author"),
    "CapabilityOffered": ("officer_ref", "force", "capability", "rank"),
    "CapabilityWithdrawn": ("officer_ref", "reason"),
    "DeploymentPlanned": ("country", "headcount", "tour_start", "tour_end"),
    "OfficerNominated": ("officer_ref", "force"),
    "OfficerReleased": ("officer_ref", "force"),
    "OfficerCleared": ("officer_ref", "valid_until"),
    "DeploymentStarted": ("started_on", "officer_refs"),
    "TourExtended": ("months", "new_end"),
    "OfficerRepatriated": ("officer_ref", "reason_code"),
    "DeploymentCompleted": ("completed_on",),
    "DeploymentCancelled": ("reason",),
}
COLOURS = {"intake": "36", "triage": "33", "deployment": "35", "deadletter": "31"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tail", help="print the gateway's events, live or from the beginning")
    p.add_argument(
        "topics",
        nargs="*",
        default=["all"],
        metavar="TOPIC",
        help="topic names, intake|triage|deployment|checkpoints, or all (default: every "
        "topic of events and dead letters)",
    )
    p.add_argument("--from-beginning", action="store_true", help="start at the first event")
    p.add_argument(
        "--since",
        help="start at this time: ISO 8601 (2026-11-26T09:00, UTC unless an offset is given) "
        "or a duration back from now (30s, 15m, 2h, 1d)",
    )
    follow = p.add_mutually_exclusive_group()
    follow.add_argument(
        "--follow",
        dest="follow",
        action="store_true",
        default=True,
        help="keep waiting for new events (default)",
    )
    follow.add_argument(
        "--no-follow", dest="follow", action="store_false", help="stop at the current end"
    )
    p.add_argument("--type", action="append", dest="types", metavar="T", help="only this type")
    p.add_argument("--request", metavar="ID|REFERENCE", help="only this request's events")
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka (default: the stack's)")
    p.add_argument("--json", action="store_true", help="one envelope per line, for jq")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(handler=cmd_tail)


DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An aware time from ISO 8601 (UTC when it names no offset) or a duration back from now."""
    if match := DURATION.match(text.strip()):
        amount, unit = match.groups()
        return (now or datetime.now(UTC)) - timedelta(**{UNITS[unit]: int(amount)})
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--since {text!r} is neither a time (ISO 8601, e.g. 2026-11-26T09:00, UTC unless "
            "it names an offset) nor a duration back from now (30s, 15m, 2h, 1d)"
        ) from None
    return since.replace(tzinfo=UTC) if since.tzinfo is None else since


def check_types(types: list[str] | None) -> None:
    """Every `--type` must be one the catalogue knows: a typo would silently print nothing."""
    known = REGISTRY.event_types()
    for event_type in types or ():
        if not REGISTRY.knows(event_type):
            hint = did_you_mean(event_type, known) or f"; the catalogue's types: {', '.join(known)}"
            raise CommandError(f"--type {event_type!r} is not an event type{hint}")


def printable(text: str) -> str:
    """`text` with control and format characters escaped (`\\x1b`, `\\u202e`): what an
    event carries must not move the operator's cursor, recolour or reorder their terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


def fact(value: Any) -> str:
    if isinstance(value, list):
        return printable(",".join(str(v) for v in value))[:60]
    if isinstance(value, dict):
        return printable(",".join(sorted(value)))[:60]
    return printable(str(value))[:60]


def pretty(item: eventlog.Read, references: dict[str, str], colour: bool) -> str:
    """`time  topic  type  reference  actor  facts` — one readable line per event."""
    env = item.envelope
    short_topic = item.topic.removeprefix("jiph.").removesuffix(".events")
    paint = COLOURS.get(short_topic.split(".")[0], "0")
    if env is None and short_topic.startswith("checkpoints."):
        return checkpoint_line(item, short_topic)
    if env is None:
        line = f"{'?':<20} {short_topic:<18} {'(undecodable)':<22} {item.raw[:60]!r}"
        return f"\033[31m{line}\033[0m" if colour else line
    when = env.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ref = printable(references.get(env.key) or env.key[:13])
    facts = "  ".join(
        f"{k}={fact(env.data[k])}"
        for k in KEY_FACTS.get(env.event_type, ())
        if k in env.data and env.data[k] not in (None, "", [], {})
    )
    if "dl_error" in item.headers:
        facts = f"error={printable(item.headers['dl_error'])[:80]}  {facts}"
    actor = printable(f"{env.actor.role}:{env.actor.subject}")
    event_type = printable(env.event_type)
    if colour:
        event_type = f"\033[1;{paint}m{event_type:<22}\033[0m"
        short_topic = f"\033[{paint}m{short_topic:<18}\033[0m"
    else:
        event_type = f"{event_type:<22}"
        short_topic = f"{short_topic:<18}"
    return f"{when}  {short_topic} {event_type} {ref:<17} {actor:<28} {facts}".rstrip()


def checkpoint_line(item: eventlog.Read, short_topic: str) -> str:
    """A signed checkpoint (shared/history): its number, how many heads, which key."""
    try:
        body = orjson.loads(item.raw)["checkpoint"]
        when = datetime.fromisoformat(body["at"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        facts = printable(f"seq={body['seq']}  heads={len(body['heads'])}  key={body['key_id']}")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        when, facts = "?", repr(item.raw[:60])
    return f"{when:<20}  {short_topic:<18} {'ChainCheckpoint':<22} {facts}"


def json_line(item: eventlog.Read) -> str:
    """One line of JSON for jq: the envelope as stored, or (for a record that is not an
    envelope) where it lies and its bytes as text, marked `undecodable`."""
    if item.envelope is not None or item.topic.startswith("jiph.checkpoints."):
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.dumps(orjson.loads(item.raw)).decode()
    return orjson.dumps(
        {
            "undecodable": True,
            "topic": item.topic,
            "partition": item.partition,
            "offset": item.offset,
            "raw": item.raw.decode(errors="replace"),
        }
    ).decode()


def remember_reference(env: Any, references: dict[str, str]) -> None:
    if env is not None and "reference" in env.data:
        references[env.key] = env.data["reference"]


async def _tail(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap or stack_config(args.stack).kafka_bootstrap
    names = eventlog.expand(args.topics)
    since = parse_since(args.since) if args.since else None
    check_types(args.types)
    wanted_request = None
    if args.request:
        wanted_request, _ = await eventlog.resolve_request(bootstrap, args.request)
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    references: dict[str, str] = {}
    async for item in eventlog.read(
        bootstrap, names, from_beginning=args.from_beginning, since=since, follow=args.follow
    ):
        env = item.envelope
        remember_reference(env, references)
        if args.types and (env is None or env.event_type not in args.types):
            continue
        if wanted_request and (env is None or env.key != wanted_request):
            continue
        line = json_line(item) if args.json else pretty(item, references, colour)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    """Errors the operator can fix are `CommandError`s, said in one line by `jiph.cli.main`."""
    try:
        return asyncio.run(_tail(args))
    except KeyboardInterrupt:
        return 0
