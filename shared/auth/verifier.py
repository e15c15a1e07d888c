"""Verifying bearer tokens: algorithm allow-list, key confusion refused, `kid`, required claims,
and a short memory of tokens already verified."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, TypeAlias

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from shared.auth.principal import AuthError, Principal, principal_from_claims

log = logging.getLogger(__name__)

LEEWAY_S = 30
#: The longest bearer token accepted, in characters: an identity provider's tokens are far
#: smaller; a larger one is refused before any parsing.
MAX_TOKEN_CHARS = 8192
#: Verified tokens remembered (see TokenVerifier.verify): how many, and how long at most.
VERIFIED_CACHE_SIZE = 10_000
VERIFIED_TTL_S = 60.0
#: How long a fetched key set is kept, and the least time between two fetches that an unknown
#: `kid` forces: a key the provider rotates in is trusted within JWKS_COOLDOWN_S.
JWKS_LIFESPAN_S = 300
JWKS_COOLDOWN_S = 30.0
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
            jwt.PyJWKClient(
                jwks_url,
                cache_jwk_set=True,
                lifespan=JWKS_LIFESPAN_S,
                timeout=jwks_timeout_s,
                cooldown_duration=JWKS_COOLDOWN_S,
            )
            if jwks_url is not None
            else None
        )

    def verifier_for(self, token: str) -> TokenVerifier:
        """The verifier of `token`: this one (it trusts one issuer)."""
        return self

    def verify(self, token: str) -> Principal:
        """The principal the token speaks for; `AuthError(401, ...)` if it is not acceptable.

        A token verified once is remembered (its exact text) until it expires, at most for
        VERIFIED_TTL_S: a partner's client sends the same token with every request, and the
        signature check is a tenth of a submission's CPU. A key withdrawn from a JWKS set
        thus stops being trusted within VERIFIED_TTL_S, as the key-set cache allows anyway."""
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(401, f"token longer than {MAX_TOKEN_CHARS} characters")
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
