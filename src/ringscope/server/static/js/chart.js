// The rates chart: events per second per type over the last minutes, one
// sample a second from /api/rates, drawn with uPlot (vendor/uplot). A type
// the kernel's type mask turned off has no value (null): a gap in its line,
// "not collected" in the legend, never 0/s.
/* global uPlot */

import { rate, si } from "./format.js";

export const COLORS = ["#4fb3ff", "#ffb84f", "#7ee787", "#ff7b72", "#d2a8ff", "#79c0ff", "#f2cc60", "#56d4dd",
  "#ff9bce", "#a5d6ff"];
const KEEP_S = 15 * 60; // samples kept: the server's history
const HEIGHT = 240;

/** Unix seconds as the local time of day, 24-hour: "16:05" or "16:05:30". */
export function clock(t, seconds) {
  if (t == null) return "–";
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}` + (seconds ? `:${two(d.getSeconds())}` : "");
}

export class RateChart {
  constructor(el, note) {
    this.el = el;
    this.note = note; // where the types not collected are named
    this.metric = "produced";
    this.range = KEEP_S;
    this.types = [];
    this.t = [];
    this.series = {}; // type -> metric -> values
    this.collected = {};
    this.u = null;
    new ResizeObserver(() => this.resize()).observe(el);
  }

  width() {
    return Math.max(this.el.clientWidth, 200);
  }

  setTypes(types) {
    this.types = types;
    for (const t of types) this.series[t] ||= { produced: [], delivered: [], dropped: [] };
    if (this.u) this.u.destroy();
    const axis = { stroke: "#8a96a3", grid: { stroke: "#26313c" }, ticks: { stroke: "#26313c" } };
    this.u = new uPlot({
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] } },
      axes: [
        { ...axis, values: (u, ticks) => ticks.map((t) => clock(t, ticks[1] - ticks[0] < 60)) },
        { ...axis, size: 64, values: (u, ticks) => ticks.map((v) => si(v) + "/s") },
      ],
      series: [
        { label: "time", value: (u, v, i, idx) => clock(idx == null ? this.t[this.t.length - 1] : v, true) },
        ...types.map((t, i) => ({
          label: t,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          // Under the cursor: the value there; elsewhere: the newest.
          value: (u, v, s, idx) => rate(idx == null ? this.latest()[t] : v),
        })),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, this.data(), this.el);
  }

  /** Add the samples of an /api/rates answer. */
  append(doc) {
    this.collected = doc.collected || this.collected;
    if (doc.t.length) {
      this.t.push(...doc.t);
      for (const t of this.types) {
        const s = this.series[t];
        const got = doc.series[t] || {};
        for (const m of ["produced", "delivered", "dropped"]) {
          s[m].push(...(got[m] || doc.t.map(() => null)));
        }
      }
      const extra = this.t.length - KEEP_S;
      if (extra > 0) {
        this.t.splice(0, extra);
        for (const t of this.types) for (const m of Object.keys(this.series[t])) this.series[t][m].splice(0, extra);
      }
    }
    this.draw();
  }

  /** The newest value per type of the shown metric (null: not collected). */
  latest(metric = this.metric) {
    const out = {};
    for (const t of this.types) {
      const v = this.series[t][metric];
      out[t] = v.length ? v[v.length - 1] : null;
    }
    return out;
  }

  setMetric(metric) {
    this.metric = metric;
    this.draw();
  }

  setRange(seconds) {
    this.range = seconds;
    this.draw();
  }

  data() {
    return [this.t, ...this.types.map((t) => this.series[t][this.metric])];
  }

  draw() {
    if (!this.u) return;
    this.u.setData(this.data(), false);
    const now = this.t.length ? this.t[this.t.length - 1] : Date.now() / 1000;
    this.u.setScale("x", { min: now - this.range, max: now });
    this.u.setLegend(); // values off the cursor are the newest: refresh them
    const off = this.types.filter((t) => this.collected[t] === false);
    this.note.textContent = off.length ? "not collected (no client asks for them): " + off.join(", ") : "";
  }

  resize() {
    if (this.u) this.u.setSize({ width: this.width(), height: HEIGHT });
  }

  /** The time axis' tick labels as drawn (tests check there is one). */
  timeLabels() {
    return this.u ? [...(this.u.axes[0]._values || [])] : [];
  }
}
