"""Bearer-token authentication and role checks.

Tokens are JWTs verified against an algorithm allow-list (never `none`), with `exp`, `iss`, `aud`
and `sub` required and a `kid` that must name a known key. The header's algorithm must match the
key's type, which shuts out the classic confusion attack (an HS256 token "signed" with a public
key as the HMAC secret). Development signs with a local ES256 key (`jiph token`); production
verifies against a JWKS URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

LEEWAY_S = 30
ASYMMETRIC = {"ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA"}


class Role(StrEnum):
    PARTNER = "partner"
    TRIAGE_OFFICER = "triage_officer"
    APPROVER = "approver"
    MINISTER = "minister"
    DEPLOYMENT_MANAGER = "deployment_manager"
    FORCE_LIAISON = "force_liaison"
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMIN = "admin"


class Clearance(StrEnum):
    NONE = "none"
    CTC = "ctc"
    SC = "sc"
    DV = "dv"


_CLEARANCE_ORDER = list(Clearance)


def clearance_at_least(have: str | None, need: Clearance) -> bool:
    try:
        return _CLEARANCE_ORDER.index(Clearance(have or "none")) >= _CLEARANCE_ORDER.index(need)
    except ValueError:
        return False


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    partner_id: str | None = None
    force: str | None = None
    clearance: Clearance = Clearance.NONE
    name: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role != Role.PARTNER


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = "unauthenticated" if status == 401 else "forbidden"


# --- development key ------------------------------------------------------------------------
@dataclass(frozen=True)
class DevKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
                "y": _b64(numbers.y.to_bytes(32, "big"))}  # fmt: skip

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [{**self.public_jwk(), "kid": self.kid, "alg": "ES256", "use": "sig"}]}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def load_or_create_dev_key(path: Path) -> DevKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process just made
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    partial = DevKey(key, "")
    return DevKey(key, _thumbprint(partial.public_jwk()))


def mint_token(
    key: DevKey, *, role: Role, subject: str, issuer: str, audience: str, ttl_seconds: int = 3600,
    partner_id: str | None = None, force: str | None = None, clearance: str | None = None,
    name: str | None = None,
) -> str:  # fmt: skip
    if role == Role.PARTNER and not partner_id:
        raise ValueError("a partner token needs --partner (the partner_id claim)")
    if role == Role.FORCE_LIAISON and not force:
        raise ValueError("a force_liaison token needs --force (the force claim)")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "role": role.value, "iss": issuer, "aud": audience,
                              "iat": now, "nbf": now, "exp": now + ttl_seconds,
                              "jti": str(uuid.uuid4())}  # fmt: skip
    for claim, value in (("partner_id", partner_id), ("force", force),
                         ("clearance", clearance), ("name", name)):  # fmt: skip
        if value:
            claims[claim] = value
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


# --- verification ---------------------------------------------------------------------------
def _key_family(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ES"
    if isinstance(key, rsa.RSAPublicKey):
        return "RS"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed"
    return "HS"


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str] | None = None,
        keys: dict[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> None:
        algorithms = list(algorithms or ["ES256"])
        if any(a.lower() == "none" for a in algorithms):
            raise ValueError("'none' is never an accepted algorithm")
        if not set(algorithms) <= ASYMMETRIC:
            raise ValueError(f"only asymmetric algorithms are accepted: {sorted(ASYMMETRIC)}")
        if (keys is None) == (jwks_url is None):
            raise ValueError("give exactly one of keys (development) or jwks_url (production)")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.keys = keys or {}
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None

    def _key(self, kid: str | None) -> Any:
        if not kid:
            raise AuthError(401, "token has no key id (kid)")
        if self.jwks is not None:
            try:
                return self.jwks.get_signing_key(kid).key
            except jwt.PyJWKClientError as exc:
                raise AuthError(401, f"token key id is not known: {exc}") from exc
        if kid not in self.keys:
            raise AuthError(401, "token key id is not known")
        return self.keys[kid]

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(401, "malformed token") from exc
        alg = str(header.get("alg", ""))
        if alg not in self.algorithms:
            raise AuthError(401, f"token algorithm {alg or 'none'} is not accepted")
        key = self._key(header.get("kid"))
        if not alg.startswith(_key_family(key)):
            raise AuthError(401, "token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(401, "token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(401, "token audience is not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(401, "token issuer is not accepted") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(401, f"token lacks the {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError(401, "token signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(401, f"token refused: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(claims.get("role"))
    except ValueError as exc:
        raise AuthError(401, "token has no known role") from exc
    if role == Role.PARTNER and not claims.get("partner_id"):
        raise AuthError(401, "partner token lacks the partner_id claim")
    if role == Role.FORCE_LIAISON and not claims.get("force"):
        raise AuthError(401, "force liaison token lacks the force claim")
    try:
        clearance = Clearance(claims.get("clearance") or "none")
    except ValueError as exc:
        raise AuthError(401, "token has an unknown clearance") from exc
    return Principal(subject=str(claims["sub"]), role=role, partner_id=claims.get("partner_id"),
                     force=claims.get("force"), clearance=clearance, name=claims.get("name"))  # fmt: skip


# --- FastAPI edge ---------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="`jiph token --role …` prints one locally")


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        header = request.headers.get("authorization")
        raise AuthError(401, "missing bearer token" if not header else "use the Bearer scheme")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Any:
    allowed = ", ".join(r.value for r in roles)

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise AuthError(403, f"this endpoint needs one of the roles: {allowed}")
        return principal

    return check
