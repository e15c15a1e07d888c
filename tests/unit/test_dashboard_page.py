"""The dashboard page's policy and sign-in configuration, without a running service: the page may
fetch from its own origin and under the provider's issuer, nothing else, and is told plainly
when there is no provider to sign in with."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.reporting.dashboard import dashboard_router
from services.reporting.settings import ReportingSettings
from shared.browser import page_csp

ISSUER = "https://id.example.org/realms/jiph"


def page_client(issuer: str | None, **settings: str) -> TestClient:
    app = FastAPI()
    given = ReportingSettings(
        database_url="postgresql+asyncpg://x/y", oidc_issuer=issuer, **settings
    )
    app.include_router(dashboard_router(given))
    return TestClient(app)


def directives(policy: str) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in policy.split(";"))


def test_the_page_may_fetch_under_the_issuer_and_nowhere_else() -> None:
    policy = directives(page_csp(connect_to=ISSUER + "/"))
    assert policy["connect-src"] == f"'self' {ISSUER}/"
    assert policy["script-src"] == "'self'" and policy["form-action"] == "'none'"
    assert directives(page_csp())["connect-src"] == "'self'"


@pytest.mark.parametrize(
    "issuer",
    [
        "https://id.example.org/realms/jiph; script-src *",
        "https://id.example.org/realms/jiph 'unsafe-inline'",
        "javascript:alert(1)",
        "https://id.example.org/realms/jiph?x=1",
        "/realms/jiph",
    ],
)
def test_an_issuer_that_would_widen_the_policy_is_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match="not an issuer URL"):
        page_csp(connect_to=issuer)


def test_the_dashboard_is_told_the_provider_and_its_client() -> None:
    client = page_client(ISSUER)
    assert client.get("/dashboard/config.json").json() == {
        "sign_in": True,
        "issuer": ISSUER,
        "client_id": "jiph-dashboard",
    }
    page = client.get("/")
    assert directives(page.headers["content-security-policy"])["connect-src"] == (
        f"'self' {ISSUER}/"
    )
    assert page.headers["cache-control"] == "no-cache"
    other = page_client(ISSUER, dashboard_client_id="hub-dashboard")
    assert other.get("/dashboard/config.json").json()["client_id"] == "hub-dashboard"


def test_without_a_provider_the_dashboard_is_told_it_cannot_sign_in() -> None:
    client = page_client(None)
    assert client.get("/dashboard/config.json").json() == {"sign_in": False}
    assert directives(client.get("/").headers["content-security-policy"])["connect-src"] == (
        "'self'"
    )
