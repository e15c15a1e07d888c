"""The edge pieces every router of this service uses: dependencies, cursors, clearance
redaction. Commands run through `shared.api.run_command`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends

from services.deployment import handlers
from shared.api import RuntimeDep, encode_cursor, read_cursor
from shared.auth import Clearance, Principal, Role, clearance_at_least, require_roles
from shared.reference.data import load_reference_data

Manager = Annotated[Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER))]
Liaison = Annotated[Principal, Depends(require_roles(Role.FORCE_LIAISON))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Staff = Annotated[
    Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.ADMIN, Role.FORCE_LIAISON))
]


async def _deps(runtime: RuntimeDep) -> handlers.Deps:
    assert runtime.writer is not None
    return handlers.Deps(writer=runtime.writer, ref=load_reference_data())


Deps = Annotated[handlers.Deps, Depends(_deps)]


def keyset_after(cursor: str | None, time_key: str = "t") -> tuple[datetime, UUID] | None:
    return read_cursor(cursor, lambda c: (datetime.fromisoformat(c[time_key]), UUID(c["id"])))


def page(items: list[dict[str, Any]], limit: int, time_field: str, id_field: str) -> dict[str, Any]:
    """`items` was fetched with limit + 1: the extra row says there is a next page."""
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor({"t": last[time_field].isoformat(), "id": str(last[id_field])})
    return {"items": items, "next_cursor": next_cursor}


def redact(view: dict[str, Any], who: Principal) -> dict[str, Any]:
    """OFFICIAL-SENSITIVE detail is shown only to staff vetted to SC or above (DESIGN §5)."""
    if view.get("classification") == "OFFICIAL-SENSITIVE" and not clearance_at_least(
        who.clearance, Clearance.SC
    ):
        return view | {"mission": None, "redacted": ["mission"]}
    return view
