// Human units for numbers the dashboard shows.

const SI = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];

/** 1234 -> "1.23k", 0.5 -> "0.5", 12 -> "12". */
export function si(value) {
  if (value == null || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  for (const [scale, unit] of SI) {
    if (abs >= scale) return trim(value / scale) + unit;
  }
  return trim(value);
}

function trim(v) {
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(v.toFixed(digits)));
}

/** A rate in events per second: "1.2k/s". */
export function rate(value) {
  return value == null ? "not collected" : si(value) + "/s";
}

/** A count with thousands separators: 1234567 -> "1,234,567". */
export function count(value) {
  return value == null ? "unknown" : Number(value).toLocaleString("en-US");
}
