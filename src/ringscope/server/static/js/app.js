// ringscope dashboard: the status and rates polled once a second, one live
// event stream, and the panels (flame graph, histogram, clients).

import { auth, getJSON, onUnauthorized, setToken } from "./api.js";
import { COLORS, RateChart } from "./chart.js";
import { EventTable } from "./events.js";
import { count, rate } from "./format.js";
import { initHist } from "./hist.js";
import { initProfile, showProfile } from "./profile.js";

const $ = (sel) => document.querySelector(sel);
const BACKPRESSURE = ["drop-oldest", "drop-newest", "disconnect", "send-timeout"];

const state = { types: [], since: 0, started: false };
const chart = new RateChart($("#chart"), $("#not-collected"));
const events = new EventTable(setConn);

function setConn(kind, text) {
  const el = $("#conn");
  el.textContent = text;
  el.className = "pill " + kind;
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
}

// -- the filter form ----------------------------------------------------------

function buildTypes(names) {
  state.types = names;
  const box = $("#types");
  names.forEach((name, i) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    input.checked = true;
    input.id = "t-" + name;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[i % COLORS.length];
    label.append(input, swatch, document.createTextNode(name));
    box.appendChild(label);
  });
  chart.setTypes(names);
}

/** Start with the filter in the page's own URL (/?types=open&pid=42): a view can be shared. */
function prefill() {
  const q = new URLSearchParams(location.search);
  if (q.has("types")) {
    const want = new Set(q.get("types").split(","));
    for (const input of document.querySelectorAll("#types input")) input.checked = want.has(input.value);
  }
  for (const name of ["pid", "tid", "uid", "comm"]) if (q.has(name)) $("#f-" + name).value = q.get(name);
}

function query() {
  const q = new URLSearchParams();
  const checked = [...document.querySelectorAll("#types input:checked")].map((i) => i.value);
  if (checked.length < state.types.length) q.set("types", checked.join(",") || "none-selected");
  for (const name of ["pid", "tid", "uid", "comm"]) {
    const v = $("#f-" + name).value.trim();
    if (v) q.set(name, v);
  }
  q.set("policy", "drop-oldest");
  return q;
}

// -- polling ------------------------------------------------------------------

function showStatus(st) {
  $("#lost-kernel").textContent = count(st.lost.kernel);
  $("#lost-daemon").textContent = count(st.lost.daemon);
  const client = st.lost.client;
  $("#lost-client").textContent = count(BACKPRESSURE.reduce((n, r) => n + (client[r] || 0), 0));
  const body = $("#loss-reasons tbody");
  body.textContent = "";
  for (const [reason, n] of Object.entries(client)) {
    const tr = document.createElement("tr");
    cell(tr, reason);
    cell(tr, count(n));
    body.appendChild(tr);
  }
  if (st.replay_gaps_unknown) {
    const tr = document.createElement("tr");
    cell(tr, "replay gaps of unknown size");
    cell(tr, count(st.replay_gaps_unknown));
    body.appendChild(tr);
  }
  const fill = (st.ring_fill * 100).toFixed(1);
  $("#ring-fill").textContent = fill + " %";
  $("#ring-bar").style.width = fill + "%";
  $("#kernel-filter").textContent = "kernel collects: " + (st.kernel_filter.types.join(", ") || "nothing (no client)");
  $("#reader").hidden = !st.reader_error;
  $("#reader").title = st.reader_error || "";
  showClients(st.clients);
}

function showClients(clients) {
  const body = $("#clients tbody");
  body.textContent = "";
  for (const c of clients) {
    const tr = document.createElement("tr");
    const f = Object.entries(c.filter).filter(([, v]) => v !== null).map(([k, v]) => k + "=" + v).join(" ");
    const lost = Object.entries(c.lost).map(([r, n]) => `${count(n)} ${r}`).join(", ");
    for (const v of [c.id, c.kind, c.peer, f || "all", c.policy, c.queue_depth + "/" + c.max_queue,
      count(c.delivered), lost || "0"]) cell(tr, v);
    body.appendChild(tr);
  }
}

function showRates() {
  const sum = (m) => Object.values(chart.latest(m)).reduce((a, v) => a + (v || 0), 0);
  if (!chart.t.length) return;
  $("#rate-produced").textContent = rate(sum("produced"));
  $("#rate-delivered").textContent = rate(sum("delivered"));
}

async function poll() {
  try {
    const st = await getJSON("/api/status");
    $("#auth").hidden = true;
    if (!state.started) {
      state.started = true;
      buildTypes(st.events);
      prefill();
      events.start(query());
    }
    showStatus(st);
    const doc = await getJSON("/api/rates?since=" + state.since);
    if (doc.t.length) state.since = doc.t[doc.t.length - 1];
    chart.append(doc);
    showRates();
  } catch (e) {
    if (e.status !== 401) setConn("off", "no status");
  }
}

// -- authentication -------------------------------------------------------------

onUnauthorized(() => {
  $("#auth").hidden = false;
  $("#auth-message").textContent = auth.refused
    ? "Wrong token: the server refused it (401). Check the token given to ringscope serve --token."
    : "This server needs a bearer token (ringscope serve --token).";
  $("#auth-message").className = auth.refused ? "error" : "";
  setConn("off", auth.refused ? "wrong token" : "token needed");
});

$("#auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("#token").value);
  $("#auth-message").textContent = "connecting\u2026";
  poll().then(() => {
    if (state.started && !events.abort) events.start(query());
  });
});

$("#filter-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = query();
  const shown = new URLSearchParams(q);
  shown.delete("policy");
  history.replaceState(null, "", shown.size ? "?" + shown : location.pathname);
  events.start(q);
});

for (const tab of document.querySelectorAll("#metric-tabs button")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("#metric-tabs button")) t.setAttribute("aria-selected", t === tab);
    chart.setMetric(tab.dataset.metric);
  });
}
$("#range").addEventListener("change", (e) => chart.setRange(Number(e.target.value)));

initHist();
initProfile();
// For tests and the curious: the page's parts, from the console.
window.ringscope = { chart, events, showProfile };
poll();
setInterval(poll, 1000);
