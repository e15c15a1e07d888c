"""The reporting dashboard in a real browser (Debian's chromium, driven by selenium): signed out at
first, signed in through the provider's login page (authorization code with PKCE), the KPIs of
a known scenario drawn, no token in the browser's storage, renewed with the refresh token, signed
out at the provider; and its sign-in configuration, as the stack set it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from jiph.stack import keycloak, realm
from jiph.stack.config import StackConfig
from tests.conftest import ARTIFACTS
from tests.e2e.test_reporting_api import Scenario, analyst, scenario

pytestmark = pytest.mark.e2e
__all__ = ["analyst", "scenario"]  # the scenario's fixtures, published for this module too

BROWSER_PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}
STORAGE = (
    "return [Object.keys(localStorage), Object.keys(sessionStorage),"
    " JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage))]"
)


@pytest.fixture(scope="session")
def browser() -> tuple[str, str]:
    """Debian's chromium and chromedriver (installed when missing: no browser download)."""
    missing = [pkg for cmd, pkg in BROWSER_PACKAGES.items() if shutil.which(cmd) is None]
    if missing:
        if os.geteuid() != 0:
            pytest.fail(f"{' '.join(missing)} missing; only root can install them (apt-get)")
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", *missing],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromedriver could not be installed"
    return chromium, driver


@contextlib.contextmanager
def chrome(browser: tuple[str, str]) -> Iterator[webdriver.Chrome]:
    """A headless chromium with a profile of its own (no cookie of another test)."""
    chromium, driver_path = browser
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1400",
    ):
        options.add_argument(flag)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def until(driver: webdriver.Chrome, what: str, check: Any, timeout: float = 30) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(check)
    except TimeoutException as exc:
        status = driver.execute_script("return document.getElementById('status')?.textContent")
        logs = driver.get_log("browser")[-5:]
        raise AssertionError(f"{what}: at {driver.current_url}, {status!r}, {logs}") from exc


def shown(driver: webdriver.Chrome, element_id: str) -> bool:
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and found[0].is_displayed()


def signed_out(driver: webdriver.Chrome) -> bool:
    """Signed out, and ready to sign in (the button waits for the provider's endpoints)."""
    ready = shown(driver, "sign-in") and driver.find_element(By.ID, "sign-in").is_enabled()
    return ready and not shown(driver, "board") and not shown(driver, "who")


def sign_in(driver: webdriver.Chrome, username: str, shot: Path | None = None) -> str:
    """From the signed-out page, through the provider's login page (its URL is returned), back
    to the dashboard."""
    until(driver, "the signed-out page", signed_out)
    driver.find_element(By.ID, "sign-in").click()
    until(driver, "the provider's login page", lambda d: shown(d, "username"))
    login_page = str(driver.current_url)
    if shot is not None:
        driver.save_screenshot(str(shot))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(realm.STAFF_PASSWORD)
    driver.find_element(By.ID, "kc-login").click()
    return login_page


def drawn(driver: webdriver.Chrome) -> bool:
    """The KPI tiles, the charts and the table are filled."""
    if not shown(driver, "board"):
        return False
    tiles = driver.find_element(By.ID, "kpi-requests").text.strip()
    canvases = driver.find_elements(By.CSS_SELECTOR, "canvas")
    rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
    return (
        tiles not in ("", "\u2013", "-")
        and len(rows) > 0
        and all(c.get_attribute("height") for c in canvases)
    )


def screenshot(driver: webdriver.Chrome, shot: Path) -> None:
    driver.execute_script("return new Promise(r => setTimeout(r, 600))")  # chart layout settles
    driver.save_screenshot(str(shot))


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    return shot


def filters_of(scenario: Scenario) -> str:
    return f"from={scenario.window[0]}&to={scenario.window[1]}"


def render(browser: tuple[str, str], base: str, scenario: Scenario, shot: Path) -> str:
    """The page as an analyst without clearance sees it after signing in; its DOM."""
    with chrome(browser) as driver:
        driver.get(f"{base}/#{filters_of(scenario)}")
        sign_in(driver, "analyst")
        until(driver, "the dashboard drawn", drawn, timeout=45)
        screenshot(driver, shot)
        return str(driver.page_source)


async def test_dashboard_renders_the_scenario(
    services: dict[str, str], scenario: Scenario, browser: tuple[str, str]
) -> None:
    base = services["reporting"]
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        page = await client.get("/")
        script = await client.get("/static/vendor/chart.umd.js")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http" not in re.sub(r"https?://www\.w3\.org\S*", "", page.text.split("<body>")[0])
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]

    shot = artifact("reporting-dashboard.png")
    dom = await asyncio.to_thread(render, browser, base, scenario, shot)
    (ARTIFACTS / "reporting-dashboard.html").write_text(dom)

    def output(name: str) -> str:
        found = re.search(rf'id="{name}"[^>]*>([^<]*)<', dom)
        assert found, f"{name} not rendered"
        return found.group(1)

    assert output("kpi-requests") == "6"
    assert output("kpi-deployed-now") == "3"
    assert output("kpi-officer-days") == "105"
    assert output("kpi-approval-rate") == "60%"
    assert output("kpi-tours-ending") == "1/2/2"
    assert output("kpi-readiness") == "2"
    for canvas in (
        "chart-weekly",
        "chart-region",
        "chart-capability",
        "chart-decision",
        "chart-mission",
    ):
        # Chart.js sizes a canvas it has drawn on (width/height attributes and style).
        assert re.search(rf'<canvas id="{canvas}"[^>]*height="\d+"', dom), canvas
    for reference in scenario.references.values():
        assert reference in dom
    assert scenario.secret_title not in dom  # the analyst has no SC clearance
    assert shot.exists() and shot.stat().st_size > 10_000


def end_provider_sessions(stack: StackConfig, username: str) -> None:
    """What an administrator does to a user who must sign in again: every session ends."""
    admin = realm.Admin(stack)
    try:
        (user,) = admin.get(f"{keycloak.REALM}/users", username=username, exact="true")
        admin.send("POST", f"{keycloak.REALM}/users/{user['id']}/logout")
    finally:
        admin.close()


def sign_in_renew_and_out(
    browser: tuple[str, str], base: str, scenario: Scenario, stack: StackConfig
) -> None:
    issuer = keycloak.issuer(stack)
    with chrome(browser) as driver:
        driver.get(f"{base}/#{filters_of(scenario)}")
        until(driver, "the signed-out page", signed_out)
        assert "Signed out" in driver.find_element(By.ID, "signed-out").text

        login_page = sign_in(driver, "cleared-analyst", shot=artifact("dashboard-login.png"))
        assert login_page.startswith(f"{issuer}/protocol/openid-connect/auth?")
        assert "code_challenge_method=S256" in login_page and "response_mode=fragment" in login_page
        until(driver, "the dashboard drawn", drawn, timeout=45)
        screenshot(driver, artifact("dashboard-signed-in.png"))
        # Back at the page and the filters the user was on, with no code or state in the URL.
        assert driver.current_url == f"{base}/#{filters_of(scenario)}"
        assert driver.find_element(By.ID, "kpi-requests").text == "6"
        assert "Sam Cleared (analyst, sc)" in driver.find_element(By.ID, "who").text
        assert scenario.secret_title in driver.page_source  # the provider's token says `sc`
        assert driver.execute_script(STORAGE) == [[], [], "[][]"]  # no token kept

        # Renewal with the refresh token: a new access token, still signed in, the API reads.
        before = driver.execute_script("return session.tokens.access")
        driver.execute_async_script("renew().then(arguments[0])")
        after = driver.execute_script("return session.tokens.access")
        assert after and after != before and shown(driver, "who")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        until(driver, "the dashboard read again", drawn)
        assert driver.execute_script(STORAGE) == [[], [], "[][]"]

        # Sign-out ends the provider's session too: signing in again asks for the password.
        driver.find_element(By.ID, "signout").click()
        until(driver, "back from the provider, signed out", signed_out)
        assert driver.current_url.startswith(base)
        # Nothing the session read is left on the page (hidden or not).
        assert driver.find_element(By.ID, "kpi-requests").get_attribute("textContent") == "\u2013"
        assert not driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
        sign_in(driver, "cleared-analyst")
        until(driver, "the dashboard drawn again", drawn, timeout=45)

        # A session the provider ended cannot be renewed: the page says so, signed out.
        end_provider_sessions(stack, "cleared-analyst")
        driver.execute_async_script("renew().then(arguments[0])")
        until(driver, "signed out after a failed renewal", signed_out)
        assert "could not be renewed" in driver.find_element(By.ID, "status").text
        assert driver.execute_script("return session.tokens") is None


async def test_staff_sign_in_to_the_dashboard_at_the_provider_and_out_again(
    services: dict[str, str],
    scenario: Scenario,
    browser: tuple[str, str],
    test_stack: StackConfig,
) -> None:
    await asyncio.to_thread(
        sign_in_renew_and_out, browser, services["reporting"], scenario, test_stack
    )


async def test_the_dashboard_is_told_the_stacks_provider(
    services: dict[str, str], test_stack: StackConfig
) -> None:
    issuer = keycloak.issuer(test_stack)
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        config = (await client.get("/dashboard/config.json")).json()
        page = await client.get("/")
        document = (await client.get("/openapi.json")).json()
    assert config == {"sign_in": True, "issuer": issuer, "client_id": realm.DASHBOARD_CLIENT}
    policy = dict(
        d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";")
    )
    assert policy["connect-src"] == f"'self' {issuer}/"
    assert "/dashboard/config.json" in document["paths"]
