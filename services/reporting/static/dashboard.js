// The reporting dashboard: reads the API with the user's token (kept in sessionStorage only),
// draws KPI tiles and charts, a filterable table of requests and the live event feed.
"use strict";

const TOKEN_KEY = "jiph.reporting.token";
const FILTER_NAMES = ["from", "to", "region", "partner_type"];
const STATUSES = ["submitted", "in_triage", "information_requested", "assessed", "approved",
  "rejected", "on_hold", "sourcing", "deploying", "deployed", "closed", "withdrawn"];
const $ = (id) => document.getElementById(id);
const charts = {};
let nextCursor = null;
let feed = null;
let live = true;

// --- the token and the filters ---------------------------------------------------------------
function readFragment() {
  // `/#token=…&from=…` lets a link (or a test) sign in and scope the page; then the fragment goes.
  // `live=off` leaves the feed closed, for snapshots (a headless browser waits for open streams).
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) sessionStorage.setItem(TOKEN_KEY, params.get("token"));
  live = params.get("live") !== "off";
  const form = $("filters");
  for (const name of FILTER_NAMES) if (params.get(name)) form.elements[name].value = params.get(name);
  if (location.hash) history.replaceState(null, "", location.pathname);
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

function filterQuery() {
  const query = new URLSearchParams();
  const form = $("filters");
  for (const name of FILTER_NAMES) if (form.elements[name].value) query.set(name, form.elements[name].value);
  return query;
}

async function api(path, query) {
  const url = query && query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || `${response.status} ${response.statusText}`);
  }
  return response;
}

function say(message) { $("status").textContent = message || ""; }

// --- tiles -------------------------------------------------------------------------------------
const num = (v) => (v === null || v === undefined ? "–" : String(v));
const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 1000) / 10}%`);

function showTiles(s) {
  $("kpi-requests").textContent = num(s.requests.total);
  $("kpi-decision-median").textContent = num(s.days_to_decision.median);
  $("kpi-decision-p90").textContent = num(s.days_to_decision.p90);
  $("kpi-deploy-median").textContent = num(s.days_to_deployment.median);
  $("kpi-deploy-p90").textContent = num(s.days_to_deployment.p90);
  $("kpi-approval-rate").textContent = pct(s.outcomes.rates.approved);
  $("kpi-rejection-rate").textContent = pct(s.outcomes.rates.rejected);
  $("kpi-withdrawal-rate").textContent = pct(s.outcomes.rates.withdrawn);
  $("kpi-deployed-now").textContent = num(s.officers_deployed_now.total);
  $("kpi-officer-days").textContent = num(s.officer_days_overseas);
  $("kpi-women-deployed").textContent = pct(s.women.deployed.share);
  $("kpi-women-nominated").textContent = pct(s.women.nominated.share);
  const t = s.tours_ending;
  $("kpi-tours-ending").textContent = `${t.within_30_days}/${t.within_60_days}/${t.within_90_days}`;
  $("kpi-readiness").textContent = num(s.readiness_expiring_before_tour_end.total);
}

// --- charts ------------------------------------------------------------------------------------
const PALETTE = ["#1f5fa8", "#e07b24", "#2e9e5b", "#c23b3b", "#7a4fb5", "#8c6239", "#d45a9c",
  "#6b7a8f", "#b5a31f", "#19a3b5", "#4d4d4d", "#9ccf6b"];

function draw(id, type, labels, datasets, options = {}) {
  if (typeof Chart === "undefined") return;
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), {
    type,
    data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
  });
}

function bars(id, counts, label, horizontal = false) {
  draw(id, "bar", Object.keys(counts), [{ label, data: Object.values(counts), backgroundColor: PALETTE[0] }],
    { indexAxis: horizontal ? "y" : "x", plugins: { legend: { display: false } } });
}

function showCharts(s) {
  const weekly = s.requests.by_week_and_status;
  draw("chart-weekly", "bar", weekly.periods,
    Object.entries(weekly.series).map(([status, data]) => ({
      label: status, data, backgroundColor: PALETTE[STATUSES.indexOf(status) % PALETTE.length],
    })),
    { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  bars("chart-region", s.requests.by_region, "requests");
  bars("chart-capability", s.requests.by_capability, "requests", true);
  const histogram = s.days_to_decision.histogram;
  draw("chart-decision", "bar", histogram.map((b) => `${b.bucket} d`),
    [{ label: "decisions", data: histogram.map((b) => b.count), backgroundColor: PALETTE[2] }],
    { plugins: { legend: { display: false } } });
  const missions = s.officers_deployed_now.by_mission;
  draw("chart-mission", "doughnut", Object.keys(missions),
    [{ data: Object.values(missions), backgroundColor: PALETTE }]);
}

// --- the table ---------------------------------------------------------------------------------
function tableQuery() {
  const query = filterQuery();
  if ($("table-status").value) query.set("status", $("table-status").value);
  query.set("sort", $("table-sort").value);
  return query;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.append(td);
}

function addRows(items) {
  const body = $("request-rows");
  for (const r of items) {
    const tr = document.createElement("tr");
    tr.dataset.requestId = r.request_id;
    cell(tr, r.reference);
    if (r.redacted) cell(tr, "OFFICIAL-SENSITIVE (needs SC clearance)", "redacted");
    else cell(tr, r.title);
    cell(tr, r.partner_type);
    cell(tr, r.country);
    cell(tr, r.region);
    cell(tr, r.capability);
    cell(tr, r.classification);
    cell(tr, r.status);
    cell(tr, r.score === null ? "" : Math.round(r.score));
    cell(tr, r.submitted_at.slice(0, 10));
    cell(tr, r.decided_at ? r.decided_at.slice(0, 10) : "");
    body.append(tr);
  }
}

async function loadTable(append = false) {
  const query = tableQuery();
  if (append && nextCursor) query.set("cursor", nextCursor);
  const page = await (await api("/v1/requests", query)).json();
  if (!append) $("request-rows").replaceChildren();
  addRows(page.items);
  nextCursor = page.next_cursor;
  $("more").hidden = !nextCursor;
}

async function downloadCsv() {
  const query = tableQuery();
  query.set("format", "csv");
  const blob = await (await api("/v1/requests", query)).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "requests.csv";
  link.click();
  URL.revokeObjectURL(link.href);
}

// --- the live feed -----------------------------------------------------------------------------
function connectFeed() {
  if (feed) feed.close();
  if (!live) { $("feed-state").textContent = "off"; return; }
  feed = new EventSource(`/v1/stream?access_token=${encodeURIComponent(token())}`);
  feed.onopen = () => { $("feed-state").textContent = "live"; };
  feed.onerror = () => { $("feed-state").textContent = "reconnecting…"; };
  feed.addEventListener("gateway-event", (message) => {
    const e = JSON.parse(message.data);
    const item = document.createElement("li");
    const what = e.details.reference || e.request_id || e.details.offer_id || "";
    item.textContent = `${e.occurred_at.slice(0, 19)}  ${e.event_type}  ${what}  by ${e.actor.role}`;
    $("feed").prepend(item);
    while ($("feed").children.length > 100) $("feed").lastChild.remove();
  });
}

// --- wiring ------------------------------------------------------------------------------------
async function refresh() {
  if (!token()) return;
  say("Loading…");
  try {
    const s = await (await api("/v1/summary", filterQuery())).json();
    showTiles(s);
    showCharts(s);
    await loadTable();
    say("");
  } catch (error) {
    say(`Could not load: ${error.message}`);
  }
}

function showSignedIn() {
  const signedIn = Boolean(token());
  $("signin").hidden = signedIn;
  $("signed-in").hidden = !signedIn;
  if (signedIn) {
    try {
      const claims = JSON.parse(atob(token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      $("who").textContent = `${claims.sub} (${claims.role}${claims.clearance ? `, ${claims.clearance}` : ""})`;
    } catch { $("who").textContent = "signed in"; }
  }
}

function start() {
  readFragment();
  for (const s of STATUSES) $("table-status").append(new Option(s, s));
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    showSignedIn();
    refresh();
    connectFeed();
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    if (feed) feed.close();
    $("feed-state").textContent = "disconnected";
    showSignedIn();
  });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("table-status").addEventListener("change", () => loadTable().catch((e) => say(e.message)));
  $("table-sort").addEventListener("change", () => loadTable().catch((e) => say(e.message)));
  $("more").addEventListener("click", () => loadTable(true).catch((e) => say(e.message)));
  $("csv").addEventListener("click", () => downloadCsv().catch((e) => say(e.message)));
  showSignedIn();
  if (token()) { refresh(); connectFeed(); }
  else say("Sign in with a development token (role analyst or admin).");
}

document.addEventListener("DOMContentLoaded", start);
