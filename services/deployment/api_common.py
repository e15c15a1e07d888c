"""The edge pieces every router of this service uses: dependencies, cursors, need-to-know.
Commands run through `shared.api.run_command`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from services.deployment import handlers
from services.deployment.keystore import KeyStore
from shared.api import RuntimeDep, encode_cursor, read_cursor
from shared.auth import Principal, Role, require_roles
from shared.redaction import Reader, shown_to
from shared.reference.data import load_reference_data

Manager = Annotated[Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER))]
Liaison = Annotated[Principal, Depends(require_roles(Role.FORCE_LIAISON))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Staff = Annotated[
    Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.ADMIN, Role.FORCE_LIAISON))
]


async def _keystore(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keystore
    return keys


KeyStoreDep = Annotated[KeyStore, Depends(_keystore)]


async def _deps(runtime: RuntimeDep, keys: KeyStoreDep) -> handlers.Deps:
    assert runtime.writer is not None
    return handlers.Deps(writer=runtime.writer, ref=load_reference_data(), keys=keys)


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


def shown(view: dict[str, Any], who: Principal) -> dict[str, Any]:
    """The view as this reader may see it (`shared.redaction`)."""
    return shown_to(Reader.of(who), view.get("classification"), view)
