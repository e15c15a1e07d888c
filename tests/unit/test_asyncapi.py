"""Every service's `/asyncapi.json`, checked by the official AsyncAPI parser (`@asyncapi/parser`).

The documents are made in-process by `shared.service.catalogue_of`, the function each service
serves at `/asyncapi.json`. The parser is installed once with npm into
~/.cache/jiph/asyncapi-parser (Node 20 is needed; nothing is skipped: a missing tool fails and
says what is missing).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.deployment.main import DEFINITION as DEPLOYMENT
from services.intake.main import DEFINITION as INTAKE
from services.reporting.main import DEFINITION as REPORTING
from services.triage.main import DEFINITION as TRIAGE
from shared import topics
from shared.events import REGISTRY
from shared.service import ServiceDefinition, catalogue_of
from shared.settings import ServiceSettings

PARSER_VERSION = "3.6.6"
PARSE = Path(__file__).with_name("asyncapi_parse.cjs")
DEFINITIONS = (INTAKE, TRIAGE, DEPLOYMENT, REPORTING)
BOOTSTRAP = "kafka-0.example:9092,kafka-1.example:9092"


@functools.cache
def parser_modules() -> Path:
    """The `node_modules` holding @asyncapi/parser at PARSER_VERSION, installed when missing."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jiph"
    prefix = cache / "asyncapi-parser"
    installed = prefix / "node_modules" / "@asyncapi" / "parser" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == PARSER_VERSION:
        return prefix / "node_modules"
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "Node.js 20 and npm are needed to run @asyncapi/parser"
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            f"@asyncapi/parser@{PARSER_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return prefix / "node_modules"


def parse(documents: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each document's diagnostics from the official parser, by name."""
    files = {}
    for name, document in documents.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(document))
    run = subprocess.run(
        ["node", str(PARSE), *map(str, files.values())],
        env={**os.environ, "NODE_PATH": str(parser_modules())},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    by_file = json.loads(run.stdout)
    return {name: by_file[str(path)] for name, path in files.items()}


def document_of(definition: ServiceDefinition) -> dict[str, Any]:
    settings = ServiceSettings(
        service_name=definition.name,
        database_url="postgresql+asyncpg://unused@localhost/unused",
        kafka_bootstrap_servers=BOOTSTRAP,
        checkpoint_key_file=Path("/keys/checkpoint.pem")
        if definition.name in topics.WRITERS
        else None,
    )
    return catalogue_of(definition, settings)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {d.name: document_of(d) for d in DEFINITIONS}


def test_every_services_document_passes_the_official_parser(
    documents: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    for name, diagnostics in parse(documents, tmp_path).items():
        errors = [d for d in diagnostics if d["severity"] == 0]
        warnings = [d for d in diagnostics if d["severity"] == 1]
        assert errors == [], f"{name}: {errors}"
        assert warnings == [], f"{name}: {warnings}"


def test_the_parser_catches_a_reference_to_nowhere(tmp_path: Path) -> None:
    """The check itself: pydantic's own `#/$defs/...` refs were the original fault."""
    broken = document_of(INTAKE)
    broken["components"]["schemas"]["Envelope"]["properties"]["actor"] = {"$ref": "#/$defs/Actor"}
    errors = [d for d in parse({"broken": broken}, tmp_path)["broken"] if d["severity"] == 0]
    assert [e["code"] for e in errors] == ["invalid-ref"]


def test_servers_are_the_services_kafka_brokers(documents: dict[str, dict[str, Any]]) -> None:
    for document in documents.values():
        assert sorted(s["host"] for s in document["servers"].values()) == BOOTSTRAP.split(",")
        assert {s["protocol"] for s in document["servers"].values()} == {"kafka"}


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(action, topic) → the event types (or message names) of its messages."""
    found: dict[tuple[str, str], set[str]] = {}
    for op in document["operations"].values():
        channel_id = op["channel"]["$ref"].rsplit("/", 1)[1]
        topic = document["channels"][channel_id]["address"]
        names = {m["$ref"].rsplit("/", 1)[1].split(".v")[0] for m in op["messages"]}
        found.setdefault((op["action"], topic), set()).update(names)
    return found


def test_operations_follow_what_each_service_produces_and_consumes(
    documents: dict[str, dict[str, Any]],
) -> None:
    for definition in DEFINITIONS:
        name = definition.name
        ops = _operations(documents[name])
        own = topics.OWN_EVENTS.get(name)
        if own is not None:
            assert ops[("send", own)] == set(REGISTRY.event_types(topic=own))
            assert ops[("send", topics.checkpoint_topic(name))] == {"SignedCheckpoint"}
        else:
            assert not any(
                topic in topics.EVENT_TOPICS for action, topic in ops if action == "send"
            )
            assert ("send", topics.checkpoint_topic(name)) not in ops
        assert ops[("send", topics.deadletter_topic(name))] == {"DeadLetter"}
        assert definition.projection is not None
        received = set().union(*(v for (action, _), v in ops.items() if action == "receive"))
        assert received == set(definition.projection.event_types)
        for (action, topic), types in ops.items():
            if action == "receive":
                assert all(REGISTRY.topic_of(t) == topic for t in types)


def test_every_reference_points_into_the_document(documents: dict[str, dict[str, Any]]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for document in documents.values():
        for ref in refs(document):
            assert ref.startswith("#/"), ref
            node: Any = document
            for part in ref[2:].split("/"):
                node = node[part]
