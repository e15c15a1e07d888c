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
* **Size.** A token longer than `MAX_TOKEN_CHARS` is refused before it is parsed.
* **Required claims.** `exp`, `iss`, `aud` and `sub` must be present and right (30 s leeway
  for clock skew); `role` must be a known role, with `partner_id` for partners and `force`
  for force liaisons.

Development signs tokens with a local ES256 key (`load_or_create_dev_key`, `mint_token`,
`jiph token`); production verifies against the identity provider's JWKS URL.
"""

from shared.auth.devkeys import DevKey, jwk_thumbprint, load_or_create_dev_key, mint_token
from shared.auth.edge import (
    CurrentPrincipal,
    bearer_scheme,
    bearer_token,
    get_principal,
    require_roles,
)
from shared.auth.issuers import OidcProvider, TrustedIssuers
from shared.auth.principal import (
    AuthError,
    Clearance,
    Principal,
    Role,
    clearance_at_least,
    principal_from_claims,
)
from shared.auth.verifier import (
    ASYMMETRIC_ALGORITHMS,
    LEEWAY_S,
    MAX_TOKEN_CHARS,
    MIN_HS_SECRET_BYTES,
    SYMMETRIC_ALGORITHMS,
    VERIFIED_CACHE_SIZE,
    VERIFIED_TTL_S,
    PublicKey,
    TokenVerifier,
)

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "LEEWAY_S",
    "MAX_TOKEN_CHARS",
    "MIN_HS_SECRET_BYTES",
    "SYMMETRIC_ALGORITHMS",
    "VERIFIED_CACHE_SIZE",
    "VERIFIED_TTL_S",
    "AuthError",
    "Clearance",
    "CurrentPrincipal",
    "DevKey",
    "OidcProvider",
    "Principal",
    "PublicKey",
    "Role",
    "TokenVerifier",
    "TrustedIssuers",
    "bearer_scheme",
    "bearer_token",
    "clearance_at_least",
    "get_principal",
    "jwk_thumbprint",
    "load_or_create_dev_key",
    "mint_token",
    "principal_from_claims",
    "require_roles",
]
