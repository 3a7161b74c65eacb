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

function onRow(row) {
  if (row.type === "end") return;
  if (row.type !== "lost") seen.set(row.host, (seen.get(row.host) || 0) + 1);
  const list = document.getElementById("events");
  const li = document.createElement("li");
  li.textContent = `${row.host} ${row.type} ${row.comm ?? ""} ${row.pid ?? ""}`;
  list.prepend(li);
  while (list.children.length > MAX_ROWS) list.lastChild.remove();
}

// NDJSON rather than EventSource: SSE events are named by type, and a
// fleet's types are not known in advance (EventSource has no catch-all).
async function follow() {
  for (;;) {
    try {
      const r = await fetch("/events.ndjson");
      const reader = r.body.getReader();
      const text = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        const lines = buf.split("\n");
        buf = lines.pop();
        for (const line of lines) if (line) onRow(JSON.parse(line));
      }
    } catch (e) {
      document.getElementById("conn").textContent = "server down";
    }
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

follow();
poll();
setInterval(poll, 1000);
