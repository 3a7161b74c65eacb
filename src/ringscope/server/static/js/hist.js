// In-kernel histograms: GET /api/hist, drawn as rows with bars (bcc style).

import { getJSON } from "./api.js";
import { count } from "./format.js";

const $ = (sel) => document.querySelector(sel);

function row(body, cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  body.appendChild(tr);
}

async function collect(e) {
  e.preventDefault();
  const q = new URLSearchParams({ event: $("#h-event").value, duration: $("#h-duration").value });
  if ($("#h-by").value) q.set("by", $("#h-by").value);
  if ($("#h-latency").checked) q.set("latency", "1");
  const status = $("#hist-error");
  status.textContent = "collecting\u2026";
  $("#h-run").disabled = true;
  try {
    const doc = await getJSON("/api/hist?" + q);
    status.textContent = `${count(doc.total)} events, ${count(doc.overflow)} in "other" (${doc.unit || "count"})`;
    const body = $("#hist-table tbody");
    body.textContent = "";
    for (const r of doc.rows) {
      const buckets = r.buckets && r.buckets.length ? r.buckets : [{ le: "", count: r.count }];
      const max = Math.max(...buckets.map((b) => b.count));
      for (const b of buckets) {
        const bar = "\u2588".repeat(max ? Math.round((30 * b.count) / max) : 0);
        row(body, [String(r.key ?? ""), b.le === "" ? "" : "\u2264 " + b.le, count(b.count), bar]);
      }
    }
  } catch (err) {
    status.textContent = String(err.message || err);
  } finally {
    $("#h-run").disabled = false;
  }
}

export function initHist() {
  $("#hist-form").addEventListener("submit", collect);
}
