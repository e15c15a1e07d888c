"""`jiph demo`: drive a realistic scenario through the public HTTP APIs of the running services.

Partners submit requests, the hub triages, assesses and decides on them, UK forces offer officers
and the deployment team plans, staffs, starts, extends and completes tours. Every step is an HTTP
call with a development token of the role that would make it in real life; asynchronous effects
(a case opening in triage, a requirement appearing in deployment) are awaited with bounded polls
that pass the write's consistency token back. The scenario itself (`jiph.demo_data`) is fixed by
`--seed`; running twice adds a second set of requests and officers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jiph import demo_cast as cast
from jiph import demo_data as d
from jiph import demo_staffing as staffing
from jiph.demo_client import TOKEN_HEADER, Api, DemoError, Progress, Tokens, fast_forward
from jiph.stack.config import StackConfig


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
    replaced: int = 0
    backfilled: int = 0
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
                    reason=cast.REJECTIONS.get(plan.reason_code or "", "See the board minutes."),
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
            json={"questions": list(cast.QUESTIONS[plan.index % 3 : plan.index % 3 + 2])},
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
                "answers": list(cast.ANSWERS[plan.index % 3 : plan.index % 3 + 2]),
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
            if slot == 0 and plan.replace_first:
                ref, force = staffing.replace_at_clearance(self, plan, did, ref)
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
                headers=fast_forward(on),
            )
            self.out.repatriated += 1
            self.progress.step(f"{label}: officer repatriated")
            if plan.backfill:
                staffing.backfill(self, plan, did, on)
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
                headers=fast_forward(tour_end),
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
