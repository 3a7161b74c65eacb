// ringscope dashboard: the in-kernel aggregates (serve --aggregate, POST
// /api/aggregates) as live heatmaps over time, drawn on a plain canvas.
//
// GET /api/aggregates is polled once a second; it returns cumulative values,
// so each column of a heatmap is the difference between two polls: for a
// histogram, the events of that second per log2 bucket (rows, latency or
// size going up); for a counter, the events of that second per label set
// (rows, the busiest label sets). Brighter is more (log scale).
// A plain canvas rather than a chart library: a heatmap is a grid of
// rectangles, and the page has no other dependency.
// Label values are attacker-controlled (comm): they only reach the page
// through textContent and canvas fillText.
"use strict";

const POLL_MS = 1000;
const COLUMNS = 120; // seconds of history
const MAX_ROWS = 12; // label sets per counter heatmap
const ROW_LABEL_W = 70;

const $ = (sel, root = document) => root.querySelector(sel);
const views = new Map(); // id -> {doc, prev, columns: [{t, cells: Map(row -> n)}], el}

function headers() {
  const token = sessionStorage.getItem("ringscope-token") || "";
  return token ? { Authorization: "Bearer " + token } : {};
}

async function request(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, init);
  if (r.status === 204) return {};
  const doc = await r.json();
  if (!r.ok) throw new Error(doc.error || String(r.status));
  return doc;
}

// Bucket j holds [2^j, 2^(j+1)) ns or bytes.
function fmtValue(v, unit) {
  if (unit === "nsecs") {
    for (const [d, u] of [[1e9, "s"], [1e6, "ms"], [1e3, "\u00b5s"]]) if (v >= d) return +(v / d).toPrecision(3) + u;
    return v + "ns";
  }
  for (const [d, u] of [[2 ** 30, "G"], [2 ** 20, "M"], [2 ** 10, "K"]]) if (v >= d) return +(v / d).toPrecision(3) + u;
  return String(v);
}

// The q-quantile's bucket lower bound in one column of a histogram.
function quantile(cells, q) {
  const rows = [...cells.keys()].sort((a, b) => a - b);
  const total = rows.reduce((s, r) => s + cells.get(r), 0);
  let seen = 0;
  for (const r of rows) {
    seen += cells.get(r);
    if (seen >= q * total) return 2 ** r;
  }
  return null;
}

const labelKey = (r) => (r.label === null ? "(all)" : String(r.label));

function column(doc, prev) {
  const cells = new Map();
  if (!prev) return cells;
  if (doc.kind === "log2") {
    doc.slots.forEach((n, j) => { const d = n - (prev.slots[j] || 0); if (d > 0) cells.set(j, d); });
  } else {
    const before = new Map(prev.top.map((r) => [labelKey(r), r.count]));
    for (const r of doc.top) {
      const d = r.count - (before.get(labelKey(r)) ?? 0);
      if (d > 0) cells.set(labelKey(r), d);
    }
  }
  return cells;
}

function panel(doc) {
  const el = document.createElement("div");
  el.className = "agg";
  el.dataset.id = doc.id;
  const head = document.createElement("div");
  head.className = "agg-head";
  const title = document.createElement("span");
  title.className = "agg-title";
  title.textContent = doc.metric;
  const id = document.createElement("span");
  id.className = "muted";
  id.textContent = " " + doc.id;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "remove";
  remove.addEventListener("click", () => removeAggregate(doc.id));
  head.append(title, id, remove);
  const canvas = document.createElement("canvas");
  canvas.width = 900;
  canvas.height = 180;
  const info = document.createElement("div");
  info.className = "agg-info muted";
  el.append(head, canvas, info);
  return el;
}

function rowsOf(view) {
  const seen = new Map();
  for (const c of view.columns) for (const [r, n] of c.cells) seen.set(r, (seen.get(r) || 0) + n);
  if (view.doc.kind === "log2") {
    const rows = [...seen.keys()].map(Number);
    if (!rows.length) return [];
    const lo = Math.min(...rows), hi = Math.max(...rows);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_ROWS).map(([r]) => r).sort();
}

function draw(view) {
  const canvas = $("canvas", view.el);
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  ctx.fillStyle = "#0c1014";
  ctx.fillRect(0, 0, w, h);
  const rows = rowsOf(view);
  const log2 = view.doc.kind === "log2";
  if (!rows.length) {
    ctx.fillStyle = "#8a96a3";
    ctx.fillText("no events yet", ROW_LABEL_W, h / 2);
    return;
  }
  let peak = 1;
  for (const c of view.columns) for (const n of c.cells.values()) peak = Math.max(peak, n);
  const cw = (w - ROW_LABEL_W) / COLUMNS, rh = h / rows.length;
  const x0 = w - view.columns.length * cw;
  view.columns.forEach((c, i) => {
    rows.forEach((r, k) => {
      const n = c.cells.get(log2 ? r : String(r));
      if (!n) return;
      const a = Math.log1p(n) / Math.log1p(peak);
      ctx.fillStyle = `rgba(79, 179, 255, ${0.15 + 0.85 * a})`;
      // histograms: larger values higher up; counters: in label order from the top
      const y = log2 ? h - (k + 1) * rh : k * rh;
      ctx.fillRect(x0 + i * cw, y, Math.ceil(cw), Math.ceil(rh));
    });
  });
  ctx.fillStyle = "#dde3ea";
  ctx.font = "11px ui-monospace, monospace";
  const every = Math.max(1, Math.ceil(rows.length / Math.floor(h / 12)));
  rows.forEach((r, k) => {
    if (k % every) return;
    const label = log2 ? "\u2265 " + fmtValue(r === 0 ? 0 : 2 ** r, view.doc.unit) : String(r).slice(0, 10);
    const y = log2 ? h - k * rh - rh / 2 : k * rh + rh / 2;
    ctx.fillText(label, 2, y + 4);
  });
}

function describe(view) {
  const d = view.doc, last = view.columns[view.columns.length - 1];
  const rate = last ? [...last.cells.values()].reduce((a, b) => a + b, 0) : 0;
  let text = `${rate} events/s \u00b7 ${d.count} in total \u00b7 ${d.label_sets}/${d.max_labels} label sets`;
  if (d.overflow) text += ` \u00b7 ${d.overflow} in "other"`;
  if (d.kind === "log2" && last && last.cells.size) {
    text += ` \u00b7 this second: p50 \u2265 ${fmtValue(quantile(last.cells, 0.5), d.unit)}, ` +
      `p99 \u2265 ${fmtValue(quantile(last.cells, 0.99), d.unit)}`;
  }
  $(".agg-info", view.el).textContent = text;
}

function update(docs) {
  const list = $("#agg-list");
  const ids = new Set(docs.map((d) => d.id));
  for (const [id, view] of views) if (!ids.has(id)) { view.el.remove(); views.delete(id); }
  for (const doc of docs) {
    let view = views.get(doc.id);
    if (!view) {
      view = { doc, prev: null, columns: [], el: panel(doc) };
      views.set(doc.id, view);
      list.append(view.el);
    }
    if (view.prev) view.columns.push({ t: doc.ts_ns, cells: column(doc, view.prev) });
    if (view.columns.length > COLUMNS) view.columns.shift();
    view.prev = doc;
    view.doc = doc;
    draw(view);
    describe(view);
  }
  $("#agg-empty").hidden = docs.length > 0;
}

let pollFailed = false; // a failed poll's message is cleared by the next good poll, a form's is not

async function poll() {
  try {
    const doc = await request("GET", "/api/aggregates");
    update(doc.aggregates);
    if (pollFailed) $("#agg-error").textContent = "";
    pollFailed = false;
  } catch (err) {
    $("#agg-error").textContent = String(err.message || err);
    pollFailed = true;
  }
  setTimeout(poll, POLL_MS);
}

async function removeAggregate(id) {
  try {
    await request("DELETE", "/api/aggregates?" + new URLSearchParams({ id }));
  } catch (err) {
    $("#agg-error").textContent = String(err.message || err);
  }
}

$("#agg-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const spec = $("#agg-spec").value.trim();
  if (!spec) return;
  $("#agg-error").textContent = "loading\u2026";
  pollFailed = false;
  try {
    await request("POST", "/api/aggregates", { spec });
    $("#agg-error").textContent = "";
  } catch (err) {
    $("#agg-error").textContent = String(err.message || err);
  }
});

poll();
