// ringscope dashboard: one NDJSON stream (fetch, so the bearer token goes in
// a header, never in the URL) and /api/status polled once a second.
// Event data is only ever written with textContent: paths and comms are
// attacker-controlled strings.
"use strict";

const MAX_ROWS = 200;
const HISTORY = 60; // seconds of rate history
const COLORS = ["#4fb3ff", "#ffb84f", "#7ee787", "#ff7b72", "#d2a8ff", "#79c0ff", "#f2cc60", "#56d4dd"];
const HEADER_FIELDS = new Set(["seq", "ts_ns", "type", "cpu", "pid", "tid", "uid", "comm", "cgroup_id"]);

const $ = (sel) => document.querySelector(sel);
const state = {
  token: sessionStorage.getItem("ringscope-token") || "",
  abort: null,
  pending: [],
  paused: false,
  pageLost: 0,
  shown: 0,
  rates: {}, // type -> [events/s ...]
  lastProduced: null,
  lastTime: 0,
  types: [],
};

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

async function api(path) {
  const r = await fetch(path, { headers: headers(), cache: "no-store" });
  if (r.status === 401) {
    $("#auth").hidden = false;
    throw new Error("unauthorized");
  }
  return r.json();
}

function setConn(on, text) {
  const el = $("#conn");
  el.textContent = text;
  el.className = "pill " + (on ? "on" : "off");
}

function query() {
  const q = new URLSearchParams();
  const checked = [...document.querySelectorAll("#types input:checked")].map((i) => i.value);
  if (checked.length && checked.length < state.types.length) q.set("types", checked.join(","));
  if (!checked.length) q.set("types", "none-selected");
  for (const name of ["pid", "tid", "uid", "comm"]) {
    const v = $("#f-" + name).value.trim();
    if (v) q.set(name, v);
  }
  q.set("policy", "drop-oldest");
  return q;
}

async function stream() {
  if (state.abort) state.abort.abort();
  const abort = new AbortController();
  state.abort = abort;
  $("#filter-error").textContent = "";
  let resp;
  try {
    resp = await fetch("/events.ndjson?" + query(), { headers: headers(), signal: abort.signal });
  } catch (e) {
    setConn(false, "disconnected");
    return;
  }
  if (!resp.ok) {
    let msg = resp.status + "";
    try { msg = (await resp.json()).error; } catch (e) { /* not JSON */ }
    $("#filter-error").textContent = msg;
    if (resp.status === 401) $("#auth").hidden = false;
    setConn(false, "refused");
    return;
  }
  setConn(true, "live");
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop();
      for (const line of lines) if (line) onRow(JSON.parse(line));
    }
  } catch (e) {
    if (abort.signal.aborted) return;
  }
  if (state.abort === abort) {
    setConn(false, "ended");
    setTimeout(stream, 1000); // server restarted or shut down: try again
  }
}

function onRow(row) {
  if (row.type === "lost" && row.stage === "client") state.pageLost += row.count;
  if (row.type === "end") return;
  if (state.paused) return;
  state.pending.push(row);
  if (state.pending.length > MAX_ROWS) state.pending.splice(0, state.pending.length - MAX_ROWS);
  if (state.pending.length === 1) requestAnimationFrame(flush);
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function details(row) {
  const parts = [];
  for (const [k, v] of Object.entries(row)) {
    if (HEADER_FIELDS.has(k)) continue;
    parts.push(k + "=" + (typeof v === "string" ? v : JSON.stringify(v)));
  }
  return parts.join(" ");
}

function flush() {
  const rows = state.pending;
  state.pending = [];
  const body = $("#events tbody");
  const frag = document.createDocumentFragment();
  for (let i = rows.length - 1; i >= 0; i--) {
    const r = rows[i];
    const tr = document.createElement("tr");
    if (r.type === "lost") tr.className = "lost";
    cell(tr, r.seq ?? r.last_seq ?? "");
    cell(tr, r.ts_ns ? (r.ts_ns / 1e9).toFixed(6) : "");
    cell(tr, r.type);
    cell(tr, r.pid ?? "");
    cell(tr, r.tid ?? "");
    cell(tr, r.comm ?? "");
    cell(tr, details(r), "details");
    frag.appendChild(tr);
  }
  body.insertBefore(frag, body.firstChild);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  state.shown += rows.length;
  $("#shown").textContent = "(" + state.shown + " received, newest first)";
  $("#lost-page").textContent = state.pageLost;
}

function buildTypes(names) {
  state.types = names;
  const box = $("#types");
  for (const name of names) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    input.checked = true;
    input.id = "t-" + name;
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + name));
    box.appendChild(label);
  }
}

function updateRates(st) {
  const now = performance.now() / 1000;
  if (state.lastProduced) {
    const dt = Math.max(now - state.lastTime, 0.001);
    for (const t of state.types) {
      const rate = ((st.produced[t] || 0) - (state.lastProduced[t] || 0)) / dt;
      const series = (state.rates[t] ||= []);
      series.push(Math.max(rate, 0));
      if (series.length > HISTORY) series.shift();
    }
  }
  state.lastProduced = st.produced;
  state.lastTime = now;
  drawChart();
}

function drawChart() {
  const c = $("#chart");
  const g = c.getContext("2d");
  const w = c.width, h = c.height;
  g.clearRect(0, 0, w, h);
  let max = 1;
  for (const s of Object.values(state.rates)) for (const v of s) max = Math.max(max, v);
  g.strokeStyle = "#26313c";
  g.fillStyle = "#8a96a3";
  g.font = "11px sans-serif";
  for (let i = 0; i <= 4; i++) {
    const y = h - 16 - (i * (h - 24)) / 4;
    g.beginPath(); g.moveTo(40, y); g.lineTo(w, y); g.stroke();
    g.fillText(Math.round((max * i) / 4).toString(), 2, y + 4);
  }
  const legend = $("#legend");
  legend.textContent = "";
  state.types.forEach((t, i) => {
    const s = state.rates[t] || [];
    const color = COLORS[i % COLORS.length];
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    s.forEach((v, j) => {
      const x = 40 + ((w - 44) * (HISTORY - s.length + j)) / (HISTORY - 1);
      const y = h - 16 - (v / max) * (h - 24);
      if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    const span = document.createElement("span");
    span.style.color = color;
    span.textContent = t + " " + Math.round(s.length ? s[s.length - 1] : 0) + "/s";
    legend.appendChild(span);
  });
}

function updateClients(clients) {
  const body = $("#clients tbody");
  body.textContent = "";
  for (const c of clients) {
    const tr = document.createElement("tr");
    const f = Object.entries(c.filter).filter(([, v]) => v !== null).map(([k, v]) => k + "=" + v).join(" ");
    for (const v of [c.id, c.kind, c.peer, f || "all", c.policy, c.queue_depth + "/" + c.max_queue, c.delivered, c.dropped]) {
      cell(tr, v);
    }
    body.appendChild(tr);
  }
}

async function poll() {
  try {
    const st = await api("/api/status");
    if (!state.types.length) {
      buildTypes(st.events || Object.keys(st.produced));
      stream();
    }
    $("#lost-kernel").textContent = st.lost.kernel;
    $("#lost-daemon").textContent = st.lost.daemon;
    $("#lost-client").textContent = st.lost.client;
    const fill = (st.ring_fill * 100).toFixed(1);
    $("#ring-fill").textContent = fill + " %";
    $("#ring-bar").style.width = fill + "%";
    $("#kernel-filter").textContent = "kernel: " + (st.kernel_filter.types.join(",") || "idle");
    updateRates(st);
    updateClients(st.clients);
  } catch (e) {
    setConn(false, "no status");
  }
}

$("#filter-form").addEventListener("submit", (e) => {
  e.preventDefault();
  // A new filter is a new view: rows of the old one would mislead.
  $("#events tbody").textContent = "";
  state.pending = [];
  state.shown = 0;
  stream();
});
$("#pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("#pause").textContent = state.paused ? "Resume" : "Pause";
});
$("#auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("#token").value;
  sessionStorage.setItem("ringscope-token", state.token);
  $("#auth").hidden = true;
  poll();
});

// In-kernel histograms: GET /api/hist, drawn as rows with bars (bcc style).
function histRow(body, key, label, count, max) {
  const tr = document.createElement("tr");
  const bar = "\u2588".repeat(max ? Math.round((30 * count) / max) : 0);
  for (const text of [key, label, String(count), bar]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  body.appendChild(tr);
}

$("#hist-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ event: $("#h-event").value, duration: $("#h-duration").value });
  if ($("#h-by").value) q.set("by", $("#h-by").value);
  if ($("#h-latency").checked) q.set("latency", "1");
  $("#hist-error").textContent = "collecting\u2026";
  $("#h-run").disabled = true;
  try {
    const doc = await api("/api/hist?" + q);
    if (doc.error) throw new Error(doc.error);
    $("#hist-error").textContent = `${doc.total} events, ${doc.overflow} in "other" (${doc.unit || "count"})`;
    const body = $("#hist-table tbody");
    body.textContent = "";
    for (const row of doc.rows) {
      const buckets = row.buckets && row.buckets.length ? row.buckets : [{ le: "", count: row.count }];
      const max = Math.max(...buckets.map((b) => b.count));
      for (const b of buckets) histRow(body, String(row.key ?? ""), b.le === "" ? "" : "\u2264 " + b.le, b.count, max);
    }
  } catch (err) {
    $("#hist-error").textContent = String(err.message || err);
  } finally {
    $("#h-run").disabled = false;
  }
});

poll();
setInterval(poll, 1000);
