"""The demo's changes of people: a nominee who fails clearance is replaced (the deployment goes
on), and a post reopened by an early repatriation is backfilled for the rest of the tour, the
backfill chosen from the post's ranked matches. Each step is a public API call, as in `demo`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from jiph import demo_data as d
from jiph.demo_client import DemoError, fast_forward

if TYPE_CHECKING:
    from jiph.demo import Demo


def replace_at_clearance(demo: Demo, plan: d.RequestPlan, did: str, ref: str) -> tuple[str, str]:
    """`ref` was released but their medical lapses mid-tour: clearance refuses and names it, and
    the manager replaces them with the officer held in reserve. Answers the replacement."""
    base = f"/v1/deployments/{did}"
    manager = demo.tokens.manager()
    refused = demo.api.send(
        "POST", "deployment", f"{base}/officers/{ref}/clearance", manager, what=f"clear {ref}"
    )
    if refused.status_code != 409:
        raise DemoError(f"clearing {ref} (medical lapsing mid-tour) answered {refused.status_code}")
    new_ref, force = demo.slots[(plan.index, d.REPLACEMENT_SLOT)]
    demo.api.call(
        "POST",
        "deployment",
        f"{base}/officers/{ref}/replacement",
        manager,
        what=f"replace {ref} with {new_ref} on {did}",
        json={"officer_ref": new_ref, "reason": "Failed clearance: medical lapses mid-tour."},
        headers=demo.key("replace", did, ref),
    )
    demo.api.call(
        "POST",
        "deployment",
        f"{base}/officers/{new_ref}/release",
        demo.tokens.liaison(force),
        what=f"{force} releasing {new_ref}",
    )
    demo.out.replaced += 1
    demo.progress.step(f"{ref} failed clearance and was replaced", 3)
    return new_ref, force


def backfill(demo: Demo, plan: d.RequestPlan, did: str, home_on: date) -> str | None:
    """Fill the post the repatriated officer left, from the day after they came home: the
    reserve officer, if the post's matches rank them (they fit by construction)."""
    base = f"/v1/deployments/{did}"
    manager = demo.tokens.manager()
    deployment, _ = demo.api.call("GET", "deployment", base, manager, what=f"deployment {did}")
    vacant = next((p for p in deployment["posts"] if p["status"] == "vacant"), None)
    if vacant is None:
        raise DemoError(f"no post of {did} reopened after the repatriation")
    matches, _ = demo.api.call(
        "GET",
        "deployment",
        f"{base}/posts/{vacant['post_id']}/matches",
        manager,
        what=f"matches for post {vacant['post_id']} of {did}",
    )
    ref, force = demo.slots[(plan.index, d.BACKFILL_SLOT)]
    if ref not in {m["officer_ref"] for m in matches["items"]}:
        raise DemoError(f"the backfill {ref} is not among the matches of {did}")
    demo.progress.step("backfill: matches ranked")
    demo.api.call(
        "POST",
        "deployment",
        f"{base}/nominations",
        manager,
        what=f"backfill {vacant['post_id']} of {did} with {ref}",
        json={"officer_ref": ref, "post_id": vacant["post_id"]},
        headers=demo.key("backfill", did, ref),
    )
    demo.api.call(
        "POST",
        "deployment",
        f"{base}/officers/{ref}/release",
        demo.tokens.liaison(force),
        what=f"{force} releasing {ref}",
    )
    demo.api.call(
        "POST", "deployment", f"{base}/officers/{ref}/clearance", manager, what=f"clear {ref}"
    )
    joins = home_on + timedelta(days=1)
    demo.api.call(
        "POST",
        "deployment",
        f"{base}/officers/{ref}/deployment",
        manager,
        what=f"{ref} joins {did}",
        json={"on": joins.isoformat()},
        headers=fast_forward(joins),
    )
    demo.out.backfilled += 1
    demo.out.officers_deployed += 1
    demo.progress.step("backfill: officer joined the tour", 4)
    return ref
