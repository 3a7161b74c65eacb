// The fleet dashboard: hosts from /api/status (their heartbeats), and the
// live events of every host over SSE, each counted under its host.
const seen = new Map(); // host -> events seen by this page
const MAX_ROWS = 200;

function cell(text) {
  const td = document.createElement("td");
  td.textContent = String(text);
  return td;
}

function renderHosts(hosts) {
  const body = document.querySelector("#hosts tbody");
  const names = new Set([...hosts.map((h) => h.host), ...seen.keys()]);
  const byName = new Map(hosts.map((h) => [h.host, h]));
  body.replaceChildren(...[...names].sort().map((name) => {
    const h = byName.get(name) || {};
    const tr = document.createElement("tr");
    tr.dataset.host = name;
    tr.append(cell(name), cell(h.produced ?? "-"), cell(h.delivered ?? "-"), cell(h.lost ?? "-"),
      cell(h.connected === undefined ? "-" : h.connected ? "up" : "down"),
      cell(h.age_s === undefined ? "-" : `${h.age_s} s ago`), cell(seen.get(name) || 0));
    return tr;
  }));
  document.getElementById("no-hosts").hidden = names.size > 0;
}

async function poll() {
  try {
    const r = await fetch("/api/status");
    const s = await r.json();
    document.getElementById("source").textContent = s.source;
    const conn = document.getElementById("conn");
    conn.textContent = s.connected ? "connected" : "NATS down";
    conn.className = s.connected ? "pill on" : "pill off";
    renderHosts(s.hosts);
  } catch (e) {
    document.getElementById("conn").textContent = "server down";
  }
}

function onEvent(ev) {
  const row = JSON.parse(ev.data);
  seen.set(row.host, (seen.get(row.host) || 0) + 1);
  const list = document.getElementById("events");
  const li = document.createElement("li");
  li.textContent = `${row.host} ${row.type} ${row.comm ?? ""} ${row.pid ?? ""}`;
  list.prepend(li);
  while (list.children.length > MAX_ROWS) list.lastChild.remove();
}

const source = new EventSource("/events");
source.onmessage = onEvent;
source.addEventListener("open", () => poll());
for (const t of ["exec", "exit", "fork", "open", "connect", "accept", "lost"]) source.addEventListener(t, onEvent);
// Any other type name: EventSource has no catch-all, so the page also polls counts.
poll();
setInterval(poll, 1000);
