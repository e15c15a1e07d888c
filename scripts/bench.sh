#!/usr/bin/env bash
# `make bench`: start the dev stack's Kafka and PostgreSQL (default durability), then run each
# benchmark in bench/. Each prints its numbers beside a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/jiph up --infra-only
ADMIN_URL="${DATABASE_URL:-postgresql://postgres:${JIPH_PG_ADMIN_PASSWORD:-jiph-local-admin}@127.0.0.1:55432/postgres}"
echo "== event-store append vs the eventsourcing library's PostgreSQL recorder"
.venv/bin/python bench/eventstore_append.py "$ADMIN_URL"
