"""`jiph audit verify [SERVICE] [--stream ID]`: is each service's stored history the one that was
written? Recomputes every stream's hash chain from the events in the service's database and
compares it with the signed checkpoints on `jiph.checkpoints.<service>` (shared/history).

Exit status: 0 when every history verifies, 1 when an event does not match or a checkpoint is
refused, 2 when a database or Kafka cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka.errors import KafkaError

from jiph import eventlog
from jiph.stack.config import StackConfig, stack_config
from jiph.stack.postgres import PostgresTarget, managed_admin_url, plain_url
from shared import topics
from shared.history.checkpoints import load_public_key
from shared.history.verifier import Report, verify


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="prove the stored history is the one that was written")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    p = commands.add_parser(
        "verify",
        help="recompute every stream's hash chain and check it against the signed checkpoints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "service",
        nargs="?",
        choices=topics.WRITERS,
        help="one service (default: every service with an event store)",
    )
    p.add_argument("--stream", help="one stream, e.g. case-<request id> or request-<id>")
    p.add_argument(
        "--public-key",
        type=Path,
        action="append",
        help="the service's checkpoint key (PEM, public or private half); repeat for the keys "
        "used before a rotation; default: the stack's",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per service")
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = stack_config(args.stack)
    services = [args.service] if args.service else list(topics.WRITERS)
    if args.public_key and len(services) != 1:
        print("--public-key verifies one service: name it", file=sys.stderr)
        return 2
    try:
        reports = asyncio.run(_verify_all(cfg, services, args.stream, args.public_key))
    except (OSError, asyncpg.PostgresError, KafkaError, ValueError) as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        print(orjson.dumps(_as_json(report)).decode() if args.json else _as_text(report))
    return 0 if all(r.clean for r in reports) else 1


async def _verify_all(
    cfg: StackConfig, services: list[str], stream: str | None, public_keys: list[Path] | None
) -> list[Report]:
    target = PostgresTarget(
        plain_url(cfg.external_database_url)
        if cfg.external_database_url
        else managed_admin_url(cfg),
        managed=cfg.external_database_url is None,
    )
    reports = []
    for service in services:
        keys = [load_public_key(p) for p in public_keys or [cfg.checkpoint_key_file(service)]]
        db = await asyncpg.connect(plain_url(target.service_url(service)), timeout=10)
        try:
            records = _checkpoint_records(cfg.kafka_bootstrap, service)
            reports.append(await verify(db, service, records, keys, stream=stream))
        finally:
            await db.close()
    return reports


async def _checkpoint_records(bootstrap: str, service: str) -> AsyncIterator[bytes]:
    topic = topics.checkpoint_topic(service)
    async for item in eventlog.read(bootstrap, [topic], from_beginning=True, follow=False):
        yield item.raw


def _as_json(report: Report) -> dict[str, Any]:
    return {
        "service": report.service,
        "clean": report.clean,
        "key_id": report.key_id,
        "streams": report.streams,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "last_checkpoint": report.last_checkpoint,
        "signed_heads": report.signed_heads,
        "mismatches": [
            {
                "stream_id": m.stream_id,
                "stream_version": m.stream_version,
                "problem": m.problem,
                "detail": m.detail,
            }
            for m in report.mismatches
        ],
        "refused_checkpoints": report.refused,
    }


def _as_text(report: Report) -> str:
    verdict = "clean" if report.clean else "DOES NOT VERIFY"
    lines = [
        f"{report.service:<11} {verdict}: {report.events:,} events in {report.streams:,} streams;"
        f" {report.checkpoints:,} signed checkpoints (last {report.last_checkpoint}, key "
        f"{report.key_id}) signing {report.signed_heads:,} heads"
    ]
    lines += [
        f"  {m.stream_id} version {m.stream_version}: {m.problem}: {m.detail}"
        for m in report.mismatches
    ]
    lines += [f"  refused: {reason}" for reason in report.refused]
    return "\n".join(lines)
