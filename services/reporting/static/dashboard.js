// The reporting dashboard: signs in with the provider (sign-in.js; the tokens stay in memory),
// draws KPI tiles and charts, a filterable table of requests and the live event feed.
"use strict";

const FILTER_NAMES = ["from", "to", "region", "partner_type"];
const STATUSES = ["submitted", "in_triage", "information_requested", "assessed", "approved",
  "rejected", "on_hold", "sourcing", "deploying", "deployed", "closed", "withdrawn"];
const $ = (id) => document.getElementById(id);
const charts = {};
let nextCursor = null;
let feed = null;
let feedSince = null;
let live = true;
let shownSignedIn = false;

// --- the filters, kept in the fragment ---------------------------------------------------------
function readFragment() {
  // `/#from=…&to=…` scopes the page (a link, a test, the way back from signing in); `live=off`
  // leaves the feed closed, for snapshots (a headless browser waits for open streams).
  const params = new URLSearchParams(location.hash.slice(1));
  live = params.get("live") !== "off";
  const form = $("filters");
  for (const name of FILTER_NAMES) if (params.get(name)) form.elements[name].value = params.get(name);
  writeFragment(); // anything else in it (an old `#token=` link) goes
}

function writeFragment() {
  const query = filterQuery();
  if (!live) query.set("live", "off");
  history.replaceState(null, "", query.toString() ? `#${query}` : location.pathname);
}

function filterQuery() {
  const query = new URLSearchParams();
  const form = $("filters");
  for (const name of FILTER_NAMES) if (form.elements[name].value) query.set(name, form.elements[name].value);
  return query;
}

async function api(path, query) {
  const url = query && query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${accessToken()}` } });
  if (response.status === 401) forget("Signed out: the gateway did not accept the session's token.");
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
  if (s.posts) {
    $("kpi-post-fill").textContent = pct(s.posts.fill_rate);
    $("kpi-post-fill-detail").textContent = `${s.posts.filled}/${s.posts.total}`;
    $("kpi-hours-to-fill").textContent = num(s.posts.hours_to_fill.median);
  }
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
function closeFeed(state = "disconnected") {
  if (feed) feed.close();
  feed = null;
  $("feed-state").textContent = state;
}

function connectFeed() {
  closeFeed();
  if (!live) { $("feed-state").textContent = "off"; return; }
  // EventSource cannot send headers: the token goes in the query (same origin, not logged).
  const query = new URLSearchParams({ access_token: accessToken() });
  if (feedSince) query.set("since", feedSince);
  feed = new EventSource(`/v1/stream?${query}`);
  feed.onopen = () => { $("feed-state").textContent = "live"; };
  feed.onerror = (event) => {
    $("feed-state").textContent = event.target.readyState === EventSource.CLOSED ? "closed" : "reconnecting…";
  };
  // The feed ends when the token it was opened with expires: on again with the renewed one.
  feed.addEventListener("token-expired", () => (accessToken() ? connectFeed() : closeFeed()));
  feed.addEventListener("gateway-event", (message) => {
    feedSince = message.lastEventId || feedSince;
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
  if (!accessToken()) return;
  say("Loading…");
  try {
    const s = await (await api("/v1/summary", filterQuery())).json();
    showTiles(s);
    showCharts(s);
    await loadTable();
    say("");
  } catch (error) {
    if (accessToken()) say(`Could not load: ${error.message}`);
  }
}

function showSession(reason) {
  const token = accessToken();
  $("signed-out").hidden = Boolean(token);
  $("signed-in").hidden = !token;
  $("board").hidden = !token;
  if (token) {
    const claims = claimsOf(token);
    const name = claims.name || claims.preferred_username || claims.sub;
    $("who").textContent = `${name} (${claims.role}${claims.clearance ? `, ${claims.clearance}` : ""})`;
  } else {
    // Nothing the session read stays on the page.
    $("request-rows").replaceChildren();
    $("feed").replaceChildren();
    for (const tile of document.querySelectorAll("#tiles output")) tile.textContent = "–";
    for (const [id, chart] of Object.entries(charts)) { chart.destroy(); delete charts[id]; }
    say(reason);
  }
}

function sessionChanged(reason) {
  const signedIn = Boolean(accessToken());
  const renewed = signedIn && shownSignedIn;
  shownSignedIn = signedIn;
  showSession(reason);
  if (renewed) return;
  if (signedIn) { refresh(); connectFeed(); }
  else { closeFeed(); feedSince = null; }
}

async function start() {
  for (const s of STATUSES) $("table-status").append(new Option(s, s));
  $("sign-in").addEventListener("click", () => signIn(location.hash).catch((e) => say(`Could not sign in: ${e.message}`)));
  $("signout").addEventListener("click", signOut);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); writeFragment(); refresh(); });
  $("table-status").addEventListener("change", () => loadTable().catch((e) => say(e.message)));
  $("table-sort").addEventListener("change", () => loadTable().catch((e) => say(e.message)));
  $("more").addEventListener("click", () => loadTable(true).catch((e) => say(e.message)));
  $("csv").addEventListener("click", () => downloadCsv().catch((e) => say(e.message)));

  let reason = "Signed out. Sign in to see the dashboard.";
  $("sign-in").disabled = true; // until the provider's endpoints are known
  try {
    if (await loadProvider()) {
      $("sign-in").disabled = false;
      const answer = providerAnswer();
      if (answer) await completeSignIn(answer); // the fragment is the user's filters again
    } else {
      $("sign-in").disabled = true;
      reason = "Sign-in is not configured: the reporting service trusts no OpenID Connect provider.";
    }
  } catch (error) {
    reason = `Signed out: could not sign in (${error.message}).`;
  }
  readFragment();
  session.changed = sessionChanged;
  sessionChanged(reason);
}

document.addEventListener("DOMContentLoaded", start);
