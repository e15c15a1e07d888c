"""The reporting dashboard in a real browser (Debian's chromium, driven by selenium): signed out at
first, signed in through the provider's login page (authorization code with PKCE), the KPIs of
a known scenario drawn, no token in the browser's storage, renewed with the refresh token, signed
out at the provider; and its sign-in configuration, as the stack set it."""

from __future__ import annotations

import asyncio
import base64
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


DRAWN = """
const board = document.getElementById('board');
const tile = document.getElementById('kpi-requests');
const canvases = [...document.querySelectorAll('canvas')];
return !board.hidden && !document.getElementById('view-overview').hidden
  && tile && !['', '\u2013', '-'].includes(tile.textContent.trim())
  && document.querySelectorAll('table tbody tr').length > 0
  && canvases.length > 0 && canvases.every(c => c.getAttribute('height'));
"""


def drawn(driver: webdriver.Chrome) -> bool:
    """The overview's KPI tiles, charts and tables are filled (read in one go: the page may
    redraw between two reads)."""
    return bool(driver.execute_script(DRAWN))


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
    assert page.status_code == 200 and "/static/vendor/govuk-frontend.min.css" in page.text
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
        "chart-partner-type",
    ):
        # Chart.js sizes a canvas it has drawn on (width/height attributes and style).
        assert re.search(rf'<canvas id="{canvas}"[^>]*height="\d+"', dom), canvas
    assert scenario.secret_title not in dom  # the analyst has no SC clearance
    assert shot.exists() and shot.stat().st_size > 10_000


# --- GOV.UK layout, the map, drill-down and accessibility ------------------------------------
WEB = Path(__file__).resolve().parents[2] / "services" / "reporting" / "web"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from npm (the lock file of the dashboard's assets), installed when missing."""
    script = WEB / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install axe-core"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=WEB,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script.read_text()


def viewport(driver: webdriver.Chrome, width: int, height: int = 900) -> None:
    """The page as a device `width` CSS pixels wide shows it (a phone at 390)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
    )
    driver.execute_script("return new Promise(r => setTimeout(r, 400))")  # charts re-layout


def full_page(driver: webdriver.Chrome, shot: Path) -> None:
    """The whole page, beyond the viewport, as a PNG."""
    driver.execute_script("return new Promise(r => setTimeout(r, 600))")
    image = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    shot.write_bytes(base64.b64decode(image["data"]))


def horizontal_overflow(driver: webdriver.Chrome) -> list[int]:
    """[scrollWidth, clientWidth] of the document: the page scrolls sideways if the first is
    larger."""
    return list(
        driver.execute_script(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth]"
        )
    )


def serious_violations(driver: webdriver.Chrome, axe: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it stands (rule, nodes)."""
    driver.execute_script(axe)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-failed', impact: 'critical', nodes: [String(e)]}]))"
    )
    return [v for v in found if v["impact"] in SERIOUS]


def texts(driver: webdriver.Chrome, css: str) -> list[str]:
    """The text of every element `css` selects, read in one go (the page may redraw between)."""
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())"
    return list(driver.execute_script(script, css))


def mapped(driver: webdriver.Chrome) -> bool:
    return drawn(driver) and bool(driver.find_elements(By.CSS_SELECTOR, "#world-map path.has-data"))


def drill_down(browser: tuple[str, str], base: str, scenario: Scenario, axe: str) -> dict[str, Any]:
    """An uncleared analyst: the overview at 1440 and 390 px, the map, a tile to its table,
    pages of it, a row to the request's detail and timeline; axe-core run on each view."""
    seen: dict[str, Any] = {"violations": {}}
    with chrome(browser) as driver:
        driver.get(f"{base}/#{filters_of(scenario)}&live=off")
        sign_in(driver, "analyst")
        viewport(driver, 1440)
        until(driver, "the overview with its map", mapped, timeout=45)
        full_page(driver, artifact("dashboard-1440.png"))
        seen["violations"]["overview"] = serious_violations(driver, axe)
        seen["overflow_1440"] = horizontal_overflow(driver)
        seen["map_countries"] = sorted(
            {
                e.get_attribute("data-code")
                for e in driver.find_elements(By.CSS_SELECTOR, "#world-map path.has-data")
            }
        )
        seen["map_features"] = len(driver.find_elements(By.CSS_SELECTOR, "#world-map path.country"))
        seen["map_table"] = texts(driver, "#table-map tbody tr")
        seen["mission_table"] = texts(driver, "#figure-chart-mission tbody tr")
        seen["capability_ticks"] = driver.execute_script(
            "const c = Chart.getChart('chart-capability'); return c.scales.y.ticks.length"
        )
        seen["capability_rows"] = len(
            driver.find_elements(By.CSS_SELECTOR, "#figure-chart-capability tbody tr")
        )
        seen["tiles"] = texts(driver, "#tiles .tile__label")

        viewport(driver, 390, 844)
        seen["overflow_390"] = horizontal_overflow(driver)
        full_page(driver, artifact("dashboard-390.png"))
        seen["violations"]["overview-390"] = serious_violations(driver, axe)

        # A tile -> its table, 2 rows a page, forward and back.
        viewport(driver, 1440)
        driver.find_element(By.CSS_SELECTOR, "#kpi-requests").click()
        until(
            driver,
            "the requests table",
            lambda d: shown(d, "view-table") and texts(d, "#drill-table tbody tr"),
        )
        seen["table_rows"] = texts(driver, "#drill-table tbody tr th")
        seen["table_url"] = driver.current_url
        seen["violations"]["table"] = serious_violations(driver, axe)
        driver.get(driver.current_url + "&limit=2")
        until(driver, "the first page of 2", lambda d: len(texts(d, "#drill-table tbody tr")) == 2)
        pages = [texts(driver, "#drill-table tbody tr th")]
        while driver.find_elements(By.ID, "next-page"):
            before = pages[-1]
            driver.find_element(By.ID, "next-page").click()

            def turned(d: webdriver.Chrome, before: list[str] = before) -> bool:
                return texts(d, "#drill-table tbody tr th") != before

            until(driver, "the next page", turned)
            pages.append(texts(driver, "#drill-table tbody tr th"))
        seen["pages"] = pages
        driver.find_element(By.CSS_SELECTOR, "#pages a[rel=prev]").click()
        until(
            driver, "the page before", lambda d: texts(d, "#drill-table tbody tr th") == pages[-2]
        )

        # A row -> the request, its facts and its timeline (the sensitive one: withheld text).
        secret_ref = scenario.references["r2"]
        driver.get(f"{base}/#view=requests&{filters_of(scenario)}&country=KE&live=off")
        until(
            driver,
            "the Kenyan request",
            lambda d: secret_ref in texts(d, "#drill-table tbody tr th"),
        )
        driver.find_element(By.LINK_TEXT, secret_ref).click()
        until(
            driver,
            "the request's timeline",
            lambda d: shown(d, "view-request") and texts(d, "#timeline li"),
        )
        seen["detail_title"] = driver.find_element(By.ID, "request-title").text
        seen["detail_facts"] = texts(driver, "#request-facts .govuk-summary-list__row")
        seen["timeline"] = texts(driver, "#timeline .timeline__title")
        seen["detail_page"] = driver.page_source
        full_page(driver, artifact("dashboard-request-1440.png"))
        seen["violations"]["request"] = serious_violations(driver, axe)
        viewport(driver, 390, 844)
        seen["overflow_request_390"] = horizontal_overflow(driver)
        full_page(driver, artifact("dashboard-request-390.png"))

        # A bad date: the GOV.UK error summary names the field, no request is made of it.
        viewport(driver, 1440)
        driver.get(f"{base}/#{filters_of(scenario)}&live=off")
        until(driver, "the overview again", mapped)
        day = driver.find_element(By.ID, "from-day")
        day.clear()
        day.send_keys("31")
        month = driver.find_element(By.ID, "from-month")
        month.clear()
        month.send_keys("2")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        until(driver, "the error summary", lambda d: shown(d, "error-summary"))
        seen["errors"] = texts(driver, "#error-list a")
        seen["error_at_field"] = driver.find_element(By.ID, "from-error").text
        full_page(driver, artifact("dashboard-error-1440.png"))
        seen["violations"]["error"] = serious_violations(driver, axe)
    return seen


async def test_dashboard_map_drill_down_and_accessibility_at_1440_and_390(
    services: dict[str, str],
    scenario: Scenario,
    browser: tuple[str, str],
    axe_source: str,
    analyst: dict[str, str],
) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        answer = await client.get("/v1/summary", headers=analyst, params=scenario.window_query)
    by_country = answer.json()["requests"]["by_country"]
    seen = await asyncio.to_thread(drill_down, browser, services["reporting"], scenario, axe_source)
    assert seen["violations"] == {v: [] for v in seen["violations"]}
    assert seen["overflow_390"][0] <= seen["overflow_390"][1], seen["overflow_390"]
    assert seen["overflow_request_390"][0] <= seen["overflow_request_390"][1]
    assert seen["overflow_1440"][0] <= seen["overflow_1440"][1]
    # The map: every country of world-atlas drawn, the scenario's countries coloured, the same
    # figures in its table.
    assert seen["map_features"] > 170
    assert seen["map_countries"] == ["KE", "SO", "UA"]
    names = {"SO": "Somalia", "KE": "Kenya", "UA": "Ukraine"}
    assert sorted(seen["map_table"]) == sorted(
        f"{names[code]}Yes{count}" for code, count in by_country.items()
    )
    # Every capability bar keeps its label; the withheld mission is named as such.
    assert seen["capability_ticks"] == seen["capability_rows"] > 1
    assert any("Withheld: OFFICIAL-SENSITIVE" in row for row in seen["mission_table"])
    assert not any("unknown" in row.lower() for row in seen["mission_table"])
    assert scenario.missions["r2"] not in " ".join(seen["mission_table"])
    assert seen["tiles"][0] == "Requests" and len(seen["tiles"]) >= 9
    # Tile -> table: every request of the window; the filters stay in the URL.
    assert sorted(seen["table_rows"]) == sorted(scenario.references.values())
    assert "view=requests" in seen["table_url"] and filters_of(scenario) in seen["table_url"]
    pages = seen["pages"]
    assert [len(p) for p in pages] == [2, 2, 2]
    assert sorted(ref for page in pages for ref in page) == sorted(scenario.references.values())
    # Table -> request: its facts, withheld text said so, and its timeline.
    assert seen["detail_title"] == scenario.references["r2"]
    facts = " ".join(seen["detail_facts"])
    assert "Withheld: OFFICIAL-SENSITIVE" in facts and "Kenya" in facts
    assert scenario.secret_title not in seen["detail_page"]
    assert scenario.missions["r2"] not in seen["detail_page"]
    assert seen["timeline"][0] == "Request submitted" and len(seen["timeline"]) >= 3
    assert seen["errors"] == ["Submitted from must be a real date"]
    assert "Submitted from must be a real date" in seen["error_at_field"]


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
        # The provider's token says `sc`: the requests' table (a tile's drill-down) has the title.
        driver.find_element(By.ID, "kpi-requests").click()
        until(driver, "the sensitive title", lambda d: scenario.secret_title in d.page_source)
        driver.back()
        until(driver, "the overview again", drawn)
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
