// The overview: KPI tiles, the world map and the charts, each chart with its data as a table and
// a CSV; every tile, bar, slice, country and table row drills down to a filtered table.
"use strict";

const num = (v) => (v === null || v === undefined ? "–" : String(v));
const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 1000) / 10}%`);
const DEPLOYED = ["deployed", "extended"];

// The tiles, from `GET /v1/summary`: one entry per tile (a new KPI is one more entry). `drill`:
// what the tile's link adds to the filters.
const TILES = [
  { key: "requests", label: "Requests", value: (s) => num(s.requests.total), drill: { view: "requests" } },
  {
    key: "decision-median", label: "Median days to decision", value: (s) => num(s.days_to_decision.median),
    note: (s) => `90th percentile ${num(s.days_to_decision.p90)}`,
    drill: { view: "requests", decision: ["approved", "rejected"] },
  },
  {
    key: "deploy-median", label: "Median days to deployment", value: (s) => num(s.days_to_deployment.median),
    note: (s) => `90th percentile ${num(s.days_to_deployment.p90)}`,
    drill: { view: "deployments", deployment_status: [...DEPLOYED, "completed"] },
  },
  {
    key: "approval-rate", label: "Approved", value: (s) => pct(s.outcomes.rates.approved),
    note: (s) => `rejected ${pct(s.outcomes.rates.rejected)}, withdrawn ${pct(s.outcomes.rates.withdrawn)}`,
    drill: { view: "requests", decision: ["approved"] },
  },
  {
    key: "deployed-now", label: "Officers deployed now", value: (s) => num(s.officers_deployed_now.total),
    drill: { view: "deployments", deployment_status: DEPLOYED },
  },
  {
    key: "officer-days", label: "Officer-days overseas", value: (s) => num(s.officer_days_overseas),
    drill: { view: "deployments", deployment_status: [...DEPLOYED, "completed"] },
  },
  {
    key: "women-deployed", label: "Women deployed", value: (s) => pct(s.women.deployed.share),
    note: (s) => `nominated ${pct(s.women.nominated.share)}`,
    drill: { view: "deployments", deployment_status: DEPLOYED },
  },
  {
    key: "tours-ending", label: "Tours ending within 30, 60, 90 days",
    value: (s) => `${s.tours_ending.within_30_days}/${s.tours_ending.within_60_days}/${s.tours_ending.within_90_days}`,
    drill: { view: "deployments", deployment_status: DEPLOYED, sort: "tour_end", order: "asc" },
  },
  {
    key: "readiness", label: "Readiness gaps", value: (s) => num(s.readiness_expiring_before_tour_end.total),
    note: () => "items expiring before tour end",
    drill: { view: "deployments", deployment_status: ["planned", "staffing", "ready", ...DEPLOYED], sort: "tour_end", order: "asc" },
  },
  {
    key: "post-fill", label: "Posts filled", value: (s) => (s.posts ? pct(s.posts.fill_rate) : "–"),
    note: (s) => (s.posts ? `${s.posts.filled} of ${s.posts.total} held; median ${num(s.posts.hours_to_fill.median)} hours to fill` : ""),
    drill: { view: "deployments", deployment_status: ["planned", "staffing", "ready", ...DEPLOYED] },
  },
];

function showTiles(summary) {
  const list = $("tiles");
  list.replaceChildren();
  for (const tile of TILES) {
    const item = el("li", "tile");
    const a = link(fragmentWith(tile.drill), "");
    a.classList.add("tile__link");
    a.append(el("span", "tile__label", tile.label));
    const value = el("span", "tile__value", summary ? tile.value(summary) : "–");
    value.id = `kpi-${tile.key}`;
    a.append(value);
    if (tile.note) a.append(el("span", "tile__note", summary ? tile.note(summary) : ""));
    item.append(a);
    list.append(item);
  }
}

// --- charts: each from `GET /v1/breakdown?by=…` (its table and CSV are the same rows) ----------
const COLOURS = { blue: "#1d70b8", dark: "#003078", green: "#00703c", orange: "#f47738", red: "#d4351c",
  purple: "#4c2c92", pink: "#d53880", brown: "#b58840", turquoise: "#28a197", grey: "#505a5f", yellow: "#ffdd00", lightBlue: "#5694ca" };
const PALETTE = Object.values(COLOURS);
const MISSION_LABELS = { withheld: "Withheld: OFFICIAL-SENSITIVE (needs SC clearance)", "no mission": "No mission (bilateral)" };

function missionDrill(key) {
  const base = { view: "deployments", deployment_status: DEPLOYED };
  if (key === "withheld") return { ...base, classification: "OFFICIAL-SENSITIVE" };
  if (key === "no mission") return { ...base, no_mission: "true" };
  return { ...base, mission: key };
}

function weekEnd(monday) {
  const d = new Date(`${monday}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 6);
  return d.toISOString().slice(0, 10);
}

// A drill-down may narrow the page's filters, never widen them: a week outside the chosen dates
// keeps the chosen bound.
const later = (a, b) => (a && b ? (a > b ? a : b) : a || b);
const earlier = (a, b) => (a && b ? (a < b ? a : b) : a || b);

const CHARTS = [
  {
    id: "chart-weekly", by: "week", title: "Requests submitted per week, by current status", kind: "stacked",
    keyLabel: (k) => `Week of ${shortDay(k)}`, seriesLabel: (s) => label("status", s),
    drill: (row, params) => ({ view: "requests", status: row.series,
      from: later(row.key, params.get("from")), to: earlier(weekEnd(row.key), params.get("to")) }),
  },
  { id: "chart-region", by: "region", title: "Requests by region", keyLabel: (k) => label("region", k),
    drill: (row) => ({ view: "requests", region: row.key }) },
  { id: "chart-capability", by: "capability", title: "Requests by capability", horizontal: true,
    keyLabel: (k) => label("capability", k), drill: (row) => ({ view: "requests", capability: row.key }) },
  { id: "chart-partner-type", by: "partner_type", title: "Requests by partner type", horizontal: true,
    keyLabel: (k) => label("partner_type", k), drill: (row) => ({ view: "requests", partner_type: row.key }) },
  { id: "chart-decision", by: "days_to_decision", title: "Days from submission to decision",
    keyLabel: (k) => `${k} days`, drill: () => ({ view: "requests", decision: ["approved", "rejected"] }) },
  { id: "chart-mission", by: "officers_by_mission", title: "Officers deployed now, by mission", kind: "doughnut",
    keyLabel: (k) => MISSION_LABELS[k] || k, drill: (row) => missionDrill(row.key) },
];
const charts = {};

function clearCharts() {
  for (const [id, chart] of Object.entries(charts)) { chart.destroy(); delete charts[id]; }
  $("charts").replaceChildren();
  $("world-map").replaceChildren();
  $("map-legend").replaceChildren();
  $("table-map").querySelector(".govuk-details__text").replaceChildren();
  showTiles(null);
}

function go(changes) { location.hash = fragmentWith(changes); }

function chartFigure(def, rows, params) {
  const figure = el("figure", `panel chart chart--${def.kind || (def.horizontal ? "horizontal" : "bars")}`);
  figure.id = `figure-${def.id}`;
  const caption = el("figcaption", "govuk-heading-s", def.title);
  caption.id = `${def.id}-caption`;
  const box = el("div", "chart__canvas");
  const canvas = el("canvas");
  canvas.id = def.id;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${def.title}: a chart; the table below gives every figure`);
  box.append(canvas);
  const details = el("details", "govuk-details");
  const summary = el("summary", "govuk-details__summary");
  summary.append(el("span", "govuk-details__summary-text", "Show the data as a table"));
  const text = el("div", "govuk-details__text");
  const columns = [
    { label: def.by === "week" ? "Week" : "Group", value: (r) => link(fragmentWith(def.drill(r, params)), def.keyLabel(r.key)) },
    ...(def.by === "week" ? [{ label: "Status", value: (r) => def.seriesLabel(r.series) }] : []),
    { label: def.by.startsWith("officers") ? "Officers" : "Requests", numeric: true, value: (r) => r.count },
  ];
  const shown = def.by === "week" ? rows.filter((r) => r.count > 0) : rows;
  text.append(govukTable(def.title, columns, shown));
  const csv = el("button", "govuk-button govuk-button--secondary", "Download CSV");
  csv.type = "button";
  csv.addEventListener("click", () => downloadCsv("/v1/breakdown", breakdownQuery(def.by, params), `breakdown-${def.by}`).catch(failed));
  text.append(csv);
  details.append(summary, text);
  figure.append(caption, box, details);
  return figure;
}

function breakdownQuery(by, params) {
  const query = filterQuery(params);
  query.set("by", by);
  return query;
}

function drawChart(def, rows, params) {
  if (typeof Chart === "undefined") return;
  let labels;
  let datasets;
  let pickRow;
  if (def.kind === "stacked") {
    labels = [...new Set(rows.map((r) => r.key))];
    const series = [...new Set(rows.map((r) => r.series))];
    datasets = series.map((s, i) => ({
      label: def.seriesLabel(s), backgroundColor: PALETTE[i % PALETTE.length],
      data: labels.map((k) => rows.find((r) => r.key === k && r.series === s)?.count || 0),
    }));
    pickRow = (index, dataset) => ({ key: labels[index], series: series[dataset] });
    labels = labels.map(def.keyLabel);
  } else {
    labels = rows.map((r) => def.keyLabel(r.key));
    const colours = def.kind === "doughnut" ? rows.map((r, i) => (r.key === "withheld" ? COLOURS.grey : PALETTE[i % PALETTE.length])) : COLOURS.blue;
    datasets = [{ label: def.by.startsWith("officers") ? "officers" : "requests", data: rows.map((r) => r.count), backgroundColor: colours }];
    pickRow = (index) => rows[index];
  }
  const axisTicks = { autoSkip: false, color: "#0b0c0c" }; // every bar keeps its label
  const options = {
    responsive: true, maintainAspectRatio: false, animation: false,
    onClick: (event, hit) => { if (hit.length) go(def.drill(pickRow(hit[0].index, hit[0].datasetIndex), params)); },
    onHover: (event, hit) => { event.native.target.style.cursor = hit.length ? "pointer" : "default"; },
    plugins: { legend: { display: def.kind === "stacked" || def.kind === "doughnut", position: "bottom" } },
  };
  if (def.kind !== "doughnut") {
    options.indexAxis = def.horizontal ? "y" : "x";
    const valueAxis = { beginAtZero: true, stacked: def.kind === "stacked", ticks: { precision: 0, color: "#0b0c0c" } };
    const groupAxis = { stacked: def.kind === "stacked", ticks: axisTicks };
    options.scales = def.horizontal ? { x: valueAxis, y: groupAxis } : { x: groupAxis, y: valueAxis };
  }
  // A horizontal chart is as tall as its bars need (so none loses its label).
  const box = $(def.id).parentElement;
  if (def.horizontal) box.style.height = `${Math.max(10, rows.length * 1.9 + 3)}rem`;
  charts[def.id] = new Chart($(def.id), { type: def.kind === "doughnut" ? "doughnut" : "bar", data: { labels, datasets }, options });
}

async function showMap(params, summaryData) {
  await worldMap.load();
  const measure = document.querySelector("input[name=map-measure]:checked").value;
  const counts = measure === "officers" ? summaryData.officers_deployed_now.by_country : summaryData.requests.by_country;
  const what = measure === "officers" ? "officers deployed now" : "requests";
  $("map-caption").textContent = measure === "officers" ? "Officers deployed now, by country" : "Requests by country";
  const drill = (code) => (measure === "officers"
    ? { view: "deployments", country: code, deployment_status: DEPLOYED } : { view: "requests", country: code });
  const scale = worldMap.draw($("world-map"), counts, what, (code) => go(drill(code)));
  const legend = $("map-legend");
  legend.replaceChildren();
  let low = 1;
  scale.bins.forEach((upper, i) => {
    if (upper < low) return;
    const item = el("li");
    const swatch = el("span", "swatch");
    swatch.style.backgroundColor = scale.shades[i];
    item.append(swatch, low === upper ? `${low}` : `${low}–${upper}`);
    legend.append(item);
    low = upper + 1;
  });
  const onMap = new Set(Object.values(worldMap.codes));
  const rows = Object.entries(counts).map(([code, count]) => ({ code, count }));
  $("table-map").querySelector(".govuk-details__text").replaceChildren(govukTable(
    $("map-caption").textContent,
    [
      { label: "Country or territory", value: (r) => link(fragmentWith(drill(r.code)), label("country", r.code)) },
      { label: "On the map", value: (r) => (onMap.has(r.code) ? "Yes" : "No (too small at this scale)") },
      { label: measure === "officers" ? "Officers" : "Requests", numeric: true, value: (r) => r.count },
    ],
    rows,
  ));
}

let lastSummary = null;

async function showOverview(params) {
  $("filter-summary").textContent = scopeText(params);
  const query = filterQuery(params);
  const [summaryData, ...breakdowns] = await Promise.all([
    api("/v1/summary", query).then((r) => r.json()),
    ...CHARTS.map((def) => api("/v1/breakdown", breakdownQuery(def.by, params)).then((r) => r.json())),
  ]);
  lastSummary = summaryData;
  showTiles(summaryData);
  const partners = $("partner-list");
  partners.replaceChildren(...Object.keys(summaryData.requests.by_partner || {}).map((p) => new Option(p, p)));
  for (const [id, chart] of Object.entries(charts)) { chart.destroy(); delete charts[id]; }
  $("charts").replaceChildren(...CHARTS.map((def, i) => chartFigure(def, breakdowns[i].rows, params)));
  CHARTS.forEach((def, i) => drawChart(def, breakdowns[i].rows, params));
  await showMap(params, summaryData);
}

function wireOverview() {
  showTiles(null);
  for (const radio of document.querySelectorAll("input[name=map-measure]")) {
    radio.addEventListener("change", () => lastSummary && showMap(currentState().params, lastSummary).catch(failed));
  }
}

// --- the live feed -----------------------------------------------------------------------------
let feed = null;
let feedSince = null;

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
    const item = el("li");
    const what = e.details.reference || e.request_id || e.details.offer_id || "";
    item.textContent = `${moment(e.occurred_at)}  ${e.event_type}  ${what}  by ${e.actor.role}`;
    $("feed").prepend(item);
    while ($("feed").children.length > 100) $("feed").lastChild.remove();
  });
}
