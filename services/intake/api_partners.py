"""The partner registry: hub administrators register partner organisations, correct them and
(de)activate them; staff read them. Every change is an event on `jiph.intake.events`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import credentials, handlers, partners
from services.intake.commands import ChangePartnerStatus, RegisterPartner, UpdatePartner
from services.intake.directory import PartnerDirectory, find_partner
from services.intake.tables import partners as partners_table
from services.intake.views import PartnerAccepted, PartnerCredentials, PartnerList, PartnerView
from shared.api import IdempotencyKey, RuntimeDep, run_command
from shared.auth import Principal, Role, require_roles
from shared.commands import Writer
from shared.events import Envelope, EventData
from shared.problems import PROBLEM_RESPONSES, Problem, conflict, not_found

router = APIRouter(prefix="/v1/partners", tags=["partners"], responses=PROBLEM_RESPONSES)
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
StaffReader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.ADMIN,
            Role.OPERATOR,
            Role.ANALYST,
            Role.TRIAGE_OFFICER,
            Role.APPROVER,
            Role.MINISTER,
            Role.DEPLOYMENT_MANAGER,
        )
    ),
]
PartnerIdPath = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z0-9.-]+$")]


async def _writer(runtime: RuntimeDep) -> Writer:
    assert runtime.writer is not None
    return runtime.writer


WriterDep = Annotated[Writer, Depends(_writer)]


def _answer(request: Request, partner_id: str) -> Any:
    async def answer(conn: AsyncConnection, _: list[Envelope], token: str) -> tuple[Any, str]:
        directory: PartnerDirectory = request.app.state.partner_directory
        directory.forget(partner_id)  # this process reads the change at once
        found = await find_partner(conn, partner_id)
        assert found is not None  # projected inline in this transaction
        body = PartnerAccepted(partner=PartnerView(**found.as_json()), consistency_token=token)
        return body.model_dump(mode="json"), f"/v1/partners/{partner_id}"

    return answer


@router.post("", status_code=201, response_model=PartnerAccepted, summary="Register a partner")
async def register_partner(
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: Annotated[RegisterPartner, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a partner organisation: tokens whose `partner_id` claim names it may then
    submit requests, whose partner type and requesting body come from here. `409
    partner-exists` if the id is taken."""
    return await run_command(
        request,
        runtime,
        who,
        lambda conn, ctx: handlers.register_partner(conn, writer, body, ctx),
        _answer(request, body.partner_id),
        body=body,
        idempotency_key=idempotency_key,
        status=201,
    )


@router.get("", response_model=PartnerList, summary="Registered partners")
async def list_partners(
    _: StaffReader,
    runtime: RuntimeDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    partner_type: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """Every registered partner, by id (the registry is small: no pages)."""
    query = sa.select(partners_table).order_by(partners_table.c.partner_id)
    if active is not None:
        query = query.where(partners_table.c.active == active)
    if partner_type is not None:
        query = query.where(partners_table.c.partner_type == partner_type)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {"items": [PartnerView.model_validate(r._mapping) for r in rows]}


@router.get("/{partner_id}", response_model=PartnerView, summary="One partner")
async def get_partner(partner_id: PartnerIdPath, _: StaffReader, runtime: RuntimeDep) -> Any:
    async with runtime.engine.connect() as conn:
        found = await find_partner(conn, partner_id)
    if found is None:
        raise not_found("partner")
    return found.as_json()


async def _change(
    request: Request,
    who: Principal,
    runtime: RuntimeDep,
    writer: Writer,
    partner_id: str,
    decide: Callable[[partners.Partner], list[EventData]],
    body: Any,
    key: str | None,
) -> JSONResponse:
    return await run_command(
        request,
        runtime,
        who,
        lambda conn, ctx: handlers.change_partner(conn, writer, partner_id, decide, ctx),
        _answer(request, partner_id),
        body=body,
        idempotency_key=key,
    )


@router.patch("/{partner_id}", response_model=PartnerAccepted, summary="Correct a partner")
async def update_partner(
    partner_id: PartnerIdPath,
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: UpdatePartner,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change a partner's name, type, organisation or country (the fields given). Requests
    already submitted keep the values they were submitted with."""
    changes = body.as_changes()
    return await _change(
        request,
        who,
        runtime,
        writer,
        partner_id,
        lambda s: partners.decide_update(s, changes, handlers.KNOWN_PARTNER_TYPES),
        body,
        idempotency_key,
    )


@router.post(
    "/{partner_id}/deactivation", response_model=PartnerAccepted, summary="Deactivate a partner"
)
async def deactivate_partner(
    partner_id: PartnerIdPath,
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: ChangePartnerStatus,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The partner's tokens are refused from now on (403 `partner-inactive`; within seconds on
    every instance); its requests stay as they are."""
    return await _change(
        request,
        who,
        runtime,
        writer,
        partner_id,
        lambda s: partners.decide_deactivate(s, body.reason),
        body,
        idempotency_key,
    )


@router.post(
    "/{partner_id}/reactivation", response_model=PartnerAccepted, summary="Reactivate a partner"
)
async def reactivate_partner(
    partner_id: PartnerIdPath,
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: ChangePartnerStatus,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _change(
        request,
        who,
        runtime,
        writer,
        partner_id,
        lambda s: partners.decide_reactivate(s, body.reason),
        body,
        idempotency_key,
    )


@router.post(
    "/{partner_id}/credentials",
    response_model=PartnerCredentials,
    summary="Issue the partner's sign-in credentials",
    responses={503: {"description": "The identity provider cannot be reached"}},
)
async def issue_credentials(
    partner_id: PartnerIdPath, _: Admin, request: Request, runtime: RuntimeDep
) -> Any:
    """Onboarding: the partner's client at the identity provider (created if missing) and a new
    client secret, **shown once** (the previous secret stops working: this is also how a secret
    is rotated). Give both to the partner's technical contact over a trusted channel; their
    system then obtains tokens with the client-credentials grant (`example`). A deactivated
    partner gets none (`409 partner-inactive`)."""
    async with runtime.engine.connect() as conn:
        found = await find_partner(conn, partner_id)
    if found is None:
        raise not_found("partner")
    if not found.active:
        raise conflict("the partner is deactivated: reactivate it first", "partner-inactive")
    settings = runtime.settings
    if not credentials.configured(settings):
        raise Problem(
            503,
            "identity-provider-not-configured",
            "No identity provider",
            "this intake has no identity provider to issue credentials at (OIDC_ISSUER and "
            "PROVIDER_ADMIN_SECRET_FILE)",
        )
    try:
        issued = await credentials.issue(settings, partner_id)
    except credentials.ProviderUnavailable as exc:
        raise Problem(
            503,
            "identity-provider-unavailable",
            "Identity provider unavailable",
            f"the identity provider could not issue credentials just now ({exc}); retry",
            headers={"Retry-After": "5"},
        ) from exc
    return PartnerCredentials(**vars(issued))
