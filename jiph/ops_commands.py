"""`jiph deadletters`, `jiph replay`, `jiph where`: operating the running services."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from jiph import eventlog
from jiph.errors import CommandError
from jiph.ops_client import OpsClient, ServiceUnavailable
from jiph.stack.config import SERVICE_NAMES, stack_config
from jiph.tail_command import printable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dl = sub.add_parser(
        "deadletters", help="events a service could not apply: list, show, redrive, skip"
    )
    dl.add_argument("action", choices=("list", "show", "redrive", "skip"))
    dl.add_argument("id", nargs="?", type=int, help="dead letter id (show, redrive, skip)")
    dl.add_argument(
        "--service",
        choices=SERVICE_NAMES,
        help="one service (default: all; required for show/redrive/skip)",
    )
    dl.add_argument("--all", action="store_true", help="list resolved ones too")
    dl.set_defaults(handler=cmd_deadletters)

    rp = sub.add_parser("replay", help="rebuild a service's projection from offset 0")
    rp.add_argument("service", choices=SERVICE_NAMES)
    rp.set_defaults(handler=cmd_replay)

    wh = sub.add_parser(
        "where", help="where is this request: each service's view, lag, dead letters"
    )
    wh.add_argument("request", metavar="ID|REFERENCE")
    wh.set_defaults(handler=cmd_where)


def cmd_deadletters(args: argparse.Namespace) -> int:
    """Service errors are `CommandError`s (`ServiceUnavailable`): `jiph.cli.main` says them."""
    client = OpsClient(stack_config(args.stack))
    if args.action == "list":
        return _list(client, args.service, args.all)
    if args.id is None or args.service is None:
        raise CommandError(f"deadletters {args.action} needs an id and --service")
    if args.action == "show":
        items = client.call("GET", args.service, "/v1/admin/deadletters", params={"status": "any"})
        found = [i for i in items["items"] if i["id"] == args.id]
        if not found:
            raise CommandError(f"no dead letter {args.id} in {args.service}")
        shown = dict(found[0])
        shown["reference"] = references(client, [shown["key"]]).get(shown["key"], "-")
        for key, value in shown.items():
            print(f"{key:>14}: {printable(str(value))}")
        return 0
    outcome = client.call(
        "POST", args.service, f"/v1/admin/deadletters/{args.id}", json={"action": args.action}
    )
    verb = "redriven" if args.action == "redrive" else "skipped"
    print(
        f"dead letter {args.id} of {args.service} {verb}; {outcome['applied']} parked event(s) "
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
        print(
            f"{'service':<11} {'id':>5} {'status':<9} {'failed at':<20} {'key':<37} "
            f"{'reference':<17} {'type':<20} {'parked':>6}  error"
        )
        for name, i in rows:
            print(
                f"{name:<11} {i['id']:>5} {i['status']:<9} {str(i['failed_at'])[:19]:<20} "
                f"{printable(i['key']):<37} {known.get(i['key'], '-'):<17} "
                f"{printable(str(i['event_type'])):<20} {i['parked_behind']:>6}  "
                f"{printable(' '.join(i['error'].split()))[:70]}"
            )
    else:
        print(f"no dead letters in {', '.join(answered)}")
    if silent:
        raise CommandError(f"the list above is incomplete: {_who(silent)} did not answer")
    return 0


def _who(silent: Sequence[ServiceUnavailable]) -> str:
    """`intake (connection refused), reporting (answered 401: ...)`."""
    return ", ".join(f"{e.service} ({e.detail})" for e in silent)


def cmd_replay(args: argparse.Namespace) -> int:
    client = OpsClient(stack_config(args.stack))
    client.call("POST", args.service, "/v1/admin/rebuild")
    while True:
        p: dict[str, Any] = client.call("GET", args.service, "/v1/admin/rebuild")
        total = max(p.get("records_total") or 0, 1)
        done = min(p.get("records_read") or 0, total)
        bar = "#" * int(30 * done / total)
        sys.stderr.write(
            f"\r{p['state']:<9} [{bar:<30}] {done}/{total} records {p.get('rate_per_s', 0):,.0f}/s "
        )
        sys.stderr.flush()
        if p["state"] in ("done", "failed"):
            sys.stderr.write("\n")
            break
        time.sleep(0.5)
    if p["state"] == "failed":
        raise CommandError(f"rebuild failed: {p.get('error')}")
    took = (p.get("finished_at") or 0) - (p.get("started_at") or 0)
    print(
        f"{args.service}: projection rebuilt from offset 0 ({p['records_read']} records, "
        f"{p['events_applied']} applied, {took:.1f}s) and swapped in; generation {p['generation']}"
    )
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    client = OpsClient(cfg)
    request_id, reference = asyncio.run(eventlog.resolve_request(cfg.kafka_bootstrap, args.request))
    silent: list[ServiceUnavailable] = []
    history = asyncio.run(_history(cfg.kafka_bootstrap, request_id))
    print(f"request {reference or ''} {request_id}: {len(history)} event(s) on the topics")
    for env in history[-5:]:
        print(f"  {env.occurred_at:%Y-%m-%d %H:%M:%S}  {env.producer:<10} {env.event_type}")
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
            print(f"\n{name}: {exc.reason}")
            silent.append(exc)
            continue
        last = next((e for e in reversed(history) if str(e.event_id) in applied), None)
        missing = [e.event_type for e in history if str(e.event_id) not in applied]
        mine = [d for d in dead if d["key"] == request_id]
        print(
            f"\n{name}: lag {consumer['total_lag']}, "
            f"open dead letters {consumer['open_dead_letters']}"
        )
        print(f"  state:        {state if state is not None else '(nothing projected)'}")
        print("  last applied: " + (f"{last.event_type} at {last.occurred_at}" if last else "none"))
        if missing:
            print(f"  not applied:  {', '.join(missing)}")
        for d in mine:
            print(
                f"  DEAD LETTER {d['id']}: {d['event_type']} failed: {d['error'][:100]} "
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
