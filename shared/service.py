"""One way to run a service: settings → engine, migrations, producer, outbox relay, projection
consumer, auth, errors, telemetry, health. Each service's `main.py` only describes itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.admin_api import admin_router
from shared.api import RateLimiter
from shared.auth import OidcProvider, TokenVerifier, TrustedIssuers, load_or_create_dev_key
from shared.auth.issuers import Verifies
from shared.backbone_tables import outbox, parked_events
from shared.browser import SecurityHeaders, add_local_docs
from shared.catalogue.document import ServiceContract, asyncapi
from shared.commands import Writer
from shared.consistency import AppliedWatcher
from shared.consumer import ProjectionApplier, ProjectionConsumer
from shared.consumer.rebuild import ProjectionRebuild
from shared.db import create_engine, migrate
from shared.eventstore import EventStore
from shared.gc_tuning import tune_for_service
from shared.history.checkpointer import Checkpointer
from shared.history.checkpoints import load_signing_key
from shared.input_boundary import InputBoundary
from shared.outbox import OutboxRelay, OutboxWake, create_producer
from shared.problems import install_problem_handlers
from shared.projection import Projection
from shared.settings import ServiceSettings
from shared.strict_query import StrictQuery
from shared.tasks import being_cancelled
from shared.telemetry import (
    add_metrics_route,
    deadletter_parked,
    instrument_app,
    outbox_backlog,
    setup_telemetry,
)

log = logging.getLogger(__name__)

GAUGE_INTERVAL_S = 5.0
#: How often `/readyz`'s view of Kafka is refreshed, and how old a last answer may be.
KAFKA_PROBE_S = 1.0
KAFKA_FRESH_S = 3.0


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    projection: Projection | None = None
    openapi_tags: Sequence[dict[str, str]] = ()
    #: For `jiph where`: what this service's read model holds about one request.
    describe_request: Callable[[AsyncConnection, UUID], Awaitable[dict[str, Any] | None]] | None = (
        None
    )
    #: Work of the service's own that runs as long as the process does (after migrations), each
    #: given the runtime: e.g. the deployment service's retention rule.
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    #: Paths (regular expressions) that take a file as their body, up to `upload_max_bytes`.
    upload_paths: Sequence[str] = ()


@dataclass
class Runtime:
    """Everything a running service holds; handlers receive the parts they need."""

    definition: ServiceDefinition
    settings: ServiceSettings
    engine: AsyncEngine
    store: EventStore
    verifier: TrustedIssuers
    #: Wakes the relay after a commit that queued outbox rows (shared/outbox.py).
    wake: OutboxWake
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    applier: ProjectionApplier | None = None
    writer: Writer | None = None  # the command path (services with a projection)
    consumer: ProjectionConsumer | None = None
    watcher: AppliedWatcher | None = None  # reads waiting for a consistency token
    rebuild: ProjectionRebuild | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    #: When Kafka last answered a metadata request (monotonic), for `/readyz`.
    kafka_seen_at: float | None = None

    async def start(self) -> None:
        await migrate(self.engine, self.definition.migrations)
        self.tasks.append(asyncio.create_task(self._run_kafka(), name="outbox-relay"))
        projection = self.definition.projection
        if projection is not None:
            self.applier = ProjectionApplier(
                self.engine,
                projection,
                service=self.definition.name,
                max_retries=self.settings.consumer_max_retries,
                store=self.store,
                wake=self.wake,
            )
            self.writer = Writer(self.store, self.applier)
            self.applier.on_applied = self.consistency_watcher().applied
            self.consumer = ProjectionConsumer(
                self.applier,
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                group_id=self.settings.group_id,
            )
            self.tasks.append(asyncio.create_task(self.consumer.run(), name="consumer"))
        self.tasks.append(asyncio.create_task(self._refresh_gauges(), name="gauges"))
        if self.settings.checkpoint_key_file is not None:
            checkpointer = Checkpointer(
                self.engine,
                self.definition.name,
                load_signing_key(
                    self.settings.checkpoint_key_file, create=self.settings.env != "production"
                ),
                self.settings.checkpoint_interval_s,
                self.wake,
            )
            self.tasks.append(asyncio.create_task(checkpointer.run(), name="checkpointer"))
        for work in self.definition.background:
            self.tasks.append(asyncio.create_task(work(self), name=getattr(work, "__name__", "")))

    def consistency_watcher(self) -> AppliedWatcher:
        if self.watcher is None:
            self.watcher = AppliedWatcher(self.engine)
        return self.watcher

    async def _refresh_gauges(self) -> None:
        """Backlog gauges read from the tables themselves, so they are right whichever process
        or operator command changed them."""
        name = self.definition.name
        while True:
            try:
                async with self.engine.connect() as conn:
                    count = sa.select(sa.func.count())
                    outbox_backlog.labels(name).set(
                        await conn.scalar(count.select_from(outbox)) or 0
                    )
                    if self.definition.projection is not None:
                        deadletter_parked.labels(name).set(
                            await conn.scalar(count.select_from(parked_events)) or 0
                        )
            except Exception as exc:  # the database is away: /readyz says so
                log.debug("could not refresh gauges: %s", exc)
            await asyncio.sleep(GAUGE_INTERVAL_S)

    async def _run_kafka(self) -> None:
        """Connect the producer (retrying while Kafka is away), then run the relay forever."""
        while self.producer is None:
            producer = create_producer(
                self.settings.kafka_bootstrap_servers, f"jiph-{self.definition.name}"
            )
            try:
                await producer.start()
                self.producer = producer
            except Exception as exc:
                log.warning("Kafka not reachable yet: %s", exc)
                await producer.stop()
                await asyncio.sleep(2.0)
        self.kafka_seen_at = time.monotonic()
        self.tasks.append(asyncio.create_task(self._watch_kafka(), name="kafka-probe"))
        self.relay = OutboxRelay(
            self.engine,
            self.producer,
            self.definition.name,
            batch_size=self.settings.relay_batch_size,
            poll_interval_s=self.settings.relay_poll_interval_s,
            kafka_reachable=self.kafka_reachable,
            renew_producer=self._new_producer,
        )
        self.wake.relay = self.relay
        await self.relay.run()

    async def _new_producer(self) -> AIOKafkaProducer:
        """A started producer in place of the relay's stale one (`OutboxRelay._renew`); the
        Kafka probe asks through it from now on."""
        producer = create_producer(
            self.settings.kafka_bootstrap_servers, f"jiph-{self.definition.name}"
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer
        return producer

    async def _watch_kafka(self) -> None:
        """Ask the brokers for metadata every second: `/readyz` says Kafka is reachable only
        while they answer (it used to be a flag set once, at start)."""
        assert self.producer is not None
        while True:
            try:
                await asyncio.wait_for(
                    self.producer.client.fetch_all_metadata(), timeout=KAFKA_FRESH_S / 2
                )
                self.kafka_seen_at = time.monotonic()
            except asyncio.CancelledError:
                if being_cancelled():
                    raise
            except Exception as exc:
                log.debug("Kafka did not answer: %s", exc)
            await asyncio.sleep(KAFKA_PROBE_S)

    def kafka_reachable(self) -> bool:
        seen = self.kafka_seen_at
        return seen is not None and time.monotonic() - seen < KAFKA_FRESH_S

    def start_rebuild(self) -> ProjectionRebuild:
        if self.definition.projection is None:
            raise RuntimeError("this service has no projection")
        if self.rebuild is None or not self.rebuild.running:
            self.rebuild = ProjectionRebuild(
                self.engine,
                self.definition.projection,
                service=self.definition.name,
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                store=self.store,
                wake=self.wake,
            )
            self.tasks.append(asyncio.create_task(self.rebuild.run(), name="rebuild"))
        return self.rebuild

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.wake.close()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        await self.engine.dispose()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether this process should take traffic, and each check's state."""
        checks: dict[str, Any] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = "ok" if self.kafka_reachable() else "unreachable"
        checks["outbox_relay"] = (
            "active" if self.relay and self.relay.active else "standby (another process holds it)"
        )
        ready = checks["database"] == "ok" and checks["kafka"] == "ok"
        if self.consumer is not None:
            assigned, checks["consumer"] = self.consumer.assignment_state()
            stopped = [t for t in self.tasks if t.done() and t.get_name() == "consumer"]
            if stopped:  # it should never end: say so rather than look assigned
                assigned, checks["consumer"] = False, "stopped (see the service's log)"
            ready = ready and assigned
        return ready, checks


def log_task_stacks() -> None:
    """`kill -USR1 <pid>`: where every task of the service is waiting, in its log (for an
    operator looking at a service that seems stuck)."""
    for task in asyncio.all_tasks():
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(chain) < 20:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        log.warning("task %s: %s", task.get_name(), " -> ".join(chain) or "(done)")


def build_verifier(settings: ServiceSettings) -> TrustedIssuers:
    """The issuers this service trusts (shared/auth/issuers.py): the OpenID Connect provider
    (`OIDC_ISSUER`) or a JWKS URL, and in development also the stack's own key (`jiph token`)."""
    trusted: dict[str, Verifies] = {}
    if settings.oidc_issuer:
        trusted[settings.oidc_issuer] = OidcProvider(
            settings.oidc_issuer, settings.jwt_audience, settings.oidc_algorithms
        )
    if settings.jwks_url:
        trusted[settings.jwt_issuer] = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=settings.jwt_algorithms,
            jwks_url=settings.jwks_url,
        )
    elif settings.dev_key_file is not None and settings.env == "development":
        key = load_or_create_dev_key(settings.dev_key_file)
        trusted[settings.jwt_issuer] = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=settings.jwt_algorithms,
            keys={key.kid: key.public_key},
        )
    if not trusted:
        raise RuntimeError("set OIDC_ISSUER or JWKS_URL (or DEV_KEY_FILE in development)")
    return TrustedIssuers(trusted)


def catalogue_of(definition: ServiceDefinition, settings: ServiceSettings) -> dict[str, Any]:
    """The AsyncAPI document `/asyncapi.json` serves: the catalogue, the brokers this service
    talks to, and what it sends and receives (as `Runtime.start` wires it)."""
    projection = definition.projection
    return asyncapi(
        ServiceContract(
            name=definition.name,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            consumes=projection.event_types if projection is not None else (),
            group_id=settings.group_id if projection is not None else None,
            dead_letters=projection is not None,
            checkpoints=settings.checkpoint_key_file is not None,
        )
    )


def create_service_app(definition: ServiceDefinition, settings: ServiceSettings) -> FastAPI:
    setup_telemetry(definition.name)
    engine = create_engine(settings.database_url)
    runtime = Runtime(
        definition=definition,
        settings=settings,
        engine=engine,
        store=EventStore(producer=definition.name),
        verifier=build_verifier(settings),
        wake=OutboxWake(engine),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_for_service()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, log_task_stacks)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        openapi_tags=list(definition.openapi_tags),
        docs_url=None,  # served from the service's own files: shared.browser
        redoc_url=None,
        dependencies=[StrictQuery],  # an unknown query parameter is a 422, on every operation
    )
    app.state.runtime = runtime
    app.state.token_verifier = runtime.verifier
    app.state.write_limiter = RateLimiter(settings.write_rate_per_minute)
    install_problem_handlers(app)
    app.add_middleware(
        InputBoundary,
        max_bytes=settings.max_body_bytes,
        uploads=definition.upload_paths,
        upload_max_bytes=settings.upload_max_bytes,
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    add_local_docs(app)
    instrument_app(app)
    add_metrics_route(app)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        """200 while the process runs; says nothing about its dependencies (see `/readyz`)."""
        return {"status": "ok", "service": definition.name}

    @app.get(
        "/readyz", tags=["operations"], summary="Database and Kafka reachable, consumer assigned"
    )
    async def readyz() -> JSONResponse:
        """200 when the database and Kafka answer and the consumer has partitions (a rebalance
        after the first assignment is tolerated for 30 s: reads keep working meanwhile); else
        503 with the check that failed."""
        ready, checks = await runtime.readiness()
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app.include_router(admin_router)

    document = catalogue_of(definition, settings)

    @app.get("/asyncapi.json", tags=["operations"], summary="The event catalogue (AsyncAPI 3.0)")
    async def catalogue() -> dict[str, Any]:
        """Every event type the gateway publishes, generated from the code, with this service's
        brokers, what it sends (events, dead letters, signed checkpoints) and what it receives."""
        return document

    for router in definition.routers:
        app.include_router(router)
    return app
