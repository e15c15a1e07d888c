"""`jiph deadletters`, `jiph replay`, `jiph where`: operating the running services."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Annotated, Any
from uuid import UUID

import typer

from jiph import eventlog
from jiph.console import printable, progress, show, table
from jiph.errors import CommandError
from jiph.ops_client import OpsClient, ServiceUnavailable
from jiph.options import one_of, stack_name
from jiph.stack.config import SERVICE_NAMES, stack_config

ACTIONS = ("list", "show", "redrive", "skip")


def register(app: typer.Typer) -> None:
    app.command("deadletters", help="events a service could not apply: list, show, redrive, skip")(
        cmd_deadletters
    )
    app.command("replay", help="rebuild a service's projection from offset 0")(cmd_replay)
    app.command("where", help="where is this request: each service's view, lag, dead letters")(
        cmd_where
    )


def cmd_deadletters(
    ctx: typer.Context,
    action: Annotated[
        str, typer.Argument(help="|".join(ACTIONS), **one_of(ACTIONS, "an action", "ACTION"))
    ],
    dead_letter: Annotated[
        int | None,
        typer.Argument(metavar="[ID]", help="dead letter id (show, redrive, skip)"),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            help="one service (default: all; required for show/redrive/skip)",
            **one_of(SERVICE_NAMES, "a service"),
        ),
    ] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="list resolved ones too")] = False,
) -> int:
    """Service errors are `CommandError`s (`ServiceUnavailable`): `jiph.cli` says them."""
    client = OpsClient(stack_config(stack_name(ctx)))
    if action == "list":
        return _list(client, service, include_resolved)
    if dead_letter is None or service is None:
        raise CommandError(f"deadletters {action} needs an id and --service")
    if action == "show":
        items = client.call("GET", service, "/v1/admin/deadletters", params={"status": "any"})
        found = [i for i in items["items"] if i["id"] == dead_letter]
        if not found:
            raise CommandError(f"no dead letter {dead_letter} in {service}")
        shown = dict(found[0])
        shown["reference"] = references(client, [shown["key"]]).get(shown["key"], "-")
        grid = table("field", "value")
        grid.show_header = False
        for key, value in shown.items():
            grid.add_row(key, printable(str(value)))
        show(grid)
        return 0
    outcome = client.call(
        "POST", service, f"/v1/admin/deadletters/{dead_letter}", json={"action": action}
    )
    verb = "redriven" if action == "redrive" else "skipped"
    print(
        f"dead letter {dead_letter} of {service} {verb}; {outcome['applied']} parked event(s) "
        f"applied after it in order; key "
        + (
            "released"
            if outcome["released"]
            else f"still parked behind new dead letter {outcome['new_dead_letter_id']}"
        )
    )
    return 0


def references(client: OpsClient, keys: Iterable[str]) -> dict[str, str]:
    """The request reference (`JIPH-2026-000123`) of each key that is a request intake knows;
    other keys (offers, `policy`) and an intake that does not answer leave the id alone."""
    found: dict[str, str] = {}
    for key in dict.fromkeys(keys):
        try:
            UUID(key)
            state = client.call("GET", "intake", f"/v1/admin/requests/{key}")["state"]
        except ValueError:
            continue
        except ServiceUnavailable:
            break
        if state and state.get("reference"):
            found[key] = str(state["reference"])
    return found


def _list(client: OpsClient, service: str | None, include_resolved: bool) -> int:
    rows = []
    silent: list[ServiceUnavailable] = []
    for name in [service] if service else SERVICE_NAMES:
        params = {"status": "any" if include_resolved else "parked"}
        try:
            items = client.call("GET", name, "/v1/admin/deadletters", params=params)["items"]
        except ServiceUnavailable as exc:
            silent.append(exc)
            continue
        rows += [(name, item) for item in items]
    answered = [
        n for n in ([service] if service else SERVICE_NAMES) if n not in {e.service for e in silent}
    ]
    if not answered:
        raise CommandError(
            f"no service answered, so nothing is known of dead letters: {_who(silent)}"
        )
    if rows:
        known = references(client, [i["key"] for _, i in rows])
        grid = table(
            "service",
            "id",
            "status",
            "failed at",
            "key",
            "reference",
            "type",
            "parked",
            "error",
            right=("id", "parked"),
        )
        for name, i in rows:
            grid.add_row(
                name,
                str(i["id"]),
                i["status"],
                str(i["failed_at"])[:19],
                printable(i["key"]),
                known.get(i["key"], "-"),
                printable(str(i["event_type"])),
                str(i["parked_behind"]),
                printable(" ".join(i["error"].split()))[:70],
            )
        show(grid)
    else:
        print(f"no dead letters in {', '.join(answered)}")
    if silent:
        raise CommandError(f"the list above is incomplete: {_who(silent)} did not answer")
    return 0


def _who(silent: Sequence[ServiceUnavailable]) -> str:
    """`intake (connection refused), reporting (answered 401: ...)`."""
    return ", ".join(f"{e.service} ({e.detail})" for e in silent)


def cmd_replay(
    ctx: typer.Context,
    service: Annotated[
        str,
        typer.Argument(
            help="|".join(SERVICE_NAMES), **one_of(SERVICE_NAMES, "a service", "SERVICE")
        ),
    ],
) -> int:
    client = OpsClient(stack_config(stack_name(ctx)))
    client.call("POST", service, "/v1/admin/rebuild")
    with progress(unit="records") as bar:
        task = bar.add_task("starting", total=None, note="")
        while True:
            p: dict[str, Any] = client.call("GET", service, "/v1/admin/rebuild")
            bar.update(
                task,
                description=p["state"],
                total=p.get("records_total") or None,
                completed=p.get("records_read") or 0,
                note=f"{p.get('rate_per_s', 0):,.0f}/s",
            )
            if p["state"] in ("done", "failed"):
                break
            time.sleep(0.5)
    if p["state"] == "failed":
        raise CommandError(f"rebuild failed: {p.get('error')}")
    took = (p.get("finished_at") or 0) - (p.get("started_at") or 0)
    print(
        f"{service}: projection rebuilt from offset 0 ({p['records_read']} records, "
        f"{p['events_applied']} applied, {took:.1f}s) and swapped in; generation {p['generation']}"
    )
    return 0


def cmd_where(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(metavar="ID|REFERENCE")],
) -> int:
    cfg = stack_config(stack_name(ctx))
    client = OpsClient(cfg)
    request_id, reference = asyncio.run(eventlog.resolve_request(cfg.kafka_bootstrap, request))
    silent: list[ServiceUnavailable] = []
    history = asyncio.run(_history(cfg.kafka_bootstrap, request_id))
    print(f"request {reference or ''} {request_id}: {len(history)} event(s) on the topics")
    for env in history[-5:]:
        print(
            printable(f"  {env.occurred_at:%Y-%m-%d %H:%M:%S}  {env.producer:<10} {env.event_type}")
        )
    ids = [str(e.event_id) for e in history]
    for name in SERVICE_NAMES:
        try:
            state = client.call("GET", name, f"/v1/admin/requests/{request_id}")["state"]
            applied = set(
                client.call("POST", name, "/v1/admin/applied", json={"event_ids": ids})["applied"]
            )
            consumer = client.call("GET", name, "/v1/admin/consumer")
            dead = client.call("GET", name, "/v1/admin/deadletters")["items"]
        except ServiceUnavailable as exc:
            print(f"\n{name}: {printable(exc.reason)}")
            silent.append(exc)
            continue
        last = next((e for e in reversed(history) if str(e.event_id) in applied), None)
        missing = [e.event_type for e in history if str(e.event_id) not in applied]
        mine = [d for d in dead if d["key"] == request_id]
        print(
            f"\n{name}: lag {consumer['total_lag']}, "
            f"open dead letters {consumer['open_dead_letters']}"
        )
        # What the projections hold came from partners and staff: escaped like `jiph tail`.
        print(printable(f"  state:        {state if state is not None else '(nothing projected)'}"))
        print("  last applied: " + (f"{last.event_type} at {last.occurred_at}" if last else "none"))
        if missing:
            print(f"  not applied:  {', '.join(missing)}")
        for d in mine:
            print(
                f"  DEAD LETTER {d['id']}: {printable(d['event_type'])} failed: "
                f"{printable(' '.join(d['error'].split()))[:100]} "
                f"({d['parked_behind']} parked behind it) -> "
                f"jiph deadletters redrive {d['id']} --service {name}"
            )
    if silent:
        raise CommandError(f"{_who(silent)} did not answer: their view is missing above")
    return 0


async def _history(bootstrap: str, request_id: str) -> list[Any]:
    events = []
    async for item in eventlog.read(
        bootstrap,
        eventlog.expand(["intake", "triage", "deployment"]),
        from_beginning=True,
        follow=False,
    ):
        if item.envelope is not None and item.envelope.key == request_id:
            events.append(item.envelope)
    unique = {e.event_id: e for e in events}
    return sorted(unique.values(), key=lambda e: e.occurred_at)
