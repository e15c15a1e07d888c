// GOV.UK tables built from rows: every chart's data, every drill-down table and the request's
// facts use these, so they look and read the same. Text only goes in with textContent.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function link(href, text) {
  const a = el("a", "govuk-link", text);
  a.href = href;
  return a;
}

/**
 * A GOV.UK table in a region that scrolls sideways on its own when it is wider than the screen
 * (the page never does). `columns`: [{label, numeric, value: (row) => text or Node}].
 */
function govukTable(caption, columns, rows) {
  const table = el("table", "govuk-table");
  const cap = el("caption", "govuk-table__caption govuk-table__caption--s", caption);
  table.append(cap);
  const head = el("thead", "govuk-table__head");
  const headRow = el("tr", "govuk-table__row");
  for (const c of columns) {
    const th = el("th", `govuk-table__header${c.numeric ? " govuk-table__header--numeric" : ""}`, c.label);
    th.scope = "col";
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody", "govuk-table__body");
  for (const row of rows) {
    const tr = el("tr", "govuk-table__row");
    columns.forEach((c, i) => {
      const value = c.value(row);
      const cell = el(i === 0 ? "th" : "td", `${i === 0 ? "govuk-table__header" : "govuk-table__cell"}${c.numeric ? " govuk-table__cell--numeric" : ""}`);
      if (i === 0) cell.scope = "row";
      if (value instanceof Node) cell.append(value);
      else cell.textContent = value === null || value === undefined ? "" : String(value);
      tr.append(cell);
    });
    body.append(tr);
  }
  if (!rows.length) {
    const tr = el("tr", "govuk-table__row");
    const td = el("td", "govuk-table__cell", "Nothing matches these filters.");
    td.colSpan = columns.length;
    tr.append(td);
    body.append(tr);
  }
  table.append(head, body);
  const region = el("div", "table-scroll");
  region.setAttribute("role", "region");
  region.setAttribute("aria-label", caption);
  region.tabIndex = 0; // keyboard users can scroll it
  region.append(table);
  return region;
}

/** A GOV.UK summary list: [[key, value (text or Node)], …]. */
function summaryList(list, pairs) {
  list.replaceChildren();
  for (const [key, value] of pairs) {
    const row = el("div", "govuk-summary-list__row");
    const dt = el("dt", "govuk-summary-list__key", key);
    const dd = el("dd", "govuk-summary-list__value");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value === null || value === undefined || value === "" ? "Not given" : String(value);
    row.append(dt, dd);
    list.append(row);
  }
}

// Dates the GOV.UK way: "3 June 2025", "3 June 2025 at 2:05pm" (UTC, as the gateway stores).
const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
const SHORT_DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

function day(iso) { return iso ? DAY.format(new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)) : ""; }
function shortDay(iso) { return iso ? SHORT_DAY.format(new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)) : ""; }
function moment(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  const h = when.getUTCHours();
  const m = String(when.getUTCMinutes()).padStart(2, "0");
  return `${DAY.format(when)} at ${h % 12 || 12}:${m}${h < 12 ? "am" : "pm"} UTC`;
}
