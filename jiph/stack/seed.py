"""Reference data a local stack starts with, registered through the services' own APIs (so it is
in the event log like anything else): the partner organisations of `deploy/seed/partners.json`.
Benchmarks and tests register the partners they invent the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from jiph.stack.config import REPO_ROOT, StackConfig
from jiph.stack.processes import StackError
from shared.auth import load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER

PARTNERS_FILE = REPO_ROOT / "deploy" / "seed" / "partners.json"


def seed_partners(cfg: StackConfig, host: str = "127.0.0.1") -> int:
    """Register every seed partner not registered yet; returns how many were new."""
    return register_partners(cfg, json.loads(PARTNERS_FILE.read_text())["partners"], host=host)


def seed_partner_ids() -> list[str]:
    return [p["partner_id"] for p in json.loads(PARTNERS_FILE.read_text())["partners"]]


def partner(
    partner_id: str, partner_type: str = "un", organisation: str = "UN Police Division"
) -> dict[str, Any]:
    return {
        "partner_id": partner_id,
        "name": organisation,
        "partner_type": partner_type,
        "organisation": organisation,
    }


def register_partners(
    cfg: StackConfig,
    partners: Iterable[Mapping[str, Any]],
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> int:
    """POST each to intake's registry (the stack's intake, or the one on `host:port`) with a
    development admin token; a 409 means registered before. Returns how many were new; raises
    StackError on any other answer (and httpx's errors when intake does not answer)."""
    token = mint_token(
        load_or_create_dev_key(cfg.dev_key_file),
        role="admin",
        subject="jiph.seed",
        issuer=DEV_ISSUER,
        audience=AUDIENCE,
        ttl_seconds=300,
    )
    url = f"http://{host}:{port or cfg.service_ports['intake']}/v1/partners"
    added = 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for body in partners:
            answer = client.post(url, json=dict(body))
            if answer.status_code == 201:
                added += 1
            elif answer.status_code != 409:
                raise StackError(
                    f"registering partner {body['partner_id']} failed: "
                    f"{answer.status_code} {answer.text[:200]}"
                )
    return added
