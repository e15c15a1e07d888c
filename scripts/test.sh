#!/usr/bin/env bash
# `make test`: start the test stack (its own Kafka ports, PostgreSQL cluster and state folder,
# never the `make up` data), run pytest, stop what was started. Exit non-zero when a test failed
# or when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
# JIPH_TEST_STACK=test-b runs a second checkout's suite beside this one (jiph/stack/config.py).
STACK=${JIPH_TEST_STACK:-test}
export JIPH_STACK=$STACK JIPH_TEST_STACK=$STACK
mkdir -p test-artifacts
JIPH=.venv/bin/jiph

cleanup() { "$JIPH" --stack "$STACK" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Helm, for the chart's tests only (not `make up`): built once with Go into ~/.cache/jiph/
# (about three minutes the first time). The tests fail and say why if it is missing.
if ! bash scripts/install_helm.sh >/dev/null; then
  echo "warning: Helm could not be built; the chart's tests will fail (scripts/install_helm.sh)" >&2
fi

started=$(date +%s)
# Every run starts from nothing: no events, topics or databases left by an earlier run.
"$JIPH" --stack "$STACK" reset --yes >/dev/null
if ! "$JIPH" --stack "$STACK" up --infra-only; then
  echo "test stack did not start" >&2
  exit 1
fi
echo "test stack up in $(( $(date +%s) - started ))s"

.venv/bin/pytest -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "no tests ran" >&2
  exit 1
fi
exit "$status"
