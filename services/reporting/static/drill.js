// The drill-down: a filtered, paginated table of requests or deployments (with its CSV, made by
// the server), and one request's facts, deployments and timeline.
"use strict";

const REDACTED = "Withheld: OFFICIAL-SENSITIVE (needs SC clearance)";
// Keyset pages: the cursors of the pages before this one, so "Previous" can go back.
let trail = [];
let shownCursor = null;
let shownNext = null;

function noteNavigation() {
  const cursor = currentState().params.get("cursor");
  if (cursor && cursor === shownNext) trail.push(shownCursor);
  else if (trail.length && cursor === (trail[trail.length - 1] || null)) trail.pop();
  else if (cursor !== shownCursor) trail = [];
}

function tag(text, colour) {
  return el("strong", `govuk-tag${colour ? ` govuk-tag--${colour}` : ""}`, text);
}

const STATUS_COLOURS = { approved: "green", deployed: "green", rejected: "red", withdrawn: "grey", closed: "grey",
  on_hold: "yellow", information_requested: "orange", cancelled: "red", completed: "grey", extended: "turquoise" };
const statusTag = (kind, s) => tag(label(kind, s), STATUS_COLOURS[s] || "blue");

function requestLink(id, reference) {
  return link(fragmentWith({ view: "request", id }), reference || id);
}

function missionText(row) {
  if (row.mission) return row.mission;
  return (row.withheld || []).includes("mission") ? REDACTED : "None";
}

const TABLES = {
  requests: {
    title: "Requests",
    path: "/v1/requests",
    query(params) {
      const query = filterQuery(params);
      for (const d of params.getAll("decision")) query.append("decision", d);
      return query;
    },
    columns: [
      { label: "Reference", value: (r) => requestLink(r.request_id, r.reference) },
      { label: "Title", value: (r) => (r.redacted && r.title === null ? el("span", "redacted", REDACTED) : r.title) },
      { label: "Partner", value: (r) => `${r.partner_id} (${label("partner_type", r.partner_type)})` },
      { label: "Country", value: (r) => label("country", r.country) },
      { label: "Capability", value: (r) => label("capability", r.capability) },
      { label: "Classification", value: (r) => r.classification },
      { label: "Status", value: (r) => statusTag("status", r.status) },
      { label: "Score", numeric: true, value: (r) => (r.score === null ? "" : Math.round(r.score)) },
      { label: "Submitted", value: (r) => shortDay(r.submitted_at) },
      { label: "Decided", value: (r) => shortDay(r.decided_at) },
    ],
  },
  deployments: {
    title: "Deployments",
    path: "/v1/deployments",
    query(params) {
      const query = new URLSearchParams();
      for (const name of ["from", "to", "country", "region", "capability", "partner", "partner_type", "classification", "mission", "no_mission", "sort", "order"]) {
        if (params.get(name)) query.set(name, params.get(name));
      }
      for (const s of params.getAll("deployment_status")) query.append("status", s);
      return query;
    },
    columns: [
      { label: "Request", value: (r) => requestLink(r.request_id, r.reference) },
      { label: "Mission", value: (r) => (r.mission ? r.mission : el("span", "redacted", missionText(r))) },
      { label: "Country", value: (r) => label("country", r.country) },
      { label: "Capability", value: (r) => label("capability", r.capability) },
      { label: "Status", value: (r) => statusTag("deployment", r.status) },
      { label: "Tour", value: (r) => `${shortDay(r.tour_start)} to ${shortDay(r.tour_end)}` },
      { label: "Officers deployed", numeric: true, value: (r) => `${r.officers_deployed} of ${r.headcount}` },
    ],
  },
};

async function showTable(view, params) {
  const table = TABLES[view];
  const query = table.query(params);
  $("table-title").textContent = table.title;
  $("back-to-overview").href = fragmentWith({ view: "overview" });
  const extra = [];
  const decisions = params.getAll("decision");
  if (decisions.length) extra.push(`decided: ${decisions.join(" or ")}`);
  const states = params.getAll("deployment_status");
  if (view === "deployments" && states.length) extra.push(`deployments ${states.join(", ")}`);
  if (params.get("mission")) extra.push(`mission ${params.get("mission")}`);
  if (params.get("no_mission")) extra.push("deployments without a mission");
  if (view === "deployments" && params.get("status")) extra.push("(the status filter is a request's: not applied to deployments)");
  $("table-scope").textContent = `${scopeText(params)}${extra.length ? ` Only ${extra.join("; ")}.` : ""}`;
  const page = new URLSearchParams(query);
  if (params.get("cursor")) page.set("cursor", params.get("cursor"));
  page.set("limit", params.get("limit") || "20");
  const answer = await (await api(table.path, page)).json();
  $("drill-table").replaceChildren(govukTable(`${table.title} for these filters`, table.columns, answer.items));
  shownCursor = params.get("cursor");
  shownNext = answer.next_cursor;
  $("csv").onclick = () => downloadCsv(table.path, query, view).catch(failed);
  showPages(params);
}

function showPages(params) {
  const nav = $("pages");
  nav.replaceChildren();
  const keep = { ...drillOf(params) };
  if (trail.length) {
    const prev = el("div", "govuk-pagination__prev");
    const a = link(fragmentWith({ ...keep, cursor: trail[trail.length - 1] }), "");
    a.className = "govuk-link govuk-pagination__link";
    a.rel = "prev";
    a.append(el("span", "govuk-pagination__link-title", "Previous"), el("span", "govuk-visually-hidden", " page"));
    prev.append(a);
    nav.append(prev);
  }
  if (shownNext) {
    const next = el("div", "govuk-pagination__next");
    const a = link(fragmentWith({ ...keep, cursor: shownNext }), "");
    a.className = "govuk-link govuk-pagination__link";
    a.rel = "next";
    a.id = "next-page";
    a.append(el("span", "govuk-pagination__link-title", "Next"), el("span", "govuk-visually-hidden", " page"));
    next.append(a);
    nav.append(next);
  }
}

// --- one request -------------------------------------------------------------------------------
const words = (type) => type.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase().replace(/^./, (c) => c.toUpperCase());

async function showRequest(id) {
  if (!id) throw new Error("no request named");
  const [row, audit, deployments] = await Promise.all([
    api(`/v1/requests/${encodeURIComponent(id)}`).then((r) => r.json()),
    api(`/v1/audit/${encodeURIComponent(id)}`).then((r) => r.json()),
    api("/v1/deployments", new URLSearchParams({ request_id: id })).then((r) => r.json()),
  ]);
  $("back-to-table").href = fragmentWith({ view: "requests" });
  $("request-title").textContent = row.reference;
  const title = row.redacted && row.title === null ? el("span", "redacted", REDACTED) : row.title;
  summaryList($("request-facts"), [
    ["Title", title],
    ["Status", statusTag("status", row.status)],
    ["Partner", `${row.partner_id} (${label("partner_type", row.partner_type)})`],
    ["Country", `${label("country", row.country)} (${label("region", row.region)})`],
    ["Capability", label("capability", row.capability)],
    ["Classification", row.classification],
    ["Mission", missionText(row)],
    ["Officers asked for", row.headcount],
    ["Needed by", day(row.needed_by)],
    ["Score", row.score === null ? "" : Math.round(row.score)],
    ["Risk tier", row.risk_tier],
    ["Submitted", moment(row.submitted_at)],
    ["Decided", row.decided_at ? `${moment(row.decided_at)} (${row.decision})` : ""],
  ]);
  $("request-deployments").replaceChildren(govukTable("Deployments for this request", TABLES.deployments.columns.slice(1), deployments.items));
  const list = $("timeline");
  list.replaceChildren();
  for (const e of audit.events) {
    const item = el("li", "timeline__item");
    item.append(el("h3", "govuk-heading-s timeline__title", words(e.event_type)));
    const when = el("p", "govuk-body-s timeline__when");
    const time = el("time", "", moment(e.occurred_at));
    time.dateTime = e.occurred_at;
    when.append(time, ` by ${e.actor.role} (${e.producer})`);
    item.append(when);
    list.append(item);
  }
}


