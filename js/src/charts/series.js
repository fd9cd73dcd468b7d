// Metric series in the browser: decoded from the kernel's curve payloads (nbtrack/ui/curves.py)
// and live pushes (nbtrack/ui/live.py), and laid out for drawing. Every series arrives thinned
// (M4: per column its first, last, lowest and highest point, plus the column's mean and count);
// `layout()` thins again to the chart's own pixel columns over the visible x range and puts
// every series on one shared x grid of four slots per column, so uPlot draws hundreds of
// curves from aligned arrays without joining their x values.
import { tableFromIPC } from "@uwdata/flechette";

/** @typedef {{id: string, runId: string, key: string, name: string, status: string|null,
 *   live: boolean, x: Float64Array, y: Float32Array|Float64Array, first: Int32Array,
 *   mean: Float32Array|Float64Array, count: Int32Array, step?: Float64Array, time?: Float64Array}} Series */

export const seriesId = (runId, key) => `${runId}\u0000${key}`;

function tables(buffer, parts) {
  if (!buffer || !parts || !parts.length) return [];
  const bytes = buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const out = [];
  let at = 0;
  for (const length of parts) {
    out.push(tableFromIPC(bytes.subarray(at, at + length), { useBigInt: false }));
    at += length;
  }
  return out;
}

const column = (table, name) => table.getChild(name).toArray();

/** A curves answer ({meta, buffers}) as Series, x in the payload's mode (step, epoch ms, s). */
export function decodeCurves(meta, buffers) {
  const [points, columns] = tables(buffers && buffers[0], meta.parts);
  if (!points) return [];
  const xs = column(points, "x");
  const ys = column(points, "y");
  const first = column(columns, "first");
  const mean = column(columns, "mean");
  const count = column(columns, "count");
  const scale = meta.x === "time" ? 1000 : 1;
  const out = [];
  let p = 0;
  let c = 0;
  for (const s of meta.series) {
    const x = new Float64Array(s.points);
    if (meta.x_type === "float32_offset_s") {
      for (let i = 0; i < s.points; i++) x[i] = s.base + xs[p + i] * scale;
    } else {
      for (let i = 0; i < s.points; i++) x[i] = xs[p + i];
    }
    out.push({ id: seriesId(s.run_id, s.key), runId: s.run_id, key: s.key, name: s.name, status: s.status,
      live: Boolean(s.live), x, y: ys.subarray(p, p + s.points), first: first.subarray(c, c + s.columns),
      mean: mean.subarray(c, c + s.columns), count: count.subarray(c, c + s.columns) });
    p += s.points;
    c += s.columns;
  }
  return out;
}

/** A live push (snapshot or delta) as {series: [{id, runId, key, step, time, y, first, mean, count}]}. */
export function decodeLive(meta, buffers) {
  const [points, columns] = tables(buffers && buffers[0], meta.parts);
  const out = [];
  if (!points) return out;
  const step = column(points, "step");
  const time = column(points, "time");
  const ys = column(points, "y");
  const first = column(columns, "first");
  const mean = column(columns, "mean");
  const count = column(columns, "count");
  let p = 0;
  let c = 0;
  for (const s of meta.series) {
    out.push({ id: seriesId(s.run_id, s.key), runId: s.run_id, key: s.key, name: s.name, status: s.status,
      step: Float64Array.from(step.subarray(p, p + s.points)), time: Float64Array.from(time.subarray(p, p + s.points)),
      y: Float64Array.from(ys.subarray(p, p + s.points)), first: Int32Array.from(first.subarray(c, c + s.columns)),
      mean: Float64Array.from(mean.subarray(c, c + s.columns)), count: Int32Array.from(count.subarray(c, c + s.columns)) });
    p += s.points;
    c += s.columns;
  }
  return out;
}

function concat(a, b, Type) {
  const out = new Type(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Append a live delta to a live series held as {step, time, y, first, mean, count}. */
export function appendLive(held, delta) {
  const offset = held.y.length;
  const first = Int32Array.from(delta.first, (f) => f + offset);
  return { ...held, status: delta.status ?? held.status, step: concat(held.step, delta.step, Float64Array),
    time: concat(held.time, delta.time, Float64Array), y: concat(held.y, delta.y, Float64Array),
    first: concat(held.first, first, Int32Array), mean: concat(held.mean, delta.mean, Float64Array),
    count: concat(held.count, delta.count, Int32Array) };
}

/** A live series (both x kinds held) as a Series in x mode `mode`; `origin` for relative time (ms). */
export function liveAsSeries(held, mode, origin) {
  let x = held.step;
  if (mode === "time") x = held.time;
  else if (mode === "relative") x = Float64Array.from(held.time, (t) => (t - origin) / 1000);
  return { ...held, live: true, x };
}

/** [lo, hi] over every series' x (null when there is none). */
export function extent(list) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of list) {
    if (!s.x.length) continue;
    lo = Math.min(lo, s.x[0]);
    hi = Math.max(hi, s.x[s.x.length - 1]);
  }
  return lo <= hi ? [lo, hi === lo ? lo + 1 : hi] : null;
}

/**
 * Lay series out on one grid of `width` columns over [lo, hi]: four slots a column (the M4
 * points in x order), so each array has 4 * width entries (null where a series has nothing).
 * Returns {xs, raw: [{ys, real}], smooth: [ys]} where `real[i]` is the true x of slot i and
 * `smooth` is the exponential moving average (weight `alpha` per pixel column, as TensorBoard
 * applies it per drawn point) over the columns' means, debiased at the start.
 */
export function layout(list, lo, hi, width, alpha = 0) {
  const W = Math.max(1, Math.floor(width));
  const slots = 4 * W;
  const span = hi > lo ? hi - lo : 1;
  const xs = new Float64Array(slots);
  for (let i = 0; i < slots; i++) xs[i] = lo + ((Math.floor(i / 4) + ((i % 4) + 0.5) / 4) * span) / W;
  const raw = [];
  const smooth = [];
  for (const s of list) {
    const ys = new Array(slots).fill(null);
    const real = new Float64Array(slots).fill(NaN);
    const sums = new Float64Array(W);
    const counts = new Float64Array(W);
    const n = s.x.length;
    let b = -1;
    let picks = [];
    const flush = () => {
      if (b < 0 || !picks.length) return;
      picks.sort((i, j) => i - j);
      let k = 0;
      for (let q = 0; q < picks.length; q++) {
        if (q && picks[q] === picks[q - 1]) continue;
        const v = s.y[picks[q]];
        ys[4 * b + k] = Number.isFinite(v) ? v : null;
        real[4 * b + k] = s.x[picks[q]];
        k++;
      }
    };
    let firstI = -1, lastI = -1, minI = -1, maxI = -1;
    for (let i = 0; i < n; i++) {
      const x = s.x[i];
      if (x < lo || x > hi) continue;
      const col = Math.min(W - 1, Math.max(0, Math.floor(((x - lo) / span) * W)));
      if (col !== b) {
        if (firstI >= 0) { picks = [firstI, lastI, ...(minI >= 0 ? [minI, maxI] : [])]; flush(); }
        b = col; firstI = i; minI = -1; maxI = -1;
      }
      lastI = i;
      const v = s.y[i];
      if (Number.isFinite(v)) {
        if (minI < 0 || v < s.y[minI]) minI = i;
        if (maxI < 0 || v > s.y[maxI]) maxI = i;
      }
    }
    if (firstI >= 0) { picks = [firstI, lastI, ...(minI >= 0 ? [minI, maxI] : [])]; flush(); }
    raw.push({ ys, real });
    if (!(alpha > 0)) { smooth.push(null); continue; }
    // the columns' means, summed into pixel columns by the column's first point
    for (let c = 0; c < s.first.length; c++) {
      const at = s.first[c];
      const x = s.x[at];
      if (!(x >= lo && x <= hi) || !(s.count[c] > 0) || !Number.isFinite(s.mean[c])) continue;
      const col = Math.min(W - 1, Math.max(0, Math.floor(((x - lo) / span) * W)));
      sums[col] += s.mean[c] * s.count[c];
      counts[col] += s.count[c];
    }
    const sm = new Array(slots).fill(null);
    let acc = 0;
    let weight = 0;
    for (let col = 0; col < W; col++) {
      if (!counts[col]) continue;
      acc = alpha * acc + (1 - alpha) * (sums[col] / counts[col]);
      weight = alpha * weight + (1 - alpha);
      sm[4 * col + 2] = acc / weight;
    }
    smooth.push(sm);
  }
  return { xs, raw, smooth };
}
