// The live event table: one NDJSON stream (fetch, so that the token goes in
// a header), the last KEEP events kept for search, detail and download.
// Event data is only ever written with textContent: paths and comms are
// whatever the traced programs made them.

import { errorOf, request } from "./api.js";
import { count } from "./format.js";

const KEEP = 1000; // events kept (and at most shown)
const HEADER = new Set(["seq", "ts_ns", "type", "cpu", "pid", "tid", "uid", "comm", "cgroup_id"]);
const $ = (sel) => document.querySelector(sel);

function details(row) {
  const parts = [];
  for (const [k, v] of Object.entries(row)) {
    if (!HEADER.has(k)) parts.push(k + "=" + (typeof v === "string" ? v : JSON.stringify(v)));
  }
  return parts.join(" ");
}

function lossText(row) {
  const n = row.count == null ? "an unknown number of" : count(row.count);
  return `${row.stage} lost ${n} events` + (row.reason ? ` (${row.reason})` : "");
}

/** One received line, parsed on first use. */
class Item {
  constructor(line, row) {
    this.line = line;
    this._row = row;
    this._text = null;
  }

  get row() {
    this._row ||= JSON.parse(this.line);
    return this._row;
  }

  get text() {
    this._text ||= this.line.toLowerCase();
    return this._text;
  }
}

export class EventTable {
  constructor(onConn) {
    this.onConn = onConn; // (state, text) for the header's pill
    this.abort = null;
    this.kept = []; // Items, oldest first
    this.pending = [];
    this.received = 0; // events this page received since the last Apply
    this.lost = {}; // client losses told to this page, by reason
    this.paused = false;
    this.search = "";
    this.open = new Set(); // seqs whose JSON is expanded
    this.retry = null;
    this.holding = false;
    this.held = 0; // events that arrived while the table was held or paused
    $("#events tbody").addEventListener("click", (e) => this.toggle(e));
    const box = $("#events").parentElement;
    box.addEventListener("pointerenter", () => this.hold(true));
    box.addEventListener("pointerleave", () => this.hold(false));
    $("#search").addEventListener("input", (e) => {
      this.search = e.target.value.trim().toLowerCase();
      this.render();
    });
    $("#pause").addEventListener("click", () => {
      this.paused = !this.paused;
      $("#pause").textContent = this.paused ? "Resume" : "Pause";
      if (!this.paused) this.render();
    });
    $("#download").addEventListener("click", () => this.download());
  }

  /** (Re)start the stream with query `q` (URLSearchParams); a new filter clears the table. */
  async start(q) {
    if (this.abort) this.abort.abort();
    clearTimeout(this.retry);
    const abort = new AbortController();
    this.abort = abort;
    this.kept = [];
    this.pending = [];
    this.received = 0;
    this.lost = {};
    this.open.clear();
    this.render();
    $("#filter-error").textContent = "";
    let resp;
    try {
      resp = await request("/events.ndjson?" + q, { signal: abort.signal });
    } catch (e) {
      if (!abort.signal.aborted) this.again(abort, q, "disconnected");
      return;
    }
    if (!resp.ok) {
      $("#filter-error").textContent = await errorOf(resp);
      this.onConn("off", resp.status === 401 ? "token needed" : "refused");
      return;
    }
    this.onConn("on", "live");
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
        for (const line of lines) if (line) this.onLine(line);
      }
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    this.again(abort, q, "ended");
  }

  again(abort, q, text) {
    if (this.abort !== abort) return;
    this.onConn("off", text);
    this.retry = setTimeout(() => this.start(q), 1000); // the server restarted or shut down: try again
  }

  onLine(line) {
    // Events are only parsed when shown: a busy system sends thousands a
    // second, and only the newest KEEP can be on screen. A JSON string
    // escapes its quotes, so only a record's own "type" can match here.
    let row = null;
    if (line.startsWith('{"type":"end"')) {
      row = JSON.parse(line);
      this.onConn("off", "ended: " + row.reason);
      return;
    }
    if (line.includes('"type":"lost"')) {
      row = JSON.parse(line);
      if (row.stage === "client") this.lost[row.reason] = (this.lost[row.reason] || 0) + (row.count || 0);
    } else {
      this.received += 1;
    }
    this.pending.push(new Item(line, row));
    if (this.pending.length === 1) requestAnimationFrame(() => this.flush());
  }

  flush() {
    let rows = this.pending;
    this.pending = [];
    if (rows.length > KEEP) rows = rows.slice(rows.length - KEEP);
    this.kept.push(...rows);
    if (this.kept.length > KEEP * 1.25) this.kept.splice(0, this.kept.length - KEEP);
    this.counters();
    if (this.paused || this.holding) {
      this.held += rows.length;
      this.shownCount();
      return;
    }
    const body = $("#events tbody");
    const frag = document.createDocumentFragment();
    for (let i = rows.length - 1; i >= 0; i--) if (this.matches(rows[i])) frag.appendChild(this.tr(rows[i]));
    body.insertBefore(frag, body.firstChild);
    this.trim(body);
    this.shownCount();
  }

  /** While the pointer is over the table, rows stay where they are (so
   * that one can be clicked); what arrives meanwhile is shown after. */
  hold(on) {
    this.holding = on;
    if (!on && this.held && !this.paused) this.render();
  }

  matches(item) {
    return !this.search || item.text.includes(this.search);
  }

  /** Rebuild the table from the kept events (newest first). */
  render() {
    const body = $("#events tbody");
    const frag = document.createDocumentFragment();
    const start = Math.max(0, this.kept.length - KEEP);
    for (let i = this.kept.length - 1; i >= start; i--) {
      const item = this.kept[i];
      if (!this.matches(item)) continue;
      frag.appendChild(this.tr(item));
      if (this.open.has(item.row.seq)) frag.appendChild(this.detail(item.row));
    }
    body.replaceChildren(frag);
    this.held = 0;
    this.counters();
    this.shownCount();
  }

  trim(body) {
    let events = body.querySelectorAll("tr.event").length;
    while (events > KEEP && body.lastElementChild) {
      if (body.lastElementChild.classList.contains("event")) events -= 1;
      body.lastElementChild.remove();
    }
  }

  tr(item) {
    const r = item.row;
    const tr = document.createElement("tr");
    tr.className = r.type === "lost" ? "event lost" : "event";
    tr.dataset.seq = r.seq ?? r.last_seq ?? "";
    tr._item = item;
    const cells = r.type === "lost"
      ? [r.seq ?? r.last_seq ?? "", "", "lost", "", "", lossText(r)]
      : [r.seq, r.ts_ns ? (r.ts_ns / 1e9).toFixed(6) : "", r.type, r.pid ?? "", r.comm ?? "", details(r)];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 5) td.className = "details";
      tr.appendChild(td);
    });
    tr.tabIndex = 0;
    tr.title = "click for the whole event as JSON";
    return tr;
  }

  detail(row) {
    const tr = document.createElement("tr");
    tr.className = "detail";
    const td = document.createElement("td");
    td.colSpan = 6;
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(row, null, 2);
    td.appendChild(pre);
    tr.appendChild(td);
    return tr;
  }

  toggle(e) {
    const tr = e.target.closest("tr.event");
    if (!tr || !tr._item) return;
    const seq = tr._item.row.seq;
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove();
      this.open.delete(seq);
    } else {
      tr.after(this.detail(tr._item.row));
      this.open.add(seq);
    }
  }

  /** The events shown (the search's matches among those kept), oldest first, as NDJSON. */
  shown() {
    return [...$("#events tbody").querySelectorAll("tr.event")].map((tr) => tr._item).reverse();
  }

  download() {
    const lines = this.shown().map((item) => item.line + "\n");
    const blob = new Blob(lines, { type: "application/x-ndjson" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `ringscope-events-${new Date().toISOString().replace(/[:.]/g, "-")}.ndjson`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  counters() {
    const lost = Object.entries(this.lost).filter(([, n]) => n);
    const lostText = lost.length ? ", lost here: " + lost.map(([r, n]) => `${count(n)} ${r}`).join(", ") : "";
    $("#received").textContent = `${count(this.received)} received${lostText}`;
  }

  shownCount() {
    const n = $("#events tbody").querySelectorAll("tr.event").length;
    let text = this.search ? `${count(n)} match` : `showing the last ${count(n)}`;
    if (this.held) text += ` (${count(this.held)} newer held: ${this.paused ? "paused" : "pointer on the table"})`;
    $("#shown").textContent = text;
  }
}
