"""Officers' personal data: justified reads on a need-to-know basis, the subject access export,
erasure, the retention rule and the access log (DPA 2018 ss.45, 47, 62)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from services.deployment import personal_data, privacy
from services.deployment.api_common import Admin, KeyStoreDep
from services.deployment.domain.need_to_know import MIN_JUSTIFICATION, check_justification
from services.deployment.settings import PersonalDataSettings
from services.deployment.views import (
    AccessLogPage,
    Erasure,
    OfficerPersonal,
    RetentionRun,
    SubjectAccess,
)
from shared.api import (
    CursorQuery,
    LimitQuery,
    RuntimeDep,
    TimeQuery,
    Today,
    command_context,
    command_transaction,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
)
from shared.auth import Principal, Role, require_roles
from shared.input_boundary import header_text
from shared.problems import PROBLEM_RESPONSES
from shared.redaction import Reader

log = logging.getLogger(__name__)
router = APIRouter(tags=["officers"], responses=PROBLEM_RESPONSES)

OfficerRef = Annotated[str, Path(min_length=5, max_length=40, pattern=r"^OFF-[A-Z0-9]+$")]
PersonalReader = Annotated[
    Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.FORCE_LIAISON))
]
_WHY = f"at least {MIN_JUSTIFICATION} visible characters; recorded in the access log"
Justification = Annotated[
    str,
    Header(
        alias="X-Justification",
        min_length=1,
        max_length=500,
        description=f"Why you need this officer's personal data ({_WHY})",
    ),
]
OptionalJustification = Annotated[
    str | None,
    Header(
        alias="X-Justification",
        min_length=1,
        max_length=500,
        description=f"Why the data is erased ({_WHY})",
    ),
]
PRIVATE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _why(header: str) -> str:
    """The justification as written (UTF-8 on the wire), checked for saying something."""
    return check_justification(header_text(header))


def _settings(request: Request) -> PersonalDataSettings:
    settings: PersonalDataSettings = request.app.state.personal_data_settings
    return settings


@router.get(
    "/v1/officers/{officer_ref}",
    response_model=OfficerPersonal,
    summary="An officer's personal data (need to know; justified, logged)",
)
async def read_officer(
    officer_ref: OfficerRef,
    request: Request,
    response: Response,
    who: PersonalReader,
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    justification: Justification,
) -> dict[str, Any]:
    """Name, contact and next of kin of an officer, for the deployment manager of a deployment
    the officer is on now (`403 need-to-know` for other managers) and the liaison officer of the
    officer's own force (`404` for another force's, as for an officer who does not exist).
    Needs an `X-Justification` header; each answer is recorded in the access log in the same
    transaction, with who asked, when, why, which fields and to whom they went. After an
    erasure the personal fields read `"erased"` and nothing is disclosed or logged."""
    caller = personal_data.Caller.of(who, command_context(who, request).correlation_id)
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:
            view = await personal_data.read(conn, keys, officer_ref, caller, _why(justification))
    response.headers.update(PRIVATE)
    return view


@router.get(
    "/v1/officers/{officer_ref}/subject-access",
    response_model=SubjectAccess,
    summary="Everything held about an officer (subject access, DPA 2018 s.45)",
)
async def subject_access(
    officer_ref: OfficerRef,
    request: Request,
    response: Response,
    who: Admin,
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    justification: Justification,
) -> dict[str, Any]:
    """For the hub's data protection officer answering the officer's own request: their personal
    data, offers, deployments and bookings, every event about them (with the role of who
    recorded it) and the access log of who consulted their data. Logged as an `export` to the
    data subject."""
    caller = personal_data.Caller.of(who, command_context(who, request).correlation_id)
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:
            view = await personal_data.subject_access(
                conn, keys, officer_ref, caller, _why(justification), Reader.of(who)
            )
    response.headers.update(PRIVATE)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="subject-access-{officer_ref}.json"'
    )
    return view


@router.delete(
    "/v1/officers/{officer_ref}/personal-data",
    response_model=Erasure,
    summary="Erase an officer's personal data",
)
async def erase_officer(
    officer_ref: OfficerRef,
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    justification: OptionalJustification = None,
) -> dict[str, Any]:
    """Destroys the officer's key on the key store (crypto-shredding): their personal data
    becomes unreadable in every copy (event store, topics, projections, dead letters, backups)
    without rewriting history. Deployments stay intact; the officer stays known by
    `officer_ref`. Recorded in the access log."""
    caller = personal_data.Caller.of(who, command_context(who, request).correlation_id)
    why = justification if justification is not None else "erasure of personal data"
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:
            erased_at, log_id = await personal_data.erase(
                conn,
                keys,
                officer_ref,
                caller,
                _why(why),
            )
    log.info("personal data of %s erased (access log %d)", officer_ref, log_id)
    return {"officer_ref": officer_ref, "erased_at": erased_at, "access_log_id": log_id}


@router.post(
    "/v1/admin/retention",
    response_model=RetentionRun,
    summary="Run the retention rule now",
    tags=["operations"],
)
async def run_retention(
    request: Request,
    _: Admin,
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    today: Today,
    force: Annotated[str | None, Query(max_length=80, description="Only this force's")] = None,
) -> dict[str, Any]:
    """Erases the personal data of every officer whose last tour (or offer) ended more than the
    retention period ago (`JIPH_DEPLOYMENT_RETENTION_DAYS`): what the service also does by
    itself every `JIPH_DEPLOYMENT_RETENTION_INTERVAL_S`. Each erasure is in the access log."""
    days = _settings(request).retention_days
    done = await personal_data.retention_pass(
        runtime.engine, keys, today=today, retention_days=days, force=force
    )
    return {
        "retention_days": days,
        "cutoff": done.cutoff,
        "erased": done.erased,
        "remaining": done.remaining,
    }


@router.get(
    "/v1/access-log", response_model=AccessLogPage, summary="Who read or erased personal data"
)
async def access_log(
    who: Admin,
    runtime: RuntimeDep,
    officer_ref: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Only this subject")] = None,
    action: Annotated[Literal["read", "export", "erasure"] | None, Query()] = None,
    since: Annotated[TimeQuery, Query(description="On or after (ISO 8601)")] = None,
    until: Annotated[TimeQuery, Query(description="Before (ISO 8601)")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Every read, export and erasure of officers' personal data, newest first."""
    before = read_cursor(cursor, lambda c: int(c["id"]))
    filters = privacy.AccessLogFilters(officer_ref, actor, action, since, until)
    async with runtime.engine.connect() as conn:
        items = await privacy.access_log_page(conn, filters, before_id=before, limit=limit + 1)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor({"id": items[-1]["id"]})
    return {"items": items, "next_cursor": next_cursor}
