#!/usr/bin/env bash
# `make bench`: start the dev stack's Kafka and PostgreSQL (default durability), then run each
# benchmark in bench/. Each prints its numbers beside a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/jiph up --infra-only
ADMIN_URL="${DATABASE_URL:-postgresql://postgres:${JIPH_PG_ADMIN_PASSWORD:-jiph-local-admin}@127.0.0.1:55432/postgres}"
echo "== event-store append vs the eventsourcing library's PostgreSQL recorder"
.venv/bin/python -m bench.eventstore_append "$ADMIN_URL"
echo "== projection rebuild from Kafka into PostgreSQL vs reading the same records"
.venv/bin/python -m bench.rebuild_rate "$ADMIN_URL" "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}" --events 20000
