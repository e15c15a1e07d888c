"""What `jiph` says when the operator (or the machine) gets something wrong: one line on stderr,
no traceback, a non-zero exit; and what it prints for people and for scripts (plain when piped,
escaped always, completion for the shell). Run as the operator runs it (a subprocess, for exit
codes and tracebacks) or in-process (Typer's CliRunner), without a stack:
Kafka "down" is a port nothing listens on, services are stand-ins on a local port or none
(`JIPH_OPS_<SERVICE>_URL`). Cases that need a real Kafka (an unknown topic, an unknown
reference, control characters in events) are in tests/e2e/test_operator_tools.py."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jiph import eventlog
from jiph.cli import COMMAND_MODULES, _commands_of, app
from jiph.console import console
from jiph.demo_client import Progress
from jiph.errors import CommandError
from jiph.stack.config import STACKS
from jiph.tail_command import check_types, parse_since, pretty, printable
from shared.catalogue.intake import RequestWithdrawn
from shared.events import Actor, Envelope
from shared.topics import INTAKE_EVENTS, SERVICES

ROOT = Path(__file__).resolve().parents[2]
REQUEST_ID = "0190a000-0000-7000-8000-0000000000aa"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nobody() -> str:
    """A URL where nothing answers."""
    return f"http://127.0.0.1:{free_port()}"


def jiph(
    *args: str,
    urls: dict[str, str] | None = None,
    stack: str | None = os.environ.get("JIPH_TEST_STACK", "test"),
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIPH_OPS_")}
    env["JIPH_TOKEN"] = "not-a-real-token"  # no stack key is made or read
    for service in SERVICES:
        env[f"JIPH_OPS_{service.upper()}_URL"] = (urls or {}).get(service) or nobody()
    env.update(extra_env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jiph.cli",
            *(["--stack", stack] if stack else []),
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
    """A stand-in service: GET paths answered from `self.server.answers` (JSON), POSTs from
    its `POST /path` entries, else 404."""

    def do_POST(self) -> None:
        self.answer(f"POST {self.path}")

    def do_GET(self) -> None:
        self.answer(self.path.split("?", 1)[0])

    def answer(self, path: str) -> None:
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


# --- usage errors: one line too, with the close matches ----------------------------------------
def test_a_mistyped_option_is_one_line_naming_the_right_one() -> None:
    run = jiph("tail", "--sinc", "1d")
    assert run.returncode == 2
    said_in_one_line(run, "jiph tail:", "--sinc", "--since", "jiph tail --help")


def test_names_from_a_fixed_set_are_refused_with_the_close_ones() -> None:
    said_in_one_line(
        jiph("--stack", "tset", "status"), "'tset' is not a stack", "did you mean test"
    )
    said_in_one_line(jiph("replay", "intak"), "'intak' is not a service", "did you mean intake")
    said_in_one_line(jiph("deadletters", "lst"), "'lst' is not an action", "did you mean list")
    run = jiph("status", stack=None, JIPH_STACK="prodution")  # the environment's, alike
    said_in_one_line(run, "'prodution' is not a stack")


# --- in-process (CliRunner): what scripts read stays plain ---------------------------------------
def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--stack", os.environ.get("JIPH_TEST_STACK", "test"), *args])


def test_token_prints_a_bare_token_for_command_substitution() -> None:
    result = invoke("token", "--role", "operator")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+\n", result.stdout), result.stdout
    assert result.stderr == ""  # not a terminal: no reminder either


def test_replay_reports_the_rebuild_and_draws_no_bar_when_not_a_terminal(
    stand_in: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, answers = stand_in
    monkeypatch.setenv("JIPH_TOKEN", "not-a-real-token")
    monkeypatch.setenv("JIPH_OPS_TRIAGE_URL", url)
    answers["POST /v1/admin/rebuild"] = {"state": "running"}
    answers["/v1/admin/rebuild"] = {
        "state": "done",
        "records_total": 40,
        "records_read": 40,
        "events_applied": 38,
        "rate_per_s": 400.0,
        "started_at": 10.0,
        "finished_at": 10.5,
        "generation": 3,
    }
    done = invoke("replay", "triage")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(
        "triage: projection rebuilt from offset 0 (40 records, 38 applied"
    )
    assert done.stderr == ""
    answers["/v1/admin/rebuild"] = {"state": "failed", "error": "relation\nmissing"}
    failed = invoke("replay", "triage")
    assert failed.exit_code == 1
    assert failed.stderr == "jiph replay: rebuild failed: relation missing\n"


def test_deadletters_list_exits_non_zero_in_process_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ports nothing listens on (the suite's own stack may be running beside this test).
    for service in SERVICES:
        monkeypatch.setenv(f"JIPH_OPS_{service.upper()}_URL", f"http://127.0.0.1:{free_port()}")
    result = invoke("deadletters", "list")
    assert result.exit_code == 1, result.output
    assert "no dead letters" not in result.stdout


def test_the_demo_draws_its_progress_bar_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run() -> str:
        bar = Progress(3)
        for step in ("offered", "submitted", "triaged"):
            bar.step(step)
        bar.finish()
        return capsys.readouterr().err

    assert run() == ""  # captured, not a terminal
    monkeypatch.setenv("FORCE_COLOR", "1")  # as a terminal would be
    drawn = run()
    assert "3/3" in drawn and "done" in drawn and "\x1b[" in drawn


# --- jiph tail: what an event carries cannot drive the terminal, coloured or not ------------------
def hostile_event(reason: str) -> eventlog.Read:
    env = Envelope.wrap(
        RequestWithdrawn(request_id=uuid.uuid4(), partner_id="p-ctl", reason=reason),
        stream_id="request-x",
        stream_version=2,
        producer="test",
        actor=Actor(subject="hub\x1b[31mstaff", role="triage_officer"),
        correlation_id="unit",
    )
    return eventlog.Read(INTAKE_EVENTS, 0, 0, {"dl_error": "bad\x9bthing"}, env, env.to_bytes())


@pytest.mark.parametrize("colour", [True, False])
def test_tail_escapes_control_characters_and_markup_of_events(colour: bool) -> None:
    hostile = "\x1b[2J\x1b]0;x\x07\r\nFAKE\u202e [bold]loud[/] :smile:"
    out = console(colour=colour)
    with out.capture() as captured:
        out.print(pretty(hostile_event(hostile), {}), soft_wrap=True)
    shown = captured.get()
    # Only Rich's own colour codes (SGR, `ESC [ ... m`) may reach the terminal.
    assert not re.search(r"\x1b(?!\[[0-9;]*m)", shown), repr(shown)
    assert ("\x1b[" in shown) == colour
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert plain.count("\n") == 1 and not any(ch in plain for ch in "\x07\r\u202e\x9b")
    assert "reason=\\x1b[2J\\x1b]0;x\\x07\\r\\nFAKE\\u202e [bold]loud[/] :smile:" in plain
    assert "error=bad\\x9bthing" in plain and "hub\\x1b[31mstaff" in plain


# --- completion -----------------------------------------------------------------------------------
def test_the_shell_completes_commands_services_and_event_types() -> None:
    script = jiph("--show-completion", "bash")
    assert script.returncode == 0 and "_JIPH_COMPLETE=complete_bash" in script.stdout

    def complete(words: str) -> list[str]:
        env = {"_JIPH_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
        result = CliRunner().invoke(app, [], env=env, prog_name="jiph")
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("jiph dead") == ["deadletters"]
    spares = sorted(name for name in STACKS if name.startswith("test-"))
    assert spares and complete("jiph --stack test-") == spares
    assert complete("jiph replay ") == ["intake", "triage", "deployment", "reporting"]
    assert complete("jiph tail --type OfficerC") == ["OfficerCleared"]
    assert complete("jiph tail intake jiph.triage.") == ["jiph.triage.events"]


# --- start-up: a command imports what it needs, not what every other command needs -------------
def test_the_root_finds_each_command_in_the_module_that_registers_it() -> None:
    for module in set(COMMAND_MODULES.values()):
        named = {name for name, where in COMMAND_MODULES.items() if where == module}
        assert set(_commands_of(module)) == named, module


def loaded_by(*args: str, heavy: tuple[str, ...]) -> tuple[str, list[str], str]:
    """(exit code, which of `heavy` were imported, stderr) of `jiph ARGS` in a new interpreter."""
    probe = (
        "import sys\n"
        "from jiph.cli import main\n"
        f"code = main({['--stack', 'test', *args]!r})\n"
        f"print(code, *[m for m in {heavy!r} if m in sys.modules])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    code, *loaded = run.stdout.split()
    return code, loaded, run.stderr


def test_a_command_starts_without_the_libraries_of_the_others() -> None:
    heavy = ("sqlalchemy", "fastapi", "aiokafka", "shared.auth", "jiph.demo", "jiph.stack.kafka")
    code, loaded, stderr = loaded_by("tail", "--since", "yesterday", heavy=heavy)
    assert "jiph tail: --since 'yesterday'" in stderr, stderr
    assert (code, loaded) == ("1", [])
    # Reading a topic takes Kafka's client, not the consumer backbone nor the services' web stack.
    code, loaded, stderr = loaded_by(
        "tail", "all", "--no-follow", "--bootstrap", f"127.0.0.1:{free_port()}", heavy=heavy
    )
    assert "not answering" in stderr, stderr
    assert (code, loaded) == ("1", ["aiokafka"])


def test_audit_verify_names_the_missing_checkpoint_key(tmp_path: Path) -> None:
    run = jiph("audit", "verify", "intake", JIPH_STATE_DIR=str(tmp_path))
    said_in_one_line(run, "jiph audit:", "no checkpoint key for intake at", str(tmp_path), "up")
    missing = tmp_path / "old-key.pem"
    run = jiph("audit", "verify", "triage", "--public-key", str(missing))
    said_in_one_line(run, "jiph audit:", f"no checkpoint key for triage at {missing}")
