#!/usr/bin/env bash
# `make bench`: every benchmark on a stack of its own (`bench`: its own ports, PostgreSQL cluster
# and state, the dev stack's durability), reset before each group and after the last, so that
# none meets what another wrote. First Kafka and PostgreSQL alone (the four services stopped: they
# would consume what the benchmarks write), then the whole stack started afresh for those that
# measure it. Each prints its numbers beside a baseline measured in the same run; the closing
# table collects every `target:` line (bench/targets.py). Output also in test-artifacts/bench.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export JIPH_STACK=bench
# The identity provider is not measured; the services trust the stack's own development key.
export JIPH_IDENTITY=off
JIPH=.venv/bin/jiph
LOG=test-artifacts/bench.log
mkdir -p test-artifacts
: >"$LOG"
trap '"$JIPH" reset --yes >/dev/null 2>&1 || true' EXIT

stack_value() {
  .venv/bin/python -c "from jiph.stack.config import stack_config; from jiph.stack.postgres import managed_admin_url; c = stack_config(); print($1)"
}
ADMIN_URL=$(stack_value "managed_admin_url(c)")
BOOTSTRAP=$(stack_value "f'127.0.0.1:{c.kafka_port}'")

fresh_stack() {
  "$JIPH" reset --yes >/dev/null
  "$JIPH" up "$@" >/dev/null
}
run() {
  echo "== $1" | tee -a "$LOG"
  shift
  .venv/bin/python -m "$@" 2>&1 | tee -a "$LOG"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo); load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
fresh_stack --infra-only
run "event-store append vs the eventsourcing library's PostgreSQL recorder" \
  bench.eventstore_append "$ADMIN_URL"
run "projection rebuild from Kafka into PostgreSQL vs reading the same records" \
  bench.rebuild_rate "$ADMIN_URL" "$BOOTSTRAP" --events 20000
run "intake submissions vs a bare FastAPI + asyncpg endpoint and the eventsourcing peer" \
  bench.intake_throughput "$ADMIN_URL" "$BOOTSTRAP"
run "where intake's CPU goes (py-spy) and its round trips per submission" \
  bench.profile_intake "$ADMIN_URL" "$BOOTSTRAP"
fresh_stack
run "idle footprint of each service vs a bare uvicorn hello world" bench.idle_footprint
run "submission visible in reporting at 100/s vs the submission's own round trip" \
  bench.submission_to_reporting

echo "== summary ($(grep -c '^target:' "$LOG") targets; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
grep '^target:' "$LOG" | sed -E 's/^target: (.*): (.*) (PASS|MISS)$/\3  \1: \2/' | sort -s -k1,1
