"""`jiph audit verify [SERVICE] [--stream ID]`: is each service's stored history the one that was
written? Recomputes every stream's hash chain from the events in the service's database and
compares it with the signed checkpoints on `jiph.checkpoints.<service>` (shared/history).

Exit status: 0 when every history verifies, 1 when an event does not match or a checkpoint is
refused, 2 when a database or Kafka cannot be reached.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
import typer
from aiokafka.errors import KafkaError

from jiph import eventlog
from jiph.errors import CommandError
from jiph.options import one_of, stack_name
from jiph.stack.config import StackConfig, stack_config
from jiph.stack.postgres import PostgresTarget, managed_admin_url, plain_url
from shared import topics
from shared.history.checkpoints import load_public_key
from shared.history.verifier import Report, verify


def register(app: typer.Typer) -> None:
    audit = typer.Typer(
        help="prove the stored history is the one that was written", no_args_is_help=True
    )
    audit.command(
        "verify",
        help="recompute every stream's hash chain and check it against the signed checkpoints",
        epilog=__doc__.split("\n\n", 1)[1],
    )(cmd_verify)
    app.add_typer(audit, name="audit")


def cmd_verify(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Argument(
            help=f"one of {'|'.join(topics.WRITERS)} (default: every service with an event store)",
            **one_of(tuple(topics.WRITERS), "a service with an event store", "SERVICE"),
        ),
    ] = None,
    stream: Annotated[
        str | None, typer.Option(help="one stream, e.g. case-<request id> or request-<id>")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="PEM",
            help="the service's checkpoint key (PEM, public or private half); repeat for the "
            "keys used before a rotation; default: the stack's",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per service")] = False,
) -> int:
    cfg = stack_config(stack_name(ctx))
    services = [service] if service else list(topics.WRITERS)
    if public_key and len(services) != 1:
        print("--public-key verifies one service: name it", file=sys.stderr)
        return 2
    try:
        reports = asyncio.run(_verify_all(cfg, services, stream, public_key))
    except (OSError, asyncpg.PostgresError, KafkaError, ValueError) as exc:
        raise CommandError(f"cannot verify: {exc}") from None
    for report in reports:
        print(orjson.dumps(_as_json(report)).decode() if as_json else _as_text(report))
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
        paths = public_keys or [cfg.checkpoint_key_file(service)]
        for path in paths:
            if not path.is_file():
                raise CommandError(
                    f"no checkpoint key for {service} at {path}: start the stack"
                    f" (jiph --stack {cfg.name} up) or name the key (--public-key)"
                )
        keys = [load_public_key(p) for p in paths]
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
