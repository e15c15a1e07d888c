"""`jiph demo` as a command: check the stack, wait for any backlog, play the scenario, say what
to open next."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer

from jiph import demo_data as d
from jiph.demo import Demo
from jiph.demo_client import CATCH_UP_LIMIT_S, Api, DemoError, ProviderTokens, Tokens, _problem
from jiph.errors import CommandError
from jiph.options import stack_name
from jiph.stack import keycloak, realm
from jiph.stack.config import stack_config


def register(app: typer.Typer) -> None:
    app.command(
        "demo", help="drive a realistic scenario through the running services' public APIs"
    )(cmd_demo)


def _preflight(api: Api, flag: str, grace_s: float = 5.0) -> None:
    """Every service ready, allowing a few seconds for one that is (re)starting."""
    deadline = time.monotonic() + grace_s
    for service in api.ports:
        url = api.url(service, "/readyz")
        while True:
            try:
                response = api.client.get(url, timeout=5.0)
            except httpx.HTTPError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise DemoError(
                    f"{service} is not answering at {url}: start the stack with `jiph{flag} up`"
                ) from exc
            if response.status_code == 200:
                break
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise DemoError(
                f"{service} is not ready ({url}: {response.status_code} {_problem(response)})"
            )


def _wait_for_caught_up(api: Api, tokens: Tokens, limit_s: float = CATCH_UP_LIMIT_S) -> None:
    """Every service's consumer at the end of its topics. A stack restarted on older data (a
    benchmark's thousands of submissions, say) may have a backlog, and the demo's own events
    would queue behind it and look lost."""
    deadline = time.monotonic() + limit_s
    token = tokens.get("operator", "jiph-demo.operator")
    told = False
    while True:
        lags = {
            service: api.call(
                "GET", service, "/v1/admin/consumer", token, what="read the consumer's lag"
            )[0]["total_lag"]
            for service in api.ports
        }
        behind = {service: lag for service, lag in lags.items() if lag}
        if not behind:
            return
        if time.monotonic() >= deadline:
            raise DemoError(f"the services are still catching up after {limit_s:.0f} s: {behind}")
        if not told:
            waiting = ", ".join(f"{s} {n:,} events" for s, n in behind.items())
            print(f"jiph demo: waiting for the services to catch up ({waiting})", file=sys.stderr)
            told = True
        time.sleep(2.0)


def _rejection_codes(api: Api, tokens: Tokens) -> list[str]:
    body, _ = api.call(
        "GET",
        "triage",
        "/v1/reference/rejection-reasons",
        tokens.analyst(),
        what="read the rejection reasons",
    )
    return [item["code"] for item in body["items"]]


def _stack_flag(stack: str | None) -> str:
    return f" --stack {stack}" if stack else ""


def cmd_demo(
    ctx: typer.Context,
    requests: Annotated[
        int, typer.Option(min=6, max=1000, help="requests to submit (default 50)")
    ] = 50,
    officers: Annotated[
        int, typer.Option(min=1, max=2000, help="officers to offer (default 100)")
    ] = 100,
    seed: Annotated[int, typer.Option(help="scenario seed (default 1)")] = 1,
) -> int:
    stack = stack_name(ctx)
    cfg = stack_config(stack)
    started = time.monotonic()
    api = Api(cfg)
    demo = None
    try:
        # As the gateway's users sign in: at the stack's provider when it runs one.
        tokens = ProviderTokens(cfg) if keycloak.enabled(cfg) else Tokens(cfg)
        _preflight(api, _stack_flag(stack))
        _wait_for_caught_up(api, tokens)
        today = datetime.now(UTC).date()
        scenario = d.plan_scenario(seed, requests, officers, _rejection_codes(api, tokens), today)
        demo = Demo(cfg, api, tokens, scenario)
        out = demo.run()
    except (DemoError, ValueError) as exc:  # said in one line by `jiph.cli`
        raise CommandError(str(exc)) from exc
    finally:
        if demo is not None:
            demo.progress.stop()  # the bar's last state stays above whatever is said next
        api.close()
    took = time.monotonic() - started
    flag = _stack_flag(stack)
    ports = cfg.service_ports
    partners = len({r.partner.partner_id for r in scenario.requests})
    forces = len({o.force for o in scenario.officers})
    print(
        f"jiph demo: seed {seed}: {out.submitted} requests from {partners} partners, "
        f"{len(scenario.officers)} officers from {forces} forces, in {took:.1f} s"
    )
    print()
    print("Open next:")
    print(f"  dashboard    http://127.0.0.1:{ports['reporting']}/")
    if keycloak.enabled(cfg):
        print(f"               Sign in as cleared-analyst, password {realm.STAFF_PASSWORD}")
    elif keycloak.external_issuer():
        print("               Sign in with your provider (an analyst with clearance sc)")
    else:
        print("               (no sign-in provider: JIPH_IDENTITY=off; the API takes `jiph token`)")
    print(f"  intake API   http://127.0.0.1:{ports['intake']}/docs")
    print(f"  triage API   http://127.0.0.1:{ports['triage']}/docs")
    print(f"  deployments  http://127.0.0.1:{ports['deployment']}/docs")
    print(f"  events       jiph{flag} tail all --from-beginning")
    print()
    print(
        f"Summary: {out.submitted} requests submitted, {out.approved} approved, "
        f"{out.rejected} rejected, {out.deployments_started} deployments started, "
        f"{out.officers_deployed} officers deployed, {out.replaced} nominee(s) replaced, "
        f"{out.backfilled} post(s) backfilled"
    )
    return 0
