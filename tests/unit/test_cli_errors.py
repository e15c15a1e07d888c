"""What `jiph` says when the operator (or the machine) gets something wrong: one line on stderr,
no traceback, a non-zero exit. Run as the operator runs it (a subprocess), without a stack:
Kafka "down" is a port nothing listens on, services are stand-ins on a local port or none
(`JIPH_OPS_<SERVICE>_URL`). Cases that need a real Kafka (an unknown topic, an unknown
reference, control characters in events) are in tests/e2e/test_operator_tools.py."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jiph.errors import CommandError
from jiph.tail_command import check_types, parse_since, printable
from shared.topics import SERVICES

ROOT = Path(__file__).resolve().parents[2]
REQUEST_ID = "0190a000-0000-7000-8000-0000000000aa"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nobody() -> str:
    """A URL where nothing answers."""
    return f"http://127.0.0.1:{free_port()}"


def jiph(*args: str, urls: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIPH_OPS_")}
    env["JIPH_TOKEN"] = "not-a-real-token"  # no stack key is made or read
    for service in SERVICES:
        env[f"JIPH_OPS_{service.upper()}_URL"] = (urls or {}).get(service) or nobody()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jiph.cli",
            "--stack",
            os.environ.get("JIPH_TEST_STACK", "test"),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def said_in_one_line(run: subprocess.CompletedProcess[str], *words: str) -> str:
    assert run.returncode != 0, run
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


class Answers(http.server.BaseHTTPRequestHandler):
    """A stand-in service: GET paths answered from `self.server.answers` (JSON), else 404."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        answer: Any = self.server.answers.get(path)  # type: ignore[attr-defined]
        body = json.dumps(answer if answer is not None else {"detail": "no"}).encode()
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[tuple[str, dict[str, Any]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    server.answers = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.answers  # type: ignore[attr-defined]
    finally:
        server.shutdown()


# --- jiph tail ---------------------------------------------------------------------------------
def test_tail_refuses_a_since_that_is_not_a_time() -> None:
    run = jiph("tail", "--since", "yesterday", "--bootstrap", "127.0.0.1:1")
    said_in_one_line(run, "jiph tail:", "'yesterday'", "ISO 8601", "15m")


def test_tail_refuses_an_unknown_type_and_suggests_the_close_ones() -> None:
    run = jiph("tail", "all", "--type", "RequestSubmited", "--bootstrap", "127.0.0.1:1")
    said_in_one_line(run, "'RequestSubmited' is not an event type", "did you mean RequestSubmitted")


def test_tail_says_kafka_is_not_answering() -> None:
    run = jiph("tail", "all", "--no-follow", "--bootstrap", f"127.0.0.1:{free_port()}")
    said_in_one_line(run, "jiph tail:", "Kafka at 127.0.0.1:", "not answering")


def test_tail_refuses_a_request_that_is_neither_id_nor_reference() -> None:
    run = jiph("tail", "--request", "JIPH-26-1", "--bootstrap", "127.0.0.1:1")
    said_in_one_line(run, "'JIPH-26-1' is neither a request id", "JIPH-YYYY-NNNNNN")


def test_since_takes_iso_times_in_utc_unless_an_offset_is_named_and_durations() -> None:
    assert parse_since("2026-11-26T09:00") == datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert parse_since("2026-11-26T09:00+01:00") == datetime(2026, 11, 26, 8, tzinfo=UTC)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("1d", now) == now - timedelta(days=1)
    with pytest.raises(CommandError):
        parse_since("last tuesday")


def test_types_are_checked_against_the_catalogue() -> None:
    check_types(["RequestSubmitted", "OfficerCleared"])
    check_types(None)
    with pytest.raises(CommandError, match="did you mean OfficerCleared"):
        check_types(["OfficerCleered"])


def test_printable_escapes_what_would_drive_the_terminal() -> None:
    assert printable("plain text, ünïcode") == "plain text, ünïcode"
    assert printable("\x1b[2Jgone") == "\\x1b[2Jgone"
    assert printable("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert printable("evil\u202eexe.pdf") == "evil\\u202eexe.pdf"  # right-to-left override
    assert printable("\x07\x9b") == "\\x07\\x9b"


# --- jiph deadletters, replay ------------------------------------------------------------------
def test_deadletters_list_fails_when_no_service_answers() -> None:
    run = jiph("deadletters", "list")
    line = said_in_one_line(run, "jiph deadletters:", "no service answered")
    for service in SERVICES:
        assert service in line
    assert "no dead letters" not in run.stdout


def test_deadletters_list_names_the_services_that_did_not_answer(
    stand_in: tuple[str, dict[str, Any]],
) -> None:
    url, answers = stand_in
    answers["/v1/admin/deadletters"] = {"service": "intake", "items": []}
    run = jiph("deadletters", "list", urls={"intake": url})
    line = said_in_one_line(run, "incomplete", "triage", "deployment", "reporting")
    assert "intake" not in line
    assert run.stdout.strip() == "no dead letters in intake"


def test_deadletters_show_the_reference_beside_the_request_id(
    stand_in: tuple[str, dict[str, Any]],
) -> None:
    url, answers = stand_in
    answers["/v1/admin/deadletters"] = {
        "service": "intake",
        "items": [
            {
                "id": 7,
                "status": "parked",
                "failed_at": "2026-11-26T09:00:00",
                "key": REQUEST_ID,
                "event_type": "RequestSubmitted",
                "parked_behind": 2,
                "error": "disk quota\nexceeded",
            },
            {
                "id": 8,
                "status": "parked",
                "failed_at": "2026-11-26T09:00:01",
                "key": "policy",
                "event_type": "PolicyAdopted",
                "parked_behind": 0,
                "error": "boom",
            },
        ],
    }
    answers[f"/v1/admin/requests/{REQUEST_ID}"] = {
        "service": "intake",
        "state": {"reference": "JIPH-2026-000042", "status": "submitted"},
    }
    run = jiph("deadletters", "list", "--service", "intake", urls={"intake": url})
    assert run.returncode == 0, run.stderr
    rows = run.stdout.splitlines()
    assert "reference" in rows[0]
    first = next(r for r in rows if r.split()[1] == "7")
    assert f"{REQUEST_ID} JIPH-2026-000042" in " ".join(first.split())
    assert first.rstrip().endswith("disk quota exceeded")  # one row per dead letter
    second = next(r for r in rows if r.split()[1] == "8")
    assert " policy " in second and " - " in second


def test_deadletters_redrive_and_replay_say_the_service_is_down() -> None:
    said_in_one_line(
        jiph("deadletters", "redrive", "3", "--service", "triage"),
        "jiph deadletters:",
        "triage is not answering",
    )
    said_in_one_line(jiph("replay", "intake"), "jiph replay:", "intake is not answering")


def test_a_service_refusing_the_call_is_said_in_one_line(
    stand_in: tuple[str, dict[str, Any]],
) -> None:
    url, _ = stand_in  # answers 404 to everything
    run = jiph("deadletters", "show", "3", "--service", "triage", urls={"triage": url})
    said_in_one_line(run, "jiph deadletters:", "triage answered 404")
