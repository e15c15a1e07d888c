"""Bearer tokens: what is accepted, what is refused (and why), and the FastAPI edge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from shared.auth import (
    MAX_TOKEN_CHARS,
    AuthError,
    Clearance,
    CurrentPrincipal,
    DevKey,
    Principal,
    Role,
    TokenVerifier,
    clearance_at_least,
    load_or_create_dev_key,
    mint_token,
    require_roles,
)
from shared.problems import install_problem_handlers

ISSUER = "test-issuer"
AUDIENCE = "jiph-gateway"


def _new_key() -> DevKey:
    return DevKey.from_private_key(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def key() -> DevKey:
    return _new_key()


@pytest.fixture(scope="module")
def verifier(key: DevKey) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys={key.kid: key.public_key})


def _token(key: DevKey, role: Role = Role.ANALYST, **claims: Any) -> str:
    defaults: dict[str, Any] = {"subject": "alice", "issuer": ISSUER, "audience": AUDIENCE}
    return mint_token(key, role=role, **(defaults | claims))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "mallory", "role": "admin", "iss": ISSUER, "aud": AUDIENCE}
    return claims | {"iat": now, "exp": now + 600} | overrides


def _unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    parts = (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()))
    return ".".join(parts)


def _refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    assert caught.value.problem_type == "unauthenticated"
    return caught.value.detail


# --- accepted --------------------------------------------------------------------------------
def test_mint_and_verify_round_trip(key: DevKey, verifier: TokenVerifier) -> None:
    token = _token(key, Role.PARTNER, partner_id="fr-police", clearance="sc", name="Alice")

    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"sub", "role", "iss", "aud", "iat", "nbf", "exp", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 3600

    principal = verifier.verify(token)
    assert principal == Principal(
        subject="alice",
        role=Role.PARTNER,
        partner_id="fr-police",
        clearance=Clearance.SC,
        name="Alice",
        expires_at=float(claims["exp"]),
    )
    assert not principal.is_staff


def test_staff_defaults(key: DevKey, verifier: TokenVerifier) -> None:
    principal = verifier.verify(_token(key, Role.FORCE_LIAISON, force="met"))
    assert principal.is_staff
    assert principal.force == "met"
    assert principal.clearance is Clearance.NONE
    assert principal.partner_id is None and principal.name is None


def test_leeway_accepts_a_token_expired_moments_ago(key: DevKey, verifier: TokenVerifier) -> None:
    claims = _claims(exp=int(time.time()) - 10, iat=int(time.time()) - 100)
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert verifier.verify(token).subject == "mallory"


def test_clearance_ordering() -> None:
    assert clearance_at_least("dv", Clearance.SC)
    assert clearance_at_least("sc", Clearance.SC)
    assert not clearance_at_least("ctc", Clearance.SC)
    assert not clearance_at_least(None, Clearance.CTC)
    assert clearance_at_least(None, Clearance.NONE)
    assert not clearance_at_least("top-secret", Clearance.NONE)


# --- refused ---------------------------------------------------------------------------------
def test_alg_none_is_refused(key: DevKey, verifier: TokenVerifier) -> None:
    token = _unsigned_token({"alg": "none", "kid": key.kid}, _claims()) + "."
    assert "not accepted" in _refusal(verifier, token)


def test_hs256_signed_with_the_public_key_is_refused(key: DevKey, verifier: TokenVerifier) -> None:
    """The key-confusion attack: the public key (which anyone may have) as an HMAC secret."""
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned_token({"alg": "HS256", "typ": "JWT", "kid": key.kid}, _claims())
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert "not accepted" in _refusal(verifier, f"{signing_input}.{_b64(signature)}")


def test_algorithm_must_match_the_key_type(key: DevKey) -> None:
    """Even when RS256 is allowed, an EC key never verifies an RS256 token."""
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["ES256", "RS256"],
        keys={key.kid: key.public_key},
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": key.kid})
    assert _refusal(verifier, token) == "token algorithm does not match its key"


def test_wrong_audience(key: DevKey, verifier: TokenVerifier) -> None:
    assert _refusal(verifier, _token(key, audience="someone-else")) == (
        "token audience is not accepted"
    )


def test_wrong_issuer(key: DevKey, verifier: TokenVerifier) -> None:
    assert _refusal(verifier, _token(key, issuer="evil")) == "token issuer is not accepted"


def test_expired(key: DevKey, verifier: TokenVerifier) -> None:
    claims = _claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert _refusal(verifier, token) == "token expired"


def test_token_without_exp(key: DevKey, verifier: TokenVerifier) -> None:
    claims = _claims()
    del claims["exp"]
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert _refusal(verifier, token) == "token lacks the exp claim"


def test_token_without_sub(key: DevKey, verifier: TokenVerifier) -> None:
    claims = _claims()
    del claims["sub"]
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert _refusal(verifier, token) == "token lacks the sub claim"


def test_signed_by_another_key_with_the_same_kid(key: DevKey, verifier: TokenVerifier) -> None:
    other = _new_key()
    impostor = DevKey(other.private_key, other.public_key, kid=key.kid)
    assert _refusal(verifier, _token(impostor)) == "token signature is invalid"


def test_unknown_kid(verifier: TokenVerifier) -> None:
    assert _refusal(verifier, _token(_new_key())) == "token key id is not known"


def test_token_without_kid(key: DevKey, verifier: TokenVerifier) -> None:
    token = jwt.encode(_claims(), key.private_key, algorithm="ES256")
    assert _refusal(verifier, token) == "token has no key id (kid)"


def test_unhashable_kid_is_a_401_not_a_crash(key: DevKey, verifier: TokenVerifier) -> None:
    token = _unsigned_token({"alg": "ES256", "kid": ["x"]}, _claims()) + ".c2ln"
    _refusal(verifier, token)


def test_partner_without_partner_id(key: DevKey, verifier: TokenVerifier) -> None:
    token = jwt.encode(
        _claims(role="partner"), key.private_key, algorithm="ES256", headers={"kid": key.kid}
    )
    assert _refusal(verifier, token) == "partner token lacks the partner_id claim"


def test_force_liaison_without_force(key: DevKey, verifier: TokenVerifier) -> None:
    token = jwt.encode(
        _claims(role="force_liaison"), key.private_key, algorithm="ES256", headers={"kid": key.kid}
    )
    assert _refusal(verifier, token) == "force liaison token lacks the force claim"


@pytest.mark.parametrize("role", ["superuser", None, 7])
def test_unknown_role(key: DevKey, verifier: TokenVerifier, role: object) -> None:
    token = jwt.encode(
        _claims(role=role), key.private_key, algorithm="ES256", headers={"kid": key.kid}
    )
    assert _refusal(verifier, token) == "token has no known role"


def test_non_string_partner_id(key: DevKey, verifier: TokenVerifier) -> None:
    claims = _claims(role="partner", partner_id={"id": 1})
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert _refusal(verifier, token) == "token claim partner_id must be a string"


def test_garbage_token(verifier: TokenVerifier) -> None:
    assert _refusal(verifier, "not-a-jwt") == "malformed token"


# --- construction and minting ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": ["none"]}, "never"),
        ({"algorithms": ["ES256", "NONE"]}, "never"),
        ({"algorithms": ["ES256", "HS256"], "hs_secret": b"s" * 32}, "mixed"),
        ({"algorithms": ["HS256"]}, "hs_secret"),
        ({"algorithms": ["ES999"]}, "unknown"),
        ({"algorithms": []}, "empty"),
        ({"hs_secret": b"s" * 32}, "only for HS"),
    ],
)
def test_verifier_refuses_unsafe_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, **options)


def test_verifier_refuses_pem_strings_as_keys(key: DevKey) -> None:
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="public-key object"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys={key.kid: pem})  # type: ignore[dict-item]


def test_verifier_needs_exactly_one_key_source(key: DevKey) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError, match="exactly one"):
        TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            keys={key.kid: key.public_key},
            jwks_url="https://idp.example/jwks",
        )


def test_hs256_alone_with_an_explicit_secret() -> None:
    secret = b"k" * 32
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs_secret=secret
    )
    assert verifier.verify(jwt.encode(_claims(), secret, algorithm="HS256")).role is Role.ADMIN
    _refusal(verifier, jwt.encode(_claims(), b"x" * 32, algorithm="HS256"))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs_secret=b"short")


def test_mint_refuses_incomplete_claims(key: DevKey) -> None:
    with pytest.raises(ValueError, match="partner_id"):
        _token(key, Role.PARTNER)
    with pytest.raises(ValueError, match="force"):
        _token(key, Role.FORCE_LIAISON)
    with pytest.raises(ValueError):
        _token(key, clearance="top-secret")


# --- development key file --------------------------------------------------------------------
def test_dev_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "dev-signing-key.pem"
    first = load_or_create_dev_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert len(first.kid) == 43 and "=" not in first.kid  # base64url SHA-256, unpadded

    again = load_or_create_dev_key(path)
    assert again.kid == first.kid
    assert again.public_key.public_numbers() == first.public_key.public_numbers()


def test_kid_is_the_rfc7638_thumbprint(key: DevKey) -> None:
    jwk = key.public_jwk()
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    assert key.kid == _b64(hashlib.sha256(canonical.encode()).digest())


def test_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    kids: list[str] = []
    threads = [
        threading.Thread(target=lambda: kids.append(load_or_create_dev_key(path).kid))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1 and len(kids) == 8


# --- JWKS (production path) ------------------------------------------------------------------
@pytest.fixture
def jwks_server(key: DevKey) -> Iterator[str]:
    document = json.dumps(key.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def test_verifies_against_a_jwks_url(key: DevKey, jwks_server: str) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server)
    assert verifier.verify(_token(key)).subject == "alice"
    assert _refusal(verifier, _token(_new_key())) == "token key id is not known"


def _unused_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


def test_unreachable_jwks_is_a_401(key: DevKey) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=_unused_port_url(), jwks_timeout_s=2.0
    )
    assert "key set is unavailable" in _refusal(verifier, _token(key))


# --- FastAPI edge ----------------------------------------------------------------------------
Approver = Annotated[Principal, Depends(require_roles(Role.APPROVER, Role.MINISTER))]


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/v1/approvals")
    def approvals(who: Approver) -> dict[str, str]:
        return {"subject": who.subject, "role": who.role}

    @app.get("/v1/me")
    def me(who: CurrentPrincipal) -> dict[str, str]:
        return {"subject": who.subject}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_header_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/approvals")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/unauthenticated"
    assert body["detail"] == "missing bearer token"
    assert body["instance"] == "/v1/approvals"


async def test_wrong_scheme_is_401(client: httpx.AsyncClient, key: DevKey) -> None:
    response = await client.get("/v1/me", headers={"Authorization": f"Basic {_token(key)}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "use the Bearer authorization scheme"


async def test_invalid_token_is_401(client: httpx.AsyncClient, key: DevKey) -> None:
    response = await client.get("/v1/me", headers=_bearer(_token(key, audience="elsewhere")))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "token audience is not accepted"


async def test_wrong_role_is_403(client: httpx.AsyncClient, key: DevKey) -> None:
    response = await client.get("/v1/approvals", headers=_bearer(_token(key, Role.ANALYST)))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" not in response.headers
    body = response.json()
    assert body["type"] == "/problems/forbidden"
    assert body["detail"] == "this endpoint needs one of the roles: approver, minister"


async def test_right_role_is_200(client: httpx.AsyncClient, key: DevKey) -> None:
    response = await client.get("/v1/approvals", headers=_bearer(_token(key, Role.MINISTER)))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "role": "minister"}
    me = await client.get("/v1/me", headers=_bearer(_token(key)))
    assert me.json() == {"subject": "alice"}


async def test_openapi_declares_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    bearer = schema["components"]["securitySchemes"]["HTTPBearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    for path in ("/v1/approvals", "/v1/me"):
        assert schema["paths"][path]["get"]["security"] == [{"HTTPBearer": []}]


def test_a_verified_token_is_remembered_not_checked_again(
    key: DevKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys={key.kid: key.public_key})
    decoded: list[str] = []
    decode = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda t: decoded.append(t) or decode(t))
    token = _token(key, subject="carol")
    assert verifier.verify(token).subject == "carol"
    assert verifier.verify(token).subject == "carol"
    assert decoded == [token]
    # Another token, even for the same caller, is checked on its own.
    assert verifier.verify(_token(key, subject="carol", ttl_seconds=600)).subject == "carol"
    assert len(decoded) == 2


def test_a_remembered_token_is_not_served_from_memory_past_its_expiry(
    key: DevKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys={key.kid: key.public_key})
    token = _token(key, ttl_seconds=5)
    verifier.verify(token)
    decoded: list[str] = []
    decode = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda t: decoded.append(t) or decode(t))
    later = time.time() + 5 + 31  # past exp and the 30 s leeway, within the minute
    monkeypatch.setattr("shared.auth.verifier.time.time", lambda: later)
    verifier.verify(token)  # PyJWT's own clock still says valid; the point is it is asked
    assert decoded == [token]


def test_a_remembered_token_is_checked_again_after_a_minute(
    key: DevKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys={key.kid: key.public_key})
    token = _token(key)
    verifier.verify(token)
    decoded: list[str] = []
    decode = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda t: decoded.append(t) or decode(t))
    later = time.time() + 61
    monkeypatch.setattr("shared.auth.verifier.time.time", lambda: later)
    assert verifier.verify(token).subject == "alice"
    assert decoded == [token]


def test_an_oversized_token_is_refused_before_it_is_parsed(
    key: DevKey, verifier: TokenVerifier
) -> None:
    """A validly signed token padded with a 1.3 MB claim: refused for its size alone."""
    bloated = _token(key, name="x" * 1_300_000)
    assert "longer than" in _refusal(verifier, bloated)
    normal = _token(key, name="x" * 2000)
    assert len(normal) < MAX_TOKEN_CHARS and verifier.verify(normal).name == "x" * 2000
