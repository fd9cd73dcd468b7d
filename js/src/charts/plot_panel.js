// The metric overlay panel (nbtrack.plot(runs, "loss"), run.live()): one chart per metric, one
// colour per run, a legend of run names (text), x as step / wall time / relative time, log y,
// smoothing with a slider (raw faint underneath), hover, drag to zoom (the kernel sends that
// range at full resolution), and live updates pushed by the kernel while a run trains.
import { Channel } from "../channel.js";
import { h } from "../dom.js";
import { statusBadge } from "../table.js";
import { CurveChart } from "./curves.js";
import { runColor, theme } from "./palette.js";
import { appendLive, decodeCurves, decodeLive, extent, liveAsSeries, seriesId } from "./series.js";

const X_MODES = [["step", "step"], ["time", "wall time"], ["relative", "relative time"]];

/**
 * Draw overlaid curves for `keys` into `container`, fed by `channel`'s `curves` request; used
 * by the plot panel and by other panels (the compare view, the run table's chart pane).
 * `get(name)` / `set(values)` read and keep the view's settings (x, log_y, smoothing, x_range).
 * Returns {refresh(), destroy(), root}.
 */
const MEMO = "__nbtrack_curves_memo"; // the data a view held, by widget: a re-render starts from it

export function renderCurves({ channel, container, runs, keys, get: read, set: write, live = false, height = 240, args = {},
  memo = null }) {
  const t0 = performance.now();
  const local = {}; // settings changed here: read back at once, whatever the model does with them
  const get = (name) => (name in local ? local[name] : read(name));
  const set = (values) => { Object.assign(local, values); write(values); };
  const root = h("div", { className: "nbt-plot", dataset: { state: "loading" } });
  container.appendChild(root);
  const colors = new Map(runs().map((id, i) => [id, runColor(i)]));
  const hidden = new Set();
  let full = [];       // Series from the kernel, whole x range
  let zoomed = null;   // Series for the current zoom, when the kernel has answered
  const held = new Map(); // live series: id -> {step, time, y, first, mean, count, ...}
  const statuses = new Map();
  const names = new Map();
  let seq = -1;
  let latest = 0;
  let total = { raw: 0, points: 0 };
  let answered = false; // the kernel has sent curves at least once
  const memos = (globalThis[MEMO] ||= new Map());
  if (memo && memos.has(memo)) {
    // the widget was drawn before on this page (its code was swapped, or the output re-rendered):
    // show what that view had at once, mid-cell too, while the kernel is asked again
    const kept = memos.get(memo);
    ({ full, zoomed, seq, total, answered } = kept);
    for (const [k, v] of kept.held) held.set(k, v);
    for (const [k, v] of kept.statuses) statuses.set(k, v);
    for (const [k, v] of kept.names) names.set(k, v);
  }

  // ------------------------------------------------------------------ toolbar
  const xSelect = h("select", { className: "nbt-select nbt-x-mode", "aria-label": "x axis" },
    X_MODES.map(([value, label]) => h("option", { value, text: label, selected: get("x") === value })));
  const logBox = h("input", { type: "checkbox", className: "nbt-log-y", checked: Boolean(get("log_y")) });
  const slider = h("input", { type: "range", className: "nbt-smoothing", min: "0", max: "0.99", step: "0.01",
    value: String(get("smoothing") || 0), "aria-label": "smoothing" });
  const sliderText = h("span", { className: "nbt-smoothing-value", text: Number(get("smoothing") || 0).toFixed(2) });
  const resetButton = h("button", { className: "nbt-button nbt-reset-zoom", text: "Zoom out", hidden: true,
    title: "Show the whole x range (or double-click the chart)" });
  const info = h("span", { className: "nbt-plot-info nbt-muted", "aria-live": "polite" });
  const liveMark = h("span", { className: "nbt-live", hidden: !live, text: "● live" });
  const errorBox = h("div", { className: "nbt-errorbox" });
  const toolbar = h("div", { className: "nbt-toolbar nbt-plot-toolbar" },
    h("label", { className: "nbt-toggle" }, "x ", xSelect),
    h("label", { className: "nbt-toggle", title: "Logarithmic y axis" }, logBox, " log y"),
    h("label", { className: "nbt-toggle", title: "Exponential moving average (raw curve shown faint)" }, "smoothing ", slider, sliderText),
    resetButton, info, liveMark);
  const legend = h("div", { className: "nbt-legend", role: "list" });
  const grid = h("div", { className: "nbt-curve-grid" });
  root.append(toolbar, errorBox, grid, legend);

  const theme_ = theme(container.closest(".nbtrack-root") || container);
  const charts = new Map();
  const chartFor = (key) => {
    if (!charts.has(key)) {
      charts.set(key, new CurveChart({ container: grid, key, theme: theme_, height,
        onZoom: (lo, hi) => zoom([lo, hi]), onReset: () => zoom(null) }));
    }
    return charts.get(key);
  };
  keys().forEach(chartFor);

  // ------------------------------------------------------------------ data
  const liveSeries = () => {
    const mode = get("x");
    const origins = new Map();
    for (const s of held.values()) {
      if (s.time.length) origins.set(s.runId, Math.min(origins.get(s.runId) ?? Infinity, s.time[0]));
    }
    return [...held.values()].map((s) => liveAsSeries(s, mode, origins.get(s.runId) ?? 0));
  };
  const range = () => {
    const r = get("x_range");
    return Array.isArray(r) && r.length === 2 ? r : null;
  };

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  function draw() {
    const zoomRange = range();
    const statics = zoomRange && zoomed ? zoomed : full;
    // a run still training is drawn from the pushes; once it ended, from the store (full resolution)
    const training = (s) => held.has(s.id) && (statuses.get(s.runId) || "running") === "running";
    const fromStore = new Set(statics.map((s) => s.id));
    const all = [...statics.filter((s) => !training(s)), ...liveSeries().filter((s) => training(s) || !fromStore.has(s.id))];
    const whole = extent(all);
    const [lo, hi] = zoomRange || whole || [0, 1];
    const order = new Map(runs().map((id, i) => [id, i]));
    for (const s of all) {
      if (!colors.has(s.runId)) colors.set(s.runId, runColor(colors.size));
      if (s.name) names.set(s.runId, s.name);
      if (s.status && !statuses.has(s.runId)) statuses.set(s.runId, s.status);
    }
    const shownKeys = keys().length ? keys() : [...new Set(all.map((s) => s.key))];
    for (const key of shownKeys) {
      const list = all.filter((s) => s.key === key).sort((a, b) => (order.get(a.runId) ?? 1e9) - (order.get(b.runId) ?? 1e9));
      chartFor(key).draw({ list, lo, hi, mode: get("x"), logY: Boolean(get("log_y")), alpha: Number(get("smoothing") || 0),
        colors, hidden });
    }
    resetButton.hidden = !zoomRange;
    renderLegend();
    const lines = all.length;
    info.textContent = lines
      ? `${lines} curve${lines === 1 ? "" : "s"}${total.raw && !zoomRange ? ` · ${total.points.toLocaleString()} of ${total.raw.toLocaleString()} points` : ""}`
      : "no points logged yet";
    if (root.dataset.state !== "drawn" && (lines || (answered && !live))) {
      root.dataset.state = "drawn";
      root.dataset.firstDrawMs = String(Math.round(performance.now() - t0));
    }
    root.dataset.points = String(all.reduce((n, s) => n + s.x.length, 0));
    root.dataset.zoomed = zoomRange ? (zoomed ? "full" : "coarse") : "";
    root.dataset.smooth = Number(get("smoothing") || 0) > 0 ? "1" : "";
  }

  function renderLegend() {
    const items = runs().filter((id) => names.has(id) || held.has(id) || full.some((s) => s.runId === id));
    legend.replaceChildren(...items.map((id) => {
      const item = h("div", { className: `nbt-legend-item${hidden.has(id) ? " nbt-off" : ""}`, role: "listitem",
        dataset: { run: id }, title: "Click to hide or show this run" },
        h("span", { className: "nbt-swatch", style: { background: colors.get(id) } }),
        h("span", { className: "nbt-legend-name", text: names.get(id) || id }),
        // a finished run needs no badge, except on a live panel: there, "completed" is news
        statuses.get(id) && (statuses.get(id) !== "completed" || live) ? statusBadge(statuses.get(id)) : null);
      item.addEventListener("click", () => {
        if (hidden.has(id)) hidden.delete(id); else hidden.add(id);
        draw();
      });
      item.addEventListener("mouseenter", () => charts.forEach((c) => c.focusRun(id)));
      item.addEventListener("mouseleave", () => charts.forEach((c) => c.focusRun(null)));
      return item;
    }));
  }

  function buckets() {
    let w = 0;
    for (const c of charts.values()) w = Math.max(w, c.plotWidth());
    return Math.round(w || 800);
  }

  function showError(err) {
    errorBox.replaceChildren(h("div", { className: "nbt-error", role: "alert", text: err.message || String(err) }));
  }

  function skip() {
    return [...held.values()].filter((s) => (statuses.get(s.runId) || s.status) === "running").map((s) => [s.runId, s.key]);
  }

  function request(zoomRange) {
    const asked = ++latest;
    const x = get("x");
    return channel.request("curves", { ...args, x, buckets: buckets(), x_range: zoomRange, skip: skip() })
      .then(({ meta, buffers }) => {
        if (asked !== latest || x !== get("x")) return;
        errorBox.replaceChildren();
        const list = decodeCurves(meta, buffers);
        for (const s of meta.series) {
          names.set(s.run_id, s.name);
          if (s.status) statuses.set(s.run_id, s.status);
        }
        answered = true;
        if (zoomRange) zoomed = list;
        else {
          full = list;
          total = { raw: meta.series.reduce((n, s) => n + (s.raw || 0), 0), points: meta.series.reduce((n, s) => n + s.points, 0) };
        }
        draw();
      }, (err) => { if (asked === latest) showError(err); });
  }

  function zoom(r) {
    set({ x_range: r ? [r[0], r[1]] : [] });
    zoomed = null;
    draw(); // at once, from what is here; the full-resolution answer follows
    if (r) request(r);
  }

  // ------------------------------------------------------------------ live
  function onLive(meta, _rows, buffers) {
    let ended = false;
    for (const [id, status] of Object.entries(meta.statuses || {})) {
      ended ||= statuses.get(id) === "running" && status !== "running";
      statuses.set(id, status);
    }
    if (ended) { request(null); const r = range(); if (r) request(r); } // the store has it all now
    if (meta.kind === "snapshot") {
      held.clear();
      for (const s of decodeLive(meta, buffers)) held.set(s.id, s);
      seq = meta.seq;
    } else if (meta.kind === "delta" && meta.after === seq) {
      for (const s of decodeLive(meta, buffers)) {
        const known = held.get(s.id);
        held.set(s.id, known ? appendLive(known, s) : s);
      }
      seq = meta.seq;
    }
    const running = [...statuses.values()].some((s) => s === "running");
    liveMark.hidden = !running;
    schedule();
  }

  // ------------------------------------------------------------------ wiring
  xSelect.addEventListener("change", () => { set({ x: xSelect.value, x_range: [] }); full = []; zoomed = null; request(null); });
  logBox.addEventListener("change", () => { set({ log_y: logBox.checked }); draw(); });
  let slideTimer = null;
  slider.addEventListener("input", () => {
    sliderText.textContent = Number(slider.value).toFixed(2);
    local.smoothing = Number(slider.value);
    clearTimeout(slideTimer);
    slideTimer = setTimeout(() => set({ smoothing: Number(slider.value) }), 200);
    schedule();
  });
  resetButton.addEventListener("click", () => zoom(null));
  const observer = new ResizeObserver(() => {
    for (const c of charts.values()) c.resize(grid.clientWidth / Math.max(1, columnsFor(grid.clientWidth)) - 8);
    schedule();
  });
  const columnsFor = (w) => (charts.size > 1 && w >= 900 ? 2 : 1);
  observer.observe(grid);
  const offs = [channel.on("live", onLive), channel.on("reload", () => { request(null); const r = range(); if (r) request(r); })];

  if (answered || held.size) draw();
  request(null).then(() => { const r = range(); if (r) request(r); });
  if (live) channel.request("live", {}).then(({ meta, buffers }) => onLive(meta, null, buffers), () => {});

  return {
    root,
    refresh: () => request(null),
    destroy: () => {
      if (memo) memos.set(memo, { full, zoomed, seq, total, answered, held: new Map(held), statuses: new Map(statuses), names: new Map(names) });
      observer.disconnect();
      offs.forEach((off) => off());
      charts.forEach((c) => c.destroy());
      root.remove();
    },
  };
}

/** The `plot` panel: renderCurves over the widget's own traits. */
export function renderPlotPanel({ model, el }) {
  const channel = new Channel(model);
  const view = renderCurves({
    channel, container: el,
    runs: () => model.get("runs") || [],
    keys: () => model.get("metrics") || [],
    get: (name) => model.get(name),
    set: (values) => { for (const [k, v] of Object.entries(values)) model.set(k, v); model.save_changes(); },
    live: Boolean(model.get("live")),
    height: model.get("height") || 240,
    memo: model.get("_uid") || null,
  });
  view.root.classList.add("nbt-panel");
  return () => { view.destroy(); channel.close(); };
}
