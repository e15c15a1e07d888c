"""Which issuers a service trusts, and how it learns an OpenID Connect provider's keys.

A service trusts its OpenID Connect provider (`OIDC_ISSUER`: the provider's discovery document
names its JWKS, fetched and cached by `TokenVerifier`, so a key the provider rotates in is picked
up at its first token, without a restart), or a JWKS URL given outright, and in development also
the stack's own signing key (`jiph token`). Each token is checked by the verifier of the issuer
it names, and refused if that issuer is not trusted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol

import httpx
import jwt

from shared.auth.principal import AuthError, Principal
from shared.auth.verifier import MAX_TOKEN_CHARS, TokenVerifier

log = logging.getLogger(__name__)
DISCOVERY_TIMEOUT_S = 5.0


class Verifies(Protocol):
    may_block: bool

    def verify(self, token: str) -> Principal: ...


class OidcProvider:
    """A provider known by its issuer URL; its JWKS found through discovery at first use (so a
    service starts while its provider is still starting), then kept."""

    may_block = True

    def __init__(self, issuer: str, audience: str, algorithms: list[str]) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = algorithms
        self._verifier: TokenVerifier | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        return self._resolved().verify(token)

    def _resolved(self) -> TokenVerifier:
        with self._lock:
            if self._verifier is None:
                self._verifier = TokenVerifier(
                    issuer=self.issuer,
                    audience=self.audience,
                    algorithms=self.algorithms,
                    jwks_url=self._discover_jwks_url(),
                )
            return self._verifier

    def _discover_jwks_url(self) -> str:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            answer = httpx.get(url, timeout=DISCOVERY_TIMEOUT_S)
            answer.raise_for_status()
            document = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OpenID Connect discovery at %s failed: %s", url, exc)
            raise AuthError(401, "the identity provider is unavailable; try again shortly") from exc
        # OpenID Connect Discovery §4.3: the document's issuer is exactly the one asked for.
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            log.error("discovery at %s names issuer %r", url, document.get("issuer"))
            raise AuthError(401, "the identity provider's discovery document is not its own")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise AuthError(401, "the identity provider publishes no key set")
        return jwks_uri


class TrustedIssuers:
    """The verifier of every trusted issuer; a token goes to the one its `iss` names."""

    def __init__(self, by_issuer: Mapping[str, Verifies]) -> None:
        if not by_issuer:
            raise ValueError("no issuer is trusted: no token could ever be verified")
        self.by_issuer = {issuer.rstrip("/"): v for issuer, v in by_issuer.items()}
        self.may_block = any(v.may_block for v in self.by_issuer.values())

    def verifier_for(self, token: str) -> Verifies:
        """The verifier of the issuer `token` names (which checks `iss` again, signed)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(401, f"token longer than {MAX_TOKEN_CHARS} characters")
        try:
            claimed = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise AuthError(401, "malformed token") from exc
        verifier = self.by_issuer.get(str(claimed).rstrip("/")) if claimed else None
        if verifier is None:
            raise AuthError(401, "token issuer is not accepted")
        return verifier

    def verify(self, token: str) -> Principal:
        return self.verifier_for(token).verify(token)
