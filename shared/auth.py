"""Bearer-token authentication and role checks for every `/v1` endpoint.

Why it is built this way:

* **Algorithm allow-list.** The token's own header names its algorithm, so an attacker chooses
  it. We accept only the algorithms configured here; `none` can never be configured, and
  symmetric (HS*) algorithms may not be mixed with asymmetric ones.
* **Key confusion.** The classic attack takes a service that verifies RS256/ES256 tokens and
  sends an HS256 token "signed" with the *public* key as the HMAC secret. Keys are therefore
  held as typed `cryptography` public-key objects (never PEM strings or bytes), and the header's
  algorithm must match the key's type and curve before any verification is attempted. PyJWT
  refuses this too; we check explicitly so the guarantee does not hang on a library default.
* **`kid`.** Every token names its key. An unknown `kid` is refused outright; key material
  offered by the token itself (`jwk`, `jku`, `x5u` headers) is never used.
* **Required claims.** `exp`, `iss`, `aud` and `sub` must be present and right (30 s leeway
  for clock skew); `role` must be a known role, with `partner_id` for partners and `force`
  for force liaisons.

Development signs tokens with a local ES256 key (`load_or_create_dev_key`, `mint_token`,
`jiph token`); production verifies against the identity provider's JWKS URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeAlias

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

log = logging.getLogger(__name__)

LEEWAY_S = 30
#: Verified tokens remembered (see TokenVerifier.verify): how many, and how long at most.
VERIFIED_CACHE_SIZE = 10_000
VERIFIED_TTL_S = 60.0
#: Minimum HMAC secret length: RFC 7518 §3.2 asks for at least the hash size.
MIN_HS_SECRET_BYTES = 32

_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
ASYMMETRIC_ALGORITHMS = frozenset({*_EC_CURVES, *_RSA_ALGS, "EdDSA"})
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})

PublicKey: TypeAlias = (
    ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


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
    """Vetting levels, lowest first: declaration order is the ordering."""

    NONE = "none"
    CTC = "ctc"
    SC = "sc"
    DV = "dv"


_CLEARANCE_RANK = {level: rank for rank, level in enumerate(Clearance)}


def clearance_at_least(have: str | None, need: Clearance) -> bool:
    """True if `have` (a claim value; missing means none) is at or above `need`.

    An unrecognised value ranks below everything, so a typo never grants access."""
    try:
        level = Clearance(have or Clearance.NONE)
    except ValueError:
        return False
    return _CLEARANCE_RANK[level] >= _CLEARANCE_RANK[need]


@dataclass(frozen=True)
class Principal:
    """The verified caller of one request."""

    subject: str
    role: Role
    partner_id: str | None = None
    force: str | None = None
    clearance: Clearance = Clearance.NONE
    name: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role is not Role.PARTNER


class AuthError(Exception):
    """401 (who are you?) or 403 (you may not); rendered as problem+json by `shared.problems`."""

    def __init__(self, status: int, detail: str) -> None:
        if status not in (401, 403):
            raise ValueError(f"AuthError status must be 401 or 403, not {status}")
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = "unauthenticated" if status == 401 else "forbidden"


# --- development key ---------------------------------------------------------------------------
def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _ec_public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The JWK members of a P-256 public key (the only curve development keys use)."""
    size = 32
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(size, "big")),
        "y": _b64url(numbers.y.to_bytes(size, "big")),
    }


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint of an EC JWK: SHA-256 of its required members, sorted, no spaces."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True)
class DevKey:
    """The development signing key (ES256, P-256) and its public half and key id."""

    private_key: ec.EllipticCurvePrivateKey
    public_key: ec.EllipticCurvePublicKey
    kid: str

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> DevKey:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the development key must be on curve P-256 (ES256)")
        public = private_key.public_key()
        return cls(private_key, public, jwk_thumbprint(_ec_public_jwk(public)))

    def public_jwk(self) -> dict[str, str]:
        return {**_ec_public_jwk(self.public_key), "kid": self.kid, "alg": "ES256", "use": "sig"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public key as a JWKS document, as an identity provider would publish it."""
        return {"keys": [self.public_jwk()]}


def load_or_create_dev_key(path: Path) -> DevKey:
    """Load the PEM private key at `path`, creating it (mode 0600) on first use.

    Creation is atomic and never replaces a key another process created meanwhile, so services
    started together all end up with the same key."""
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("development key %s is readable by others (mode %o)", path, mode)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return DevKey.from_private_key(key)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file 0600, so the key is never readable by others, not even briefly.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() is atomic and fails if the name exists: the first process to get there wins.
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            # Some filesystems have no hard links; replace() is still atomic, only not exclusive.
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def mint_token(
    key: DevKey,
    *,
    role: Role | str,
    subject: str,
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    partner_id: str | None = None,
    force: str | None = None,
    clearance: Clearance | str | None = None,
    name: str | None = None,
) -> str:
    """An ES256 token signed with the development key, with `kid` in its header."""
    role = Role(role)
    if role is Role.PARTNER and not partner_id:
        raise ValueError("a partner token needs a partner_id")
    if role is Role.FORCE_LIAISON and not force:
        raise ValueError("a force_liaison token needs a force")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    optional = {
        "partner_id": partner_id,
        "force": force,
        "clearance": Clearance(clearance).value if clearance else None,
        "name": name,
    }
    claims.update({claim: value for claim, value in optional.items() if value})
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


# --- verification ------------------------------------------------------------------------------
def _key_fits(algorithm: str, key: object) -> bool:
    """Whether `key` is the kind of key `algorithm` is verified with (type and curve)."""
    if algorithm in _EC_CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, _EC_CURVES[algorithm]
        )
    if algorithm in _RSA_ALGS:
        return isinstance(key, rsa.RSAPublicKey)
    if algorithm == "EdDSA":
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    if algorithm in SYMMETRIC_ALGORITHMS:
        return isinstance(key, bytes)
    return False


class TokenVerifier:
    """Verifies bearer tokens and turns their claims into a `Principal`.

    Give exactly one key source: `keys` (kid → public key; development), `jwks_url`
    (production) or, only with HS* `algorithms`, `hs_secret`."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str] | None = None,
        keys: Mapping[str, PublicKey] | None = None,
        jwks_url: str | None = None,
        hs_secret: bytes | None = None,
        jwks_timeout_s: float = 5.0,
    ) -> None:
        algs = list(algorithms) if algorithms is not None else ["ES256"]
        _check_algorithms(algs, hs_secret)
        if sum(source is not None for source in (keys, jwks_url, hs_secret)) != 1:
            raise ValueError("give exactly one of keys, jwks_url or hs_secret")
        if keys is not None:
            if not keys:
                raise ValueError("keys is empty: no token could ever be verified")
            for kid, key in keys.items():
                # A PEM string or bytes here would become an HMAC secret in the wrong hands.
                if not isinstance(kid, str) or not isinstance(key, PublicKey):
                    raise ValueError(f"key {kid!r} must be a cryptography public-key object")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algs
        self._keys: dict[str, PublicKey] = dict(keys or {})
        self._hs_secret = hs_secret
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._verified_lock = threading.Lock()  # verify() runs in threads with a JWKS URL
        # The whole key set is cached for 5 minutes and an unknown kid triggers at most one
        # refetch per 30 s cooldown (PyJWT's default). Per-kid caching stays off: it never
        # expires, so a key withdrawn from the set would be trusted until restart.
        self.may_block = jwks_url is not None  # verify() may fetch the key set over HTTP
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=300, timeout=jwks_timeout_s)
            if jwks_url is not None
            else None
        )

    def verify(self, token: str) -> Principal:
        """The principal the token speaks for; `AuthError(401, ...)` if it is not acceptable.

        A token verified once is remembered (its exact text) until it expires, at most for
        VERIFIED_TTL_S: a partner's client sends the same token with every request, and the
        signature check is a tenth of a submission's CPU. A key withdrawn from a JWKS set
        thus stops being trusted within VERIFIED_TTL_S, as the key-set cache allows anyway."""
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None and now < remembered[1]:
            return remembered[0]
        claims = self._decode(token)
        principal = principal_from_claims(claims)
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # the oldest
            self._verified[token] = (principal, min(claims["exp"] + LEEWAY_S, now + VERIFIED_TTL_S))
        return principal

    def _decode(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature, algorithm, key and claims all check out."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(401, "malformed token") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthError(401, f"token algorithm {alg!r} is not accepted")
        key = self._key_for(header.get("kid"))
        if not _key_fits(alg, key):
            raise AuthError(401, "token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(401, "token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError(401, "token is not valid yet") from exc
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
        if not isinstance(claims.get("exp"), int | float):
            raise AuthError(401, "token claim exp must be a number")
        return claims

    def _key_for(self, kid: object) -> PublicKey | bytes:
        if self._hs_secret is not None:
            return self._hs_secret  # one shared secret: a kid would add nothing
        if not isinstance(kid, str) or not kid:
            raise AuthError(401, "token has no key id (kid)")
        if self._jwks is None:
            if kid not in self._keys:
                raise AuthError(401, "token key id is not known")
            return self._keys[kid]
        try:
            key: PublicKey = self._jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS fetch failed: %s", exc)
            raise AuthError(401, "the signing key set is unavailable; try again shortly") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthError(401, "token key id is not known") from exc
        except jwt.PyJWTError as exc:  # a malformed key set
            log.warning("JWKS unusable: %s", exc)
            raise AuthError(401, "the signing key set is unavailable; try again shortly") from exc
        return key


def _check_algorithms(algorithms: list[str], hs_secret: bytes | None) -> None:
    if not algorithms:
        raise ValueError("the algorithm allow-list is empty")
    if any(a.lower() == "none" for a in algorithms):
        raise ValueError("'none' is never an accepted algorithm")
    unknown = set(algorithms) - ASYMMETRIC_ALGORITHMS - SYMMETRIC_ALGORITHMS
    if unknown:
        raise ValueError(f"unknown algorithms: {sorted(unknown)}")
    symmetric = set(algorithms) & SYMMETRIC_ALGORITHMS
    if symmetric and len(symmetric) != len(set(algorithms)):
        raise ValueError("HS* algorithms may not be mixed with asymmetric ones (key confusion)")
    if symmetric and hs_secret is None:
        raise ValueError("HS* algorithms need an explicit hs_secret")
    if hs_secret is not None:
        if not symmetric:
            raise ValueError("hs_secret is only for HS* algorithms")
        if len(hs_secret) < MIN_HS_SECRET_BYTES:
            raise ValueError(f"hs_secret must be at least {MIN_HS_SECRET_BYTES} bytes")


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AuthError(401, f"token claim {name} must be a string")
    return value


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal for already verified claims; `AuthError(401)` if they do not add up."""
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise AuthError(401, "token has no known role") from exc
    partner_id = _optional_str(claims, "partner_id")
    force = _optional_str(claims, "force")
    if role is Role.PARTNER and partner_id is None:
        raise AuthError(401, "partner token lacks the partner_id claim")
    if role is Role.FORCE_LIAISON and force is None:
        raise AuthError(401, "force liaison token lacks the force claim")
    try:
        clearance = Clearance(_optional_str(claims, "clearance") or Clearance.NONE)
    except ValueError as exc:
        raise AuthError(401, "token has an unknown clearance") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError(401, "token subject must be a non-empty string")
    return Principal(
        subject=subject,
        role=role,
        partner_id=partner_id,
        force=force,
        clearance=clearance,
        name=_optional_str(claims, "name"),
    )


# --- FastAPI edge ------------------------------------------------------------------------------
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
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not a TokenVerifier")
    token = bearer_token(request.headers.get("authorization"))
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
