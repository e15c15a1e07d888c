"""The FastAPI edge of authentication: the bearer header, the verified caller, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.issuers import TrustedIssuers
from shared.auth.principal import AuthError, Principal, Role
from shared.auth.verifier import TokenVerifier

# Declared so OpenAPI shows the Bearer scheme (and /docs an "Authorize" button); the header is
# read by get_principal itself so that "missing" and "wrong scheme" get their own messages.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A JWT from the identity provider; locally, `jiph token --role …` prints one.",
)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not authorization or not authorization.strip():
        raise AuthError(401, "missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError(401, "use the Bearer authorization scheme")
    if not token.strip():
        raise AuthError(401, "missing bearer token")
    return token.strip()


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Principal:
    """FastAPI dependency: the verified caller, from `request.app.state.token_verifier`.

    With a JWKS URL, verification may fetch keys (blocking), so it runs in the thread pool;
    with local keys it is a few hundred microseconds of CPU, done inline (a thread hop per
    request would cost more)."""
    trusted = getattr(request.app.state, "token_verifier", None)
    if not isinstance(trusted, TokenVerifier | TrustedIssuers):
        raise RuntimeError("app.state.token_verifier is not a TokenVerifier or TrustedIssuers")
    token = bearer_token(request.headers.get("authorization"))
    verifier = trusted.verifier_for(token)
    if verifier.may_block:
        return await run_in_threadpool(verifier.verify, token)
    return verifier.verify(token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency returning the caller if their role is one of `roles`, else 403."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(roles)
    listed = ", ".join(role.value for role in roles)

    async def check_role(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise AuthError(403, f"this endpoint needs one of the roles: {listed}")
        return principal

    return check_role
