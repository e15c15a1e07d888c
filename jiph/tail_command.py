"""`jiph tail TOPIC…|all`: the gateway's events as they happen, one line each (or JSON)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
import typer
from rich.text import Text

from jiph import eventlog
from jiph.console import console, printable
from jiph.errors import CommandError, not_one_of
from jiph.options import completes, stack_name
from jiph.stack.config import stack_config

if TYPE_CHECKING:
    from shared.events import EventRegistry

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
COLOURS = {"intake": "cyan", "triage": "yellow", "deployment": "magenta", "deadletter": "red"}


def register(app: typer.Typer) -> None:
    app.command("tail", help="print the gateway's events, live or from the beginning")(cmd_tail)


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


def catalogue() -> EventRegistry:
    """The event types `--type` is checked against, loaded (pydantic models and all) only by
    the commands that need them, not at every `jiph` command's start (see jiph/cli.py)."""
    import shared.catalogue  # noqa: F401  (registers the event types)
    from shared.events import REGISTRY

    return REGISTRY


def complete_types(incomplete: str) -> list[str]:
    return completes(catalogue().event_types())(incomplete)


def check_types(types: list[str] | None) -> None:
    """Every `--type` must be one the catalogue knows: a typo would silently print nothing."""
    if not types:
        return
    known = catalogue()
    for event_type in types:
        if not known.knows(event_type):
            raise CommandError(
                "--type " + not_one_of(event_type, known.event_types(), "an event type")
            )


def fact(value: Any) -> str:
    if isinstance(value, list):
        return printable(",".join(str(v) for v in value))[:60]
    if isinstance(value, dict):
        return printable(",".join(sorted(value)))[:60]
    return printable(str(value))[:60]


def pretty(item: eventlog.Read, references: dict[str, str]) -> Text:
    """`time  topic  type  reference  actor  facts` — one readable line per event, its topic
    and type coloured by service (shown only on a terminal)."""
    env = item.envelope
    short_topic = item.topic.removeprefix("jiph.").removesuffix(".events")
    paint = COLOURS.get(short_topic.split(".")[0], "default")
    if env is None and short_topic.startswith("checkpoints."):
        return Text(checkpoint_line(item, short_topic))
    if env is None:
        return Text(
            f"{'?':<20} {short_topic:<18} {'(undecodable)':<22} {item.raw[:60]!r}", style="red"
        )
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
    line = Text.assemble(
        f"{when}  ",
        (f"{short_topic:<18}", paint),
        " ",
        (f"{printable(env.event_type):<22}", f"bold {paint}"),
        f" {ref:<17} {actor:<28} {facts}",
    )
    line.rstrip()
    return line


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


async def _tail(
    bootstrap: str,
    names: list[str],
    *,
    since: datetime | None,
    from_beginning: bool,
    follow: bool,
    types: list[str] | None,
    request: str | None,
    as_json: bool,
    colour: bool,
) -> int:
    wanted_request = None
    if request:
        wanted_request, _ = await eventlog.resolve_request(bootstrap, request)
    out = console(colour=True) if colour else None
    references: dict[str, str] = {}
    async for item in eventlog.read(
        bootstrap, names, from_beginning=from_beginning, since=since, follow=follow
    ):
        env = item.envelope
        remember_reference(env, references)
        if types and (env is None or env.event_type not in types):
            continue
        if wanted_request and (env is None or env.key != wanted_request):
            continue
        if as_json:
            sys.stdout.write(json_line(item) + "\n")
        elif out is not None:
            out.print(pretty(item, references), soft_wrap=True)
        else:  # piped: the plain line, as fast as it comes
            sys.stdout.write(pretty(item, references).plain + "\n")
        sys.stdout.flush()
    return 0


def cmd_tail(
    ctx: typer.Context,
    topic: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC...",
            help="topic names, intake|triage|deployment|checkpoints, or all (default: every "
            "topic of events and dead letters)",
            autocompletion=completes(eventlog.topic_names()),
            show_default=False,
        ),
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="start at the first event")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="start at this time: ISO 8601 (2026-11-26T09:00, UTC unless an offset is "
            "given) or a duration back from now (30s, 15m, 2h, 1d)",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            help="keep waiting for new events (default), or stop at the current end",
        ),
    ] = True,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="only this event type (repeat for more)",
            metavar="T",
            autocompletion=complete_types,
        ),
    ] = None,
    request: Annotated[
        str | None, typer.Option(metavar="ID|REFERENCE", help="only this request's events")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(metavar="HOST:PORT", help="Kafka (default: the stack's)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="one envelope per line, for jq (never coloured)")
    ] = False,
    color: Annotated[
        Literal["auto", "always", "never"], typer.Option(help="colour the readable lines")
    ] = "auto",
) -> int:
    """Errors the operator can fix are `CommandError`s, said in one line by `jiph.cli`."""
    check_types(types)  # the catalogue's wording, with the close matches
    when = parse_since(since) if since else None
    colour = color == "always" or (color == "auto" and console().is_terminal)
    try:
        return asyncio.run(
            _tail(
                bootstrap or stack_config(stack_name(ctx)).kafka_bootstrap,
                eventlog.expand(topic or ["all"]),
                since=when,
                from_beginning=from_beginning,
                follow=follow,
                types=types,
                request=request,
                as_json=as_json,
                colour=colour and not as_json,
            )
        )
    except KeyboardInterrupt:
        return 0
