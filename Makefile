# JIPH Gateway — the two commands are `make up` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin

.PHONY: install up down status test lint bench cluster-faults kafka-outage clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock scripts/install.sh
	bash scripts/install.sh
	@touch $@

## Run the whole gateway locally: Kafka, PostgreSQL and the four services.
up: install
	$(BIN)/jiph up

down: install
	$(BIN)/jiph down

status: install
	$(BIN)/jiph status

## Start a separate test stack, run every test, stop it; non-zero if a test failed or none ran.
test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services jiph
	$(BIN)/lint-imports --no-cache

bench: install
	bash scripts/bench.sh

## The cluster stack (3 brokers, 2 instances per service, network namespaces) under faults, minutes.
cluster-faults: install
	bash scripts/cluster_faults.sh

## Kafka away for the full 30 s under the outage test (the suite's version: 10 s).
kafka-outage: install
	JIPH_KAFKA_OUTAGE_S=30 bash scripts/test.sh tests/integration/test_outages.py -k kafka

clean: down
	rm -rf .state
