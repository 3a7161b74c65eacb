// The flame-graph panel. A profile (speedscope's JSON file format, what
// `ringscope report --format speedscope` writes) is shown by speedscope's own
// build, vendored and served by the daemon (vendor/speedscope), in an iframe.
// The page fetches the profile itself, with the token in a header, and
// hands it to speedscope as a same-origin blob: URL (#profileURL=), so no
// token is ever put in a URL.
//
// Recording: GET /api/profile?duration=S[&pid=P]&call_graph=fp|dwarf&format=speedscope.

import { errorOf, request } from "./api.js";

const SPEEDSCOPE = "/static/vendor/speedscope/index.html";
const $ = (sel) => document.querySelector(sel);
let blobURL = null;

/** Show `profile` (a speedscope document: object or JSON text) in the panel. */
export function showProfile(profile, title = "profile") {
  const text = typeof profile === "string" ? profile : JSON.stringify(profile);
  if (blobURL) URL.revokeObjectURL(blobURL);
  blobURL = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const frame = document.createElement("iframe");
  frame.title = "flame graph: " + title;
  frame.src = `${SPEEDSCOPE}#profileURL=${encodeURIComponent(blobURL)}&title=${encodeURIComponent(title)}`;
  const slot = $("#flamegraph");
  slot.replaceChildren(frame);
  slot.hidden = false;
  return frame;
}

function query() {
  const q = new URLSearchParams({ duration: $("#p-duration").value.trim() || "5" });
  if (document.querySelector("input[name=p-target]:checked").value === "pid") q.set("pid", $("#p-pid").value.trim());
  q.set("call_graph", $("#p-call-graph").value);
  q.set("format", "speedscope");
  return q;
}

async function record(e) {
  e.preventDefault();
  const status = $("#profile-status");
  const q = query();
  const seconds = Number(q.get("duration")) || 0;
  const target = q.has("pid") ? "pid " + q.get("pid") : "the whole system";
  $("#p-run").disabled = true;
  let left = Math.ceil(seconds);
  status.textContent = `profiling ${target} for ${seconds} s\u2026`;
  const tick = setInterval(() => {
    left = Math.max(left - 1, 0);
    status.textContent = `profiling ${target}: ${left} s left\u2026`;
  }, 1000);
  try {
    const resp = await request("/api/profile?" + q);
    if (resp.status === 404) {
      status.textContent = "This server has no profile API (/api/profile) yet.";
      return;
    }
    if (!resp.ok) {
      status.textContent = await errorOf(resp);
      return;
    }
    const text = await resp.text();
    showProfile(text, `${target}, ${seconds} s, ${q.get("call_graph")}`);
    status.textContent = `profile of ${target} for ${seconds} s (${q.get("call_graph")} call graphs): ` +
      "click to zoom, / to search, hover for details";
  } catch (err) {
    status.textContent = String(err.message || err);
  } finally {
    clearInterval(tick);
    $("#p-run").disabled = false;
  }
}

export function initProfile() {
  $("#profile-form").addEventListener("submit", record);
  $("#p-pid").addEventListener("focus", () => {
    document.querySelector("input[name=p-target][value=pid]").checked = true;
  });
}
