"""`jiph demo`: drive a realistic scenario through the public HTTP APIs of the running services.

Partners submit requests, the hub triages, assesses and decides on them, UK forces offer officers
and the deployment team plans, staffs, starts, extends and completes tours. Every step is an HTTP
call with a development token of the role that would make it in real life; asynchronous effects
(a case opening in triage, a requirement appearing in deployment) are awaited with bounded polls
that pass the write's consistency token back. The scenario itself (`jiph.demo_data`) is fixed by
`--seed`; running twice adds a second set of requests and officers.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from jiph import demo_data as d
from jiph.stack.config import StackConfig, stack_config
from shared.auth import load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER

TOKEN_HEADER = "X-Consistency-Token"
WAIT_S = 60.0
#: How long the demo waits for services to work off an earlier backlog before it starts.
CATCH_UP_LIMIT_S = 600.0
POLL_S = 0.2
MAX_RETRY_AFTER_S = 30.0
CONNECT_RETRIES = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="drive a realistic scenario through the running services' public APIs"
    )
    p.add_argument("--requests", type=int, default=50, help="requests to submit (default 50)")
    p.add_argument("--officers", type=int, default=100, help="officers to offer (default 100)")
    p.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
    p.set_defaults(handler=cmd_demo)


class DemoError(Exception):
    """A step failed: the message is the one line the user sees."""


# --- progress --------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr (redrawn at most ten times a second)."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = ""
        self._drawn = 0.0

    def step(self, label: str, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        self.label = label
        self.draw()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        width = 30
        filled = int(width * self.done / self.total)
        pct = 100 * self.done // self.total
        sys.stderr.write(f"\r[{'#' * filled:<{width}}] {pct:3d}% {self.label:<44.44}")
        sys.stderr.flush()

    def finish(self) -> None:
        self.done = self.total
        self.label = "done"
        self.draw(force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()


# --- HTTP ------------------------------------------------------------------------------------
def _problem(response: httpx.Response) -> str:
    """A problem+json answer in one line: title, detail and any field errors."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    text = ": ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
    errors = body.get("errors") or []
    if errors:
        text += " (" + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors) + ")"
    return text or response.text[:300]


class Api:
    """Calls the services with retries for what is transient: 429 (after Retry-After), a service
    restarting (connection refused) and an optimistic-concurrency conflict."""

    def __init__(self, cfg: StackConfig, timeout: float = 20.0) -> None:
        self.ports = cfg.service_ports
        self.client = httpx.Client(timeout=timeout)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.url(service, path)
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        connect_failures = conflicts = throttled = 0
        while True:
            try:
                response = self.client.request(
                    method, url, json=json, params=params, headers=all_headers
                )
            except httpx.ConnectError as exc:
                # Nothing was sent: safe to try again while a service restarts.
                connect_failures += 1
                if connect_failures > CONNECT_RETRIES:
                    raise DemoError(f"{service} is not answering at {url} ({exc})") from exc
                time.sleep(1.0)
                continue
            except httpx.HTTPError as exc:
                raise DemoError(f"{what}: {service} did not answer ({exc!r})") from exc
            if response.status_code == 429 and throttled < 50:
                throttled += 1
                time.sleep(_retry_after(response))
                continue
            if (
                response.status_code == 409
                and _problem_type(response) == "/problems/version-conflict"
                and conflicts < 3
            ):
                conflicts += 1
                time.sleep(0.2)
                continue
            return response

    def call(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, str | None]:
        """The JSON answer of a successful call and its consistency token; `DemoError` else."""
        response = self.send(
            method, service, path, token, what=what, json=json, params=params, headers=headers
        )
        if response.status_code >= 400:
            raise DemoError(
                f"{what}: {service} answered {response.status_code} {_problem(response)}"
            )
        return response.json(), response.headers.get(TOKEN_HEADER)

    def wait(
        self,
        service: str,
        path: str,
        token: str,
        *,
        what: str,
        until: Callable[[Any], bool] = lambda _: True,
        consistency: str | None = None,
        timeout_s: float = WAIT_S,
    ) -> Any:
        """GET `path` until it answers 200 with a body that satisfies `until`; bounded."""
        headers = {TOKEN_HEADER: consistency} if consistency else {}
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.send("GET", service, path, token, what=what, headers=headers)
            if response.status_code == 200 and until(response.json()):
                return response.json()
            if response.status_code not in (200, 404):
                raise DemoError(
                    f"{what}: {service} answered {response.status_code} {_problem(response)}"
                )
            if time.monotonic() >= deadline:
                seen = response.json().get("status") if response.status_code == 200 else "404"
                raise DemoError(f"{what}: not there after {timeout_s:.0f} s (last seen: {seen})")
            time.sleep(POLL_S)


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


# --- tokens ----------------------------------------------------------------------------------
class Tokens:
    """Development tokens, minted once per (role, subject, claims) and reused."""

    def __init__(self, cfg: StackConfig) -> None:
        self.key = load_or_create_dev_key(cfg.dev_key_file)
        self._cache: dict[tuple[str, str, str | None, str | None], str] = {}

    def get(
        self,
        role: str,
        subject: str,
        *,
        partner_id: str | None = None,
        force: str | None = None,
        clearance: str | None = None,
        ttl_seconds: int = 3 * 3600,
    ) -> str:
        cache_key = (role, subject, partner_id or force, clearance)
        if cache_key not in self._cache:
            self._cache[cache_key] = mint_token(
                self.key,
                role=role,
                subject=subject,
                issuer=DEV_ISSUER,
                audience=AUDIENCE,
                partner_id=partner_id,
                force=force,
                clearance=clearance,
                ttl_seconds=ttl_seconds,
            )
        return self._cache[cache_key]

    def partner(self, partner: d.Partner) -> str:
        return self.get("partner", f"{partner.partner_id}.desk", partner_id=partner.partner_id)

    def triage(self, subject: str) -> str:
        return self.get("triage_officer", subject, clearance="sc")

    def approver(self) -> str:
        return self.get("approver", d.BOARD_APPROVER, clearance="sc")

    def minister(self) -> str:
        return self.get("minister", d.MINISTER, clearance="sc")

    def manager(self) -> str:
        return self.get("deployment_manager", d.DEPLOYMENT_MANAGER, clearance="sc")

    def liaison(self, force: str) -> str:
        subject = "liaison." + force.lower().replace(" ", "-")
        return self.get("force_liaison", subject, force=force)

    def analyst(self) -> str:
        return self.get("analyst", "demo.analyst", clearance="sc", ttl_seconds=8 * 3600)


# --- the run ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    on_hold: int = 0
    information_requests: int = 0
    deployments_planned: int = 0
    deployments_started: int = 0
    officers_deployed: int = 0
    extended: int = 0
    completed: int = 0
    repatriated: int = 0
    request_ids: dict[int, str] = field(default_factory=dict)
    last_deployment_token: str | None = None


class Demo:
    def __init__(self, cfg: StackConfig, api: Api, tokens: Tokens, scenario: d.Scenario) -> None:
        self.cfg = cfg
        self.api = api
        self.tokens = tokens
        self.scenario = scenario
        self.progress = Progress(scenario.steps())
        self.out = Outcome()
        self.run_id = uuid.uuid4().hex[:12]
        #: (request index, slot) → (officer_ref, force), for the deployments' nominations.
        self.slots: dict[tuple[int, int], tuple[str, str]] = {}
        #: Consistency tokens: of each submission, and of each final approval.
        self.tokens_of: dict[int, str | None] = {}
        self.approval_tokens: dict[int, str | None] = {}
        self.last_status = ""

    def key(self, *parts: object) -> dict[str, str]:
        """An Idempotency-Key unique to this run and step."""
        return {"Idempotency-Key": ":".join(["demo", self.run_id, *map(str, parts)])}

    def run(self) -> Outcome:
        self.offer_officers()
        self.submit_requests()
        for plan in self.scenario.requests:
            self.triage(plan)
        for plan in self.scenario.requests:
            if plan.outcome in d.APPROVED_OUTCOMES and plan.staffing != d.OPEN:
                self.deploy(plan)
        self.settle()
        self.progress.finish()
        return self.out

    # -- forces ---------------------------------------------------------------------------
    def offer_officers(self) -> None:
        for n, officer in enumerate(self.scenario.officers):
            body, _ = self.api.call(
                "POST",
                "deployment",
                "/v1/offers",
                self.tokens.liaison(officer.force),
                what=f"offer officer {n + 1} ({officer.force})",
                json=officer.body,
                headers=self.key("offer", n),
            )
            if officer.slot is not None:
                self.slots[officer.slot] = (body["offer"]["officer_ref"], officer.force)
            self.progress.step(f"forces offer officers {n + 1}/{len(self.scenario.officers)}")

    # -- partners ---------------------------------------------------------------------------
    def submit_requests(self) -> None:
        for plan in self.scenario.requests:
            body, token = self.api.call(
                "POST",
                "intake",
                "/v1/requests",
                self.tokens.partner(plan.partner),
                what=f"submit request {plan.index + 1} ({plan.partner.partner_id})",
                json=plan.body,
                headers=self.key("request", plan.index),
            )
            self.out.request_ids[plan.index] = body["request"]["id"]
            self.tokens_of[plan.index] = token
            self.out.submitted += 1
            self.progress.step(
                f"partners submit requests {plan.index + 1}/{len(self.scenario.requests)}"
            )

    # -- the hub ----------------------------------------------------------------------------
    def triage(self, plan: d.RequestPlan) -> None:
        rid = self.out.request_ids[plan.index]
        case_path = f"/v1/cases/{rid}"
        officer = self.tokens.triage(plan.assessor)
        label = f"triage {plan.index + 1}/{len(self.scenario.requests)}"
        self.api.wait(
            "triage",
            case_path,
            officer,
            what=f"case of request {rid} opening in triage",
            consistency=self.tokens_of.get(plan.index),
        )
        self.progress.step(f"{label}: case opened")
        if plan.info_request:
            self.information_request(plan, rid, officer)
        if plan.outcome == d.TRIAGE_ONLY:
            return
        self.assess(plan, rid, officer)
        self.progress.step(f"{label}: assessed ({plan.risk_tier} risk)")
        if plan.outcome == d.ASSESS_ONLY:
            return
        board = self.tokens.approver()
        match plan.outcome:
            case d.REJECT:
                self.decide(
                    rid,
                    board,
                    "reject",
                    "board",
                    reason=d.REJECTIONS.get(plan.reason_code or "", "See the board minutes."),
                    reason_code=plan.reason_code,
                )
                self.out.rejected += 1
                self.progress.step(f"{label}: rejected ({plan.reason_code})")
            case d.HOLD:
                self.decide(rid, board, "hold", "board", reason="Awaiting host-state consent.")
                self.out.on_hold += 1
                self.progress.step(f"{label}: on hold")
            case d.HOLD_RESUME:
                self.decide(rid, board, "hold", "board", reason="Awaiting the mission's budget.")
                self.progress.step(f"{label}: on hold")
                self.decide(rid, board, "resume", "board", reason="Budget confirmed.")
                self.progress.step(f"{label}: resumed")
                self.approve(plan, rid, board, label)
            case d.APPROVE | d.MINISTERIAL:
                self.approve(plan, rid, board, label)

    def information_request(self, plan: d.RequestPlan, rid: str, officer: str) -> None:
        label = f"triage {plan.index + 1}/{len(self.scenario.requests)}"
        asked, token = self.api.call(
            "POST",
            "triage",
            f"/v1/cases/{rid}/information-requests",
            officer,
            what=f"ask the partner about {rid}",
            json={"questions": list(d.QUESTIONS[plan.index % 3 : plan.index % 3 + 2])},
            headers=self.key("ask", plan.index),
        )
        ir = asked["case"]["open_information_request"]
        self.progress.step(f"{label}: information requested")
        partner = self.tokens.partner(plan.partner)
        self.api.wait(
            "intake",
            f"/v1/requests/{rid}",
            partner,
            what=f"the partner seeing the questions on {rid}",
            until=lambda r: r["status"] == "information_requested",
            consistency=token,
        )
        _, token = self.api.call(
            "POST",
            "intake",
            f"/v1/requests/{rid}/amendments",
            partner,
            what=f"the partner answering on {rid}",
            json={
                "answers": list(d.ANSWERS[plan.index % 3 : plan.index % 3 + 2]),
                "information_request_id": ir["id"],
            },
        )
        self.progress.step(f"{label}: partner answered")
        self.api.wait(
            "triage",
            f"/v1/cases/{rid}",
            officer,
            what=f"the answers reaching triage for {rid}",
            until=lambda c: c["status"] == "in_triage",
            consistency=token,
        )
        self.out.information_requests += 1
        self.progress.step(f"{label}: back in triage")

    def assess(self, plan: d.RequestPlan, rid: str, officer: str) -> None:
        notes = {
            "low": "OSJA completed: low risk; standard mitigations.",
            "medium": "OSJA completed: medium risk; vetting of counterparts agreed.",
            "high": "OSJA completed: high risk; detention practices need ministerial sign-off.",
            "serious": "OSJA completed: serious risk; see the OSJA annex.",
        }[plan.risk_tier]
        body: dict[str, Any] = {"risk_tier": plan.risk_tier, "notes": notes}
        if plan.index % 7 == 3:
            body["alignment"] = 0.8
        self.api.call(
            "POST",
            "triage",
            f"/v1/cases/{rid}/assessment",
            officer,
            what=f"assess {rid}",
            json=body,
            headers=self.key("assess", plan.index),
        )

    def decide(
        self,
        rid: str,
        token: str,
        decision: str,
        stage: str,
        *,
        reason: str = "",
        reason_code: str | None = None,
    ) -> str | None:
        body: dict[str, Any] = {"decision": decision, "stage": stage, "reason": reason}
        if reason_code:
            body["reason_code"] = reason_code
        answer, consistency = self.api.call(
            "POST",
            "triage",
            f"/v1/cases/{rid}/decisions",
            token,
            what=f"{stage} decision '{decision}' on {rid}",
            json=body,
            headers=self.key("decide", rid, decision, stage),
        )
        self.last_status = str(answer["case"]["status"])
        return consistency

    def approve(self, plan: d.RequestPlan, rid: str, board: str, label: str) -> None:
        token = self.decide(rid, board, "approve", "board", reason="Meets the board's criteria.")
        self.progress.step(f"{label}: board approved")
        if plan.outcome == d.MINISTERIAL:
            if self.last_status != "awaiting_ministerial":
                raise DemoError(f"{rid}: expected awaiting_ministerial, got {self.last_status}")
            token = self.decide(
                rid, self.tokens.minister(), "approve", "ministerial", reason="Approved."
            )
            self.progress.step(f"{label}: minister approved")
        if self.last_status != "approved":
            raise DemoError(f"{rid}: expected approved after the decisions, got {self.last_status}")
        self.out.approved += 1
        self.approval_tokens[plan.index] = token

    # -- deployments ------------------------------------------------------------------------
    def deploy(self, plan: d.RequestPlan) -> None:
        rid = self.out.request_ids[plan.index]
        manager = self.tokens.manager()
        label = f"deploy {plan.body['country']} {plan.capability}"
        requirement = self.api.wait(
            "deployment",
            f"/v1/requirements/{rid}",
            manager,
            what=f"requirement for approved request {rid}",
            until=lambda r: r["status"] == "open",
            consistency=self.approval_tokens.get(plan.index),
        )
        self.progress.step(f"{label}: requirement open")
        today = self.scenario.today
        if plan.staffing == d.START:
            tour_start = today
        else:
            tour_start = max(date.fromisoformat(str(requirement["needed_by"])), today)
        planned, _ = self.api.call(
            "POST",
            "deployment",
            "/v1/deployments",
            manager,
            what=f"plan the deployment for {rid}",
            json={
                "request_id": rid,
                "tour_start": tour_start.isoformat(),
                "mission": plan.body.get("mission"),
            },
            headers=self.key("plan", plan.index),
        )
        did = planned["deployment"]["id"]
        tour_end = date.fromisoformat(planned["deployment"]["tour_end"])
        self.out.deployments_planned += 1
        self.progress.step(f"{label}: planned")
        base = f"/v1/deployments/{did}"
        refs: list[str] = []
        for slot in range(plan.nominees()):
            ref, force = self.slots[(plan.index, slot)]
            self.api.call(
                "POST",
                "deployment",
                f"{base}/nominations",
                manager,
                what=f"nominate {ref} to {did}",
                json={"officer_ref": ref},
                headers=self.key("nominate", did, ref),
            )
            self.api.call(
                "POST",
                "deployment",
                f"{base}/officers/{ref}/release",
                self.tokens.liaison(force),
                what=f"{force} releasing {ref}",
            )
            self.api.call(
                "POST",
                "deployment",
                f"{base}/officers/{ref}/clearance",
                manager,
                what=f"clear {ref} for {did}",
            )
            refs.append(ref)
            self.progress.step(f"{label}: officer {slot + 1} cleared", 3)
        if plan.staffing != d.START:
            return
        started, token = self.api.call(
            "POST",
            "deployment",
            f"{base}/start",
            manager,
            what=f"start deployment {did}",
            json={"on": today.isoformat()},
        )
        self.out.deployments_started += 1
        self.out.officers_deployed += len(refs)
        self.progress.step(f"{label}: deployed")
        if plan.repatriate and len(refs) > 1:
            on = min(today + timedelta(days=45), tour_end)
            _, token = self.api.call(
                "POST",
                "deployment",
                f"{base}/officers/{refs[-1]}/repatriation",
                manager,
                what=f"repatriate {refs[-1]} from {did}",
                json={"reason_code": "medical", "on": on.isoformat()},
            )
            self.out.repatriated += 1
            self.progress.step(f"{label}: officer repatriated")
        if plan.extend_months:
            extended, token = self.api.call(
                "POST",
                "deployment",
                f"{base}/extension",
                manager,
                what=f"extend deployment {did}",
                json={"months": plan.extend_months},
            )
            tour_end = date.fromisoformat(extended["deployment"]["tour_end"])
            self.out.extended += 1
            self.progress.step(f"{label}: extended {plan.extend_months} months")
        if plan.complete:
            _, token = self.api.call(
                "POST",
                "deployment",
                f"{base}/completion",
                manager,
                what=f"complete deployment {did}",
                json={"on": tour_end.isoformat()},
            )
            self.out.completed += 1
            self.progress.step(f"{label}: completed")
        self.out.last_deployment_token = token or started.get("consistency_token")

    def settle(self) -> None:
        """Let reporting catch up with the last write, so the dashboard shows the whole run."""
        token = self.out.last_deployment_token
        if token:
            self.api.send(
                "GET",
                "reporting",
                "/v1/summary",
                self.tokens.analyst(),
                what="reporting summary",
                headers={TOKEN_HEADER: token},
            )
        self.progress.step("reporting catching up")


# --- the command -----------------------------------------------------------------------------
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


def _stack_flag(args: argparse.Namespace) -> str:
    return f" --stack {args.stack}" if args.stack else ""


def cmd_demo(args: argparse.Namespace) -> int:
    if args.requests < 6 or args.requests > 1000:
        print("jiph demo: --requests must be between 6 and 1000", file=sys.stderr)
        return 2
    if args.officers < 1 or args.officers > 2000:
        print("jiph demo: --officers must be between 1 and 2000", file=sys.stderr)
        return 2
    cfg = stack_config(args.stack)
    started = time.monotonic()
    api = Api(cfg)
    try:
        tokens = Tokens(cfg)
        _preflight(api, _stack_flag(args))
        _wait_for_caught_up(api, tokens)
        today = datetime.now(UTC).date()
        scenario = d.plan_scenario(
            args.seed, args.requests, args.officers, _rejection_codes(api, tokens), today
        )
        out = Demo(cfg, api, tokens, scenario).run()
    except (DemoError, ValueError) as exc:
        sys.stderr.write("\n")
        print(f"jiph demo: {exc}", file=sys.stderr)
        return 1
    finally:
        api.close()
    took = time.monotonic() - started
    flag = _stack_flag(args)
    ports = cfg.service_ports
    partners = len({r.partner.partner_id for r in scenario.requests})
    forces = len({o.force for o in scenario.officers})
    print(
        f"jiph demo: seed {args.seed}: {out.submitted} requests from {partners} partners, "
        f"{len(scenario.officers)} officers from {forces} forces, in {took:.1f} s"
    )
    print()
    print("Open next:")
    print(f"  dashboard    http://127.0.0.1:{ports['reporting']}/")
    print(f"               sign in with: jiph{flag} token --role analyst --clearance sc")
    print(f"  intake API   http://127.0.0.1:{ports['intake']}/docs")
    print(f"  triage API   http://127.0.0.1:{ports['triage']}/docs")
    print(f"  deployments  http://127.0.0.1:{ports['deployment']}/docs")
    print(f"  events       jiph{flag} tail all --from-beginning")
    print()
    print(
        f"Summary: {out.submitted} requests submitted, {out.approved} approved, "
        f"{out.rejected} rejected, {out.deployments_started} deployments started, "
        f"{out.officers_deployed} officers deployed"
    )
    return 0
