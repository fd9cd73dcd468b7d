// How values read in a panel: times relative with the absolute one on hover, durations in the
// largest sensible unit, numbers to 4-6 significant digits.

export function relativeTime(ms, now = Date.now()) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const s = Math.round((now - ms) / 1000);
  const ago = s >= 0;
  const a = Math.abs(s);
  let text;
  if (a < 45) text = `${a}s`;
  else if (a < 2700) text = `${Math.round(a / 60)}m`;
  else if (a < 64800) text = `${Math.round(a / 3600)}h`;
  else if (a < 86400 * 45) text = `${Math.round(a / 86400)}d`;
  else return new Date(ms).toISOString().slice(0, 10);
  return ago ? `${text} ago` : `in ${text}`;
}

export function absoluteTime(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${m % 60}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

export function number(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "number") return String(value);
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "-∞";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

export function cost(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  return value < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

/** What nbtrack stores in place of a secret (nbtrack.redaction.REDACTED). */
export const WITHHELD = "***REDACTED***";

/** A stored value as a person reads it: a withheld secret as dots, saying so. */
export function valueText(value) {
  if (value === WITHHELD) return "•••• (secret, not stored)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Any cell value as text for the table, by the column's kind. */
export function cellText(kind, value) {
  if (value === null || value === undefined) return "";
  switch (kind) {
    case "time": return relativeTime(value);
    case "duration": return duration(value);
    case "cost": return cost(value);
    case "number": return number(value);
    case "tags": return Array.isArray(value) ? value.join(", ") : String(value);
    case "bool": return value ? "true" : "false";
    default:
      if (Array.isArray(value)) return value.join(", ");
      if (value === WITHHELD) return valueText(value);
      return typeof value === "number" ? number(value) : String(value);
  }
}
