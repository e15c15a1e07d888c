"""The peer: the same partner submission built as a Python team would build it instead of JIPH's
backbone, for `bench.intake_throughput` to measure beside intake in the same run.

FastAPI in front of the `eventsourcing` library's `Application` on PostgreSQL, on psycopg's C
build (`psycopg[binary]`; the run prints which implementation it got): the body validated by a
pydantic model, a `PartnerRequest` aggregate created and saved (its event stored by the library's
application recorder), and one read-model row written in the same transaction (the recorder's
`_insert_events` hook, which the library pipelines with the event insert). The endpoint is a
plain `def`, so FastAPI runs it in its thread pool (40 threads), each save holding one pooled
connection. Durability as intake's: the server's defaults (synchronous commit).

`uvicorn --factory bench.peer_submission:peer_app`, with `POSTGRES_*` in the environment (see
`peer_env`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from bench.submission import BareBody

READ_MODEL = """CREATE TABLE IF NOT EXISTS peer_requests (
    id uuid PRIMARY KEY, title text NOT NULL, country text NOT NULL, capability text NOT NULL,
    headcount int NOT NULL, needed_by date NOT NULL, submitted_at timestamptz DEFAULT now())"""
READ_MODEL_INSERT = (
    "INSERT INTO peer_requests (id, title, country, capability, headcount, needed_by) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)


class PartnerRequest(Aggregate):
    @event("Submitted")
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.status = "submitted"


class ReadModelRecorder(PostgresApplicationRecorder):
    """The library's recorder, writing the read-model row in the events' transaction."""

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(READ_MODEL)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        row = kwargs.get("read_model")
        if row is not None:
            curs.execute(READ_MODEL_INSERT, row, prepare=True)


class Gateway(Application[uuid.UUID]):
    def submit(self, body: BareBody) -> uuid.UUID:
        request = PartnerRequest(body.model_dump(mode="json"))
        row = (
            request.id,
            body.title,
            body.country,
            body.capability,
            body.headcount,
            body.needed_by,
        )
        self.save(request, read_model=row)
        return request.id


def peer_env(database_url: str) -> dict[str, str]:
    """The library's settings for a database (an asyncpg-style URL)."""
    url = make_url(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "bench.peer_submission:ReadModelRecorder",
        "POSTGRES_DBNAME": url.database or "",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_POOL_SIZE": "20",
        "POSTGRES_MAX_OVERFLOW": "20",
        "CREATE_TABLE": "y",
    }


def peer_app() -> FastAPI:
    gateway = Gateway()
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "psycopg": psycopg.pq.__impl__}

    @app.post("/v1/requests", status_code=201)
    def submit(body: BareBody) -> dict[str, str]:
        return {"id": str(gateway.submit(body))}

    return app
