// The reporting dashboard: signs in with the provider (sign-in.js; the tokens stay in memory),
// keeps the filters and the view in the URL's fragment, and shows the overview (overview.js),
// a drill-down table or one request (drill.js), with GOV.UK Frontend's patterns for filters,
// dates and errors.
"use strict";

// The filters of every view, in the order the fragment lists them.
const FILTERS = ["from", "to", "country", "region", "capability", "partner", "partner_type", "status", "classification"];
// What a drill-down adds to the filters (kept in the fragment, not in the form).
const DRILL = ["decision", "deployment_status", "mission", "no_mission", "sort", "order", "limit", "cursor", "id"];
const MULTI = new Set(["decision", "deployment_status"]);
const $ = (id) => document.getElementById(id);
const reference = { labels: {}, loaded: false };
let live = true;
let shownSignedIn = false;

// --- the fragment: `#view=requests&country=KE&…` -------------------------------------------------
function currentState() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { params, view: params.get("view") || "overview" };
}

/** The fragment for `changes` over the current filters (a drill-down's link). */
function fragmentWith(changes, { keepDrill = false } = {}) {
  const now = new URLSearchParams(location.hash.slice(1));
  const out = new URLSearchParams();
  const merged = { ...Object.fromEntries(FILTERS.map((n) => [n, now.get(n)])), ...(keepDrill ? drillOf(now) : {}), ...changes };
  if (merged.view && merged.view !== "overview") out.set("view", merged.view);
  for (const name of [...FILTERS, ...DRILL]) {
    const value = merged[name];
    if (value === undefined || value === null || value === "") continue;
    for (const v of [].concat(value)) out.append(name, v);
  }
  if (!live) out.set("live", "off");
  return `#${out}`;
}

function drillOf(params) {
  const out = { view: params.get("view") };
  for (const name of DRILL) out[name] = MULTI.has(name) ? params.getAll(name) : params.get(name);
  return out;
}

function readFragment() {
  // `live=off` leaves the feed closed, for snapshots (a headless browser waits for open streams).
  const { params } = currentState();
  live = params.get("live") !== "off";
  setForm(params);
  // Anything else in it (an old `#token=` link, a provider's answer) goes.
  history.replaceState(null, "", fragmentWith({}, { keepDrill: true }).replace(/^#$/, location.pathname));
}

function filterQuery(params = currentState().params) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  return query;
}

// --- the filter form ---------------------------------------------------------------------------
function setForm(params) {
  const form = $("filters");
  for (const name of FILTERS) {
    const value = params.get(name) || "";
    if (name === "from" || name === "to") {
      const [y, m, d] = value.split("-");
      form.elements[`${name}-year`].value = y || "";
      form.elements[`${name}-month`].value = m ? String(Number(m)) : "";
      form.elements[`${name}-day`].value = d ? String(Number(d)) : "";
    } else if (form.elements[name]) {
      const field = form.elements[name];
      if (field.tagName === "SELECT" && value && ![...field.options].some((o) => o.value === value)) {
        field.append(new Option(value, value)); // a code the lists do not know: shown, not lost
      }
      field.value = value;
    }
  }
}

/** The form's filters, or the errors that stop them ({field, message} for the error summary). */
function readForm() {
  const form = $("filters");
  const values = {};
  const errors = [];
  for (const name of FILTERS) {
    if (name === "from" || name === "to") {
      const parts = ["day", "month", "year"].map((p) => form.elements[`${name}-${p}`].value.trim());
      const label = name === "from" ? "Submitted from" : "Submitted to";
      if (parts.every((p) => p === "")) continue;
      const [d, m, y] = parts.map(Number);
      const when = new Date(Date.UTC(y, m - 1, d));
      const real = parts.every((p) => /^\d+$/.test(p)) && parts[2].length === 4
        && when.getUTCFullYear() === y && when.getUTCMonth() === m - 1 && when.getUTCDate() === d;
      if (parts.some((p) => p === "")) errors.push({ field: name, message: `${label} must include a day, month and year` });
      else if (!real) errors.push({ field: name, message: `${label} must be a real date` });
      else values[name] = `${parts[2]}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
    } else if (form.elements[name].value.trim()) {
      values[name] = form.elements[name].value.trim();
    }
  }
  if (values.from && values.to && values.from > values.to) {
    errors.push({ field: "to", message: "Submitted to must be the same as or after submitted from" });
  }
  return { values, errors };
}

function fillChoices(choices) {
  const lists = {
    country: choices.countries, region: choices.regions, capability: choices.capabilities,
    partner_type: choices.partner_types, status: choices.statuses, classification: choices.classifications,
  };
  for (const [name, entries] of Object.entries(lists)) {
    const select = $("filters").elements[name];
    for (const e of entries) select.append(new Option(e.label, e.code));
    reference.labels[name] = Object.fromEntries(entries.map((e) => [e.code, e.label]));
  }
  reference.loaded = true;
}

function label(kind, code) {
  return (reference.labels[kind] && reference.labels[kind][code]) || code;
}

// --- errors, the GOV.UK way: a summary at the top, the message at the field -------------------
const FIELD_TARGETS = { from: "from-day", to: "to-day", status: "status-filter" };

function showErrors(errors) {
  for (const group of document.querySelectorAll("#filters .govuk-form-group--error")) group.classList.remove("govuk-form-group--error");
  for (const message of document.querySelectorAll("#filters .govuk-error-message")) { message.hidden = true; message.textContent = ""; }
  for (const input of document.querySelectorAll("#filters .govuk-input--error, #filters .govuk-select--error")) {
    input.classList.remove("govuk-input--error", "govuk-select--error");
  }
  const list = $("error-list");
  list.replaceChildren();
  $("error-summary").hidden = errors.length === 0;
  if (!errors.length) return;
  for (const { field, message } of errors) {
    const target = FIELD_TARGETS[field] || field;
    const item = el("li");
    if ($(target)) {
      const a = link(`#${target}`, message);
      a.addEventListener("click", (event) => { event.preventDefault(); $(target).focus(); });
      item.append(a);
      $(`group-${field}`)?.classList.add("govuk-form-group--error");
      const at = $(`${field}-error`);
      if (at) {
        at.hidden = false;
        at.replaceChildren(el("span", "govuk-visually-hidden", "Error: "), message);
      }
      const inputs = field === "from" || field === "to" ? document.querySelectorAll(`#${field} input`) : [$(target)];
      for (const input of inputs) input.classList.add(input.tagName === "SELECT" ? "govuk-select--error" : "govuk-input--error");
    } else {
      item.textContent = message;
    }
    list.append(item);
  }
  $("error-summary").focus();
}

/** A problem+json answer's fields (`query.to`) as the form's errors. */
function problemErrors(problem, fallback) {
  const listed = (problem.errors || []).map((e) => ({ field: String(e.field || "").replace(/^query\./, ""), message: e.message }));
  return listed.length ? listed : [{ field: "", message: problem.detail || fallback }];
}

class ApiError extends Error {
  constructor(problem, fallback) { super(problem.detail || fallback); this.problem = problem; }
}

async function api(path, query) {
  const url = query && query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${accessToken()}` } });
  if (response.status === 401) forget("Signed out: the gateway did not accept the session's token.");
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new ApiError(problem, `${response.status} ${response.statusText}`);
  }
  return response;
}

/** A server-side CSV export of `path` with `query`, saved as a file. */
async function downloadCsv(path, query, name) {
  const q = new URLSearchParams(query);
  q.set("format", "csv");
  const blob = await (await api(path, q)).blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${name}.csv`;
  a.click();
  URL.revokeObjectURL(a.href);
}

function say(message) { $("status").textContent = message || ""; }

function failed(error) {
  if (!accessToken()) return;
  if (error instanceof ApiError) showErrors(problemErrors(error.problem, error.message));
  else say(`Could not load: ${error.message}`);
}

/** The filters in words ("submitted from 3 March 2024, in Kenya"), for the top of each view. */
function scopeText(params) {
  const parts = [];
  if (params.get("from")) parts.push(`submitted from ${day(params.get("from"))}`);
  if (params.get("to")) parts.push(`submitted to ${day(params.get("to"))}`);
  for (const [name, words] of [["country", "in"], ["region", "in"], ["capability", "for"], ["partner", "from partner"],
    ["partner_type", "from"], ["status", "with status"], ["classification", "classified"]]) {
    if (params.get(name)) parts.push(`${words} ${label(name, params.get(name))}`);
  }
  return parts.length ? `Requests ${parts.join(", ")}.` : "All requests.";
}

// --- views -------------------------------------------------------------------------------------
async function show() {
  if (!accessToken()) return;
  const { params, view } = currentState();
  setForm(params);
  showErrors([]);
  for (const item of document.querySelectorAll("#views-nav [data-view]")) {
    const active = item.dataset.view === view || (view === "request" && item.dataset.view === "requests");
    item.classList.toggle("govuk-service-navigation__item--active", active);
    const a = item.querySelector("a");
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  $("view-overview").hidden = view !== "overview";
  $("view-table").hidden = view !== "requests" && view !== "deployments";
  $("view-request").hidden = view !== "request";
  $("filter-column").hidden = view === "request";
  say("Loading…");
  try {
    if (view === "requests" || view === "deployments") await showTable(view, params);
    else if (view === "request") await showRequest(params.get("id"));
    else await showOverview(params);
    say("");
  } catch (error) {
    say("");
    failed(error);
  }
}

function clearViews() {
  // Nothing the session read stays on the page.
  showTiles(null);
  clearCharts();
  $("drill-table").replaceChildren();
  $("pages").replaceChildren();
  $("request-facts").replaceChildren();
  $("request-deployments").replaceChildren();
  $("timeline").replaceChildren();
  $("feed").replaceChildren();
  $("partner-list").replaceChildren();
}

function showSession(reason) {
  const token = accessToken();
  $("signed-out").hidden = Boolean(token);
  $("signed-in").hidden = !token;
  $("board").hidden = !token;
  $("views-nav").hidden = !token;
  if (token) {
    const claims = claimsOf(token);
    const name = claims.name || claims.preferred_username || claims.sub;
    $("who").textContent = `${name} (${claims.role}${claims.clearance ? `, ${claims.clearance}` : ""})`;
  } else {
    clearViews();
    say(reason);
  }
}

function sessionChanged(reason) {
  const signedIn = Boolean(accessToken());
  const renewed = signedIn && shownSignedIn;
  shownSignedIn = signedIn;
  showSession(reason);
  if (renewed) return;
  if (signedIn) { show(); connectFeed(); }
  else { closeFeed(); feedSince = null; }
}

function applyFilters(event) {
  event.preventDefault();
  const { values, errors } = readForm();
  if (errors.length) { $("filter-panel").open = true; showErrors(errors); return; }
  const { view } = currentState();
  const target = fragmentWith({ ...Object.fromEntries(FILTERS.map((n) => [n, values[n]])), view: view === "request" ? "requests" : view });
  if (target === location.hash || (target === "#" && !location.hash)) show();
  else location.hash = target;
}

async function start() {
  $("sign-in").addEventListener("click", () => signIn(location.hash).catch((e) => say(`Could not sign in: ${e.message}`)));
  $("signout").addEventListener("click", signOut);
  $("filters").addEventListener("submit", applyFilters);
  $("clear-filters").addEventListener("click", (event) => {
    event.preventDefault();
    location.hash = fragmentWith({ ...Object.fromEntries(FILTERS.map((n) => [n, null])), view: currentState().view });
  });
  wireOverview();
  // On a phone the filters start folded, so the figures come first.
  if (window.matchMedia("(max-width: 40.0625em)").matches) $("filter-panel").open = false;
  try {
    fillChoices(await (await fetch("/dashboard/reference.json")).json());
  } catch (error) {
    say(`Could not load the filters' lists: ${error.message}`);
  }

  let reason = "Signed out. Sign in to see the dashboard.";
  $("sign-in").disabled = true; // until the provider's endpoints are known
  try {
    if (await loadProvider()) {
      $("sign-in").disabled = false;
      const answer = providerAnswer();
      if (answer) await completeSignIn(answer); // the fragment is the user's filters again
    } else {
      reason = "Sign-in is not configured: the reporting service trusts no OpenID Connect provider.";
    }
  } catch (error) {
    reason = `Signed out: could not sign in (${error.message}).`;
  }
  readFragment();
  window.addEventListener("hashchange", () => { noteNavigation(); show(); });
  session.changed = sessionChanged;
  sessionChanged(reason);
}

document.addEventListener("DOMContentLoaded", start);
