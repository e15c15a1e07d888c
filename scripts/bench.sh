#!/usr/bin/env bash
# `make bench`: start the dev stack's Kafka and PostgreSQL (default durability), run the
# benchmarks that need nothing more, then start the four services and run those that measure
# the running stack. Each prints its numbers beside a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/jiph up --infra-only
ADMIN_URL="${DATABASE_URL:-postgresql://postgres:${JIPH_PG_ADMIN_PASSWORD:-jiph-local-admin}@127.0.0.1:25432/postgres}"
BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
echo "== event-store append vs the eventsourcing library's PostgreSQL recorder"
.venv/bin/python -m bench.eventstore_append "$ADMIN_URL"
echo "== projection rebuild from Kafka into PostgreSQL vs reading the same records"
.venv/bin/python -m bench.rebuild_rate "$ADMIN_URL" "$BOOTSTRAP" --events 20000
echo "== intake submissions vs a bare FastAPI + asyncpg endpoint doing one insert"
.venv/bin/python -m bench.intake_throughput "$ADMIN_URL" "$BOOTSTRAP"
.venv/bin/jiph up
echo "== idle footprint of each service vs a bare uvicorn hello world"
.venv/bin/python -m bench.idle_footprint
echo "== submission visible in reporting at 100/s vs the submission's own round trip"
.venv/bin/python -m bench.submission_to_reporting
