#!/usr/bin/env bash
# `make cluster-faults`: the cluster stack (three brokers, two instances of each service, each in a
# network namespace of its own) from nothing, the three faults under load (bench/cluster_faults.py:
# a broker SIGKILLed, one instance of each service SIGKILLed, an instance cut off from the brokers
# for 30 s), a table of figures and test-artifacts/cluster-faults.json; then everything removed
# (processes, namespaces, bridge), whatever happened. Needs root (ip netns, nftables).
set -uo pipefail
cd "$(dirname "$0")/.."
JIPH=".venv/bin/jiph --stack cluster"
cleanup() { $JIPH down >/dev/null 2>&1 || true; }
trap cleanup EXIT
$JIPH reset --yes >/dev/null
$JIPH up || exit 1
.venv/bin/python -m bench.cluster_faults "$@"
