"""`jiph deadletters`, `jiph replay`, `jiph where`: operating the running services."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from jiph import eventlog
from jiph.ops_client import OpsClient, ServiceUnavailable
from jiph.stack.config import SERVICE_NAMES, stack_config


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


def _fail(message: str) -> int:
    print(f"jiph: {message}", file=sys.stderr)
    return 1


def cmd_deadletters(args: argparse.Namespace) -> int:
    client = OpsClient(stack_config(args.stack))
    try:
        if args.action == "list":
            return _list(client, args.service, args.all)
        if args.id is None or args.service is None:
            return _fail(f"deadletters {args.action} needs an id and --service")
        if args.action == "show":
            items = client.call(
                "GET", args.service, "/v1/admin/deadletters", params={"status": "any"}
            )
            found = [i for i in items["items"] if i["id"] == args.id]
            if not found:
                return _fail(f"no dead letter {args.id} in {args.service}")
            for key, value in found[0].items():
                print(f"{key:>14}: {value}")
            return 0
        outcome = client.call(
            "POST", args.service, f"/v1/admin/deadletters/{args.id}", json={"action": args.action}
        )
    except ServiceUnavailable as exc:
        return _fail(str(exc))
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


def _list(client: OpsClient, service: str | None, include_resolved: bool) -> int:
    rows = []
    for name in [service] if service else SERVICE_NAMES:
        params = {"status": "any" if include_resolved else "parked"}
        try:
            items = client.call("GET", name, "/v1/admin/deadletters", params=params)["items"]
        except ServiceUnavailable as exc:
            print(f"({exc})", file=sys.stderr)
            continue
        rows += [(name, item) for item in items]
    if not rows:
        print("no dead letters")
        return 0
    print(
        f"{'service':<11} {'id':>5} {'status':<9} {'failed at':<20} {'key':<37} {'type':<20} "
        f"{'parked':>6}  error"
    )
    for name, i in rows:
        print(
            f"{name:<11} {i['id']:>5} {i['status']:<9} {str(i['failed_at'])[:19]:<20} "
            f"{i['key']:<37} {i['event_type']!s:<20} {i['parked_behind']:>6}  "
            f"{i['error'][:70]}"
        )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    client = OpsClient(stack_config(args.stack))
    try:
        client.call("POST", args.service, "/v1/admin/rebuild")
        while True:
            p: dict[str, Any] = client.call("GET", args.service, "/v1/admin/rebuild")
            total = max(p.get("records_total") or 0, 1)
            done = min(p.get("records_read") or 0, total)
            bar = "#" * int(30 * done / total)
            sys.stderr.write(
                f"\r{p['state']:<9} [{bar:<30}] {done}/{total} records "
                f"{p.get('rate_per_s', 0):,.0f}/s "
            )
            sys.stderr.flush()
            if p["state"] in ("done", "failed"):
                sys.stderr.write("\n")
                break
            time.sleep(0.5)
    except ServiceUnavailable as exc:
        return _fail(str(exc))
    if p["state"] == "failed":
        return _fail(f"rebuild failed: {p.get('error')}")
    took = (p.get("finished_at") or 0) - (p.get("started_at") or 0)
    print(
        f"{args.service}: projection rebuilt from offset 0 ({p['records_read']} records, "
        f"{p['events_applied']} applied, {took:.1f}s) and swapped in; generation {p['generation']}"
    )
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    client = OpsClient(cfg)
    try:
        request_id, reference = asyncio.run(
            eventlog.resolve_request(cfg.kafka_bootstrap, args.request)
        )
    except LookupError as exc:
        return _fail(str(exc))
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
            print(f"\n{name}: {exc}")
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
