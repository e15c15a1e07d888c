"""The development signing key (ES256) and the tokens `jiph token` mints with it. Development
and tests only: production verifies tokens from the identity provider's JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes as PrivateKey

from shared.auth.principal import Clearance, Role

log = logging.getLogger(__name__)


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
    key = load_or_create_private_key(path, lambda: ec.generate_private_key(ec.SECP256R1()))
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return DevKey.from_private_key(key)


def load_or_create_private_key(path: Path, generate: Callable[[], PrivateKey]) -> PrivateKey:
    """The PEM private key at `path`, generated and written (mode 0600) on first use."""
    if not path.exists():
        _create_key_file(path, generate())
    mode = stat.S_IMODE(path.stat().st_mode)
    # Group read is how Kubernetes mounts Secrets for the pod's group (0440): others are not.
    if mode & 0o007:
        log.warning("private key %s is readable by others (mode %o)", path, mode)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _create_key_file(path: Path, key: PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
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
