"""Schemathesis (current major) against each service's own OpenAPI document, every phase
(examples, coverage, fuzzing, stateful), bounded in time: no server error, no response that
breaks the documented schema. One run per role that reaches a part of the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.running_services import TokenFactory

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

#: (service, role, claims, seconds): who reaches which part of each API.
RUNS = [
    ("intake", "partner", {"partner_id": "fuzz-partner"}, 18),
    ("intake", "admin", {}, 10),
    ("triage", "triage_officer", {"clearance": "sc"}, 18),
    ("triage", "approver", {"clearance": "sc"}, 10),
    ("deployment", "deployment_manager", {"clearance": "sc"}, 18),
    ("deployment", "force_liaison", {"force": "fuzz-force"}, 10),
    ("reporting", "analyst", {"clearance": "sc"}, 15),
    ("reporting", "operator", {}, 10),
]


@pytest.mark.parametrize(
    ("service", "role", "claims", "seconds"), RUNS, ids=[f"{s}-{r}" for s, r, _, _ in RUNS]
)
def test_no_server_error_and_no_schema_violation(
    services: dict[str, str],
    token: TokenFactory,
    service: str,
    role: str,
    claims: dict[str, str],
    seconds: int,
) -> None:
    bearer = token(role, sub=f"fuzz-{role}-{uuid.uuid4().hex[:6]}", **claims)
    for _ in range(2):
        result = run_schemathesis(services[service], bearer, seconds)
        if TOOL_CRASH not in result.stdout + result.stderr:
            break
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    tally = re.search(r"Test cases:\s*\n\s*(\d+) generated, (\d+) passed\s*\n", result.stdout)
    assert tally is not None, report  # anything but "N generated, N passed" is a failure
    assert int(tally.group(1)) == int(tally.group(2)) > 0, report


#: CPython 3.11's parser can fail this way inside Hypothesis when it describes a strategy deep in a
#: worker thread's stack: a crash of the tool, not a finding. The hooks module steps around it
#: (seen in two runs of eight with the as-of parameters); should it still happen, run again once.
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
TOOL_CRASH = "SystemError: AST constructor recursion depth mismatch"


def run_schemathesis(base: str, bearer: str, seconds: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {bearer}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-time",
            str(seconds),
            "--workers",
            "2",
            "--phases",
            "examples,coverage,fuzzing,stateful",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=seconds * 4 + 60,
    )
