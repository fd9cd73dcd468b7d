// One metric's overlaid curves, drawn by uPlot on a canvas (fast for hundreds of long curves).
// The series come laid out on a shared grid (series.js); run names never reach uPlot: the legend
// and the hover box are our own DOM, built with textContent. Drag across the plot to zoom (the
// panel then asks the kernel for that range at full resolution); double-click to zoom out.
import uPlot from "uplot";
import uplotCss from "uplot/dist/uPlot.min.css";
import { h } from "../dom.js";
import chartsCss from "./charts.css";
import { duration, number } from "../format.js";
import { faint } from "./palette.js";
import { layout } from "./series.js";

const HOVER_ROWS = 8;

export function injectChartStyle() {
  if (document.getElementById("nbtrack-chart-style")) return;
  const style = document.createElement("style");
  style.id = "nbtrack-chart-style";
  style.textContent = `${uplotCss}\n${chartsCss}`;
  document.head.appendChild(style);
}

/** How an x value reads in mode `mode` (step, epoch ms, seconds). */
export function xText(mode, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  if (mode === "time") return new Date(value).toLocaleString();
  if (mode === "relative") return duration(value);
  return Math.round(value).toLocaleString();
}

/** Tick labels with as many decimals as the spacing of the ticks needs (k/M/G for big ones). */
export function tickLabels(splits, log = false) {
  if (log) return splits.map((v) => number(v));
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0;
  const max = Math.max(0, ...splits.map((v) => Math.abs(v)));
  const [unit, suffix] = max >= 1e9 ? [1e9, "G"] : max >= 1e6 ? [1e6, "M"] : max >= 1e4 ? [1e3, "k"] : [1, ""];
  const decimals = step > 0 ? Math.max(0, Math.min(8, Math.ceil(-Math.log10(step / unit) - 1e-9))) : 0;
  return splits.map((v) => (v === null || v === undefined ? "" : `${(v / unit).toFixed(decimals)}${suffix}`));
}

/** Seconds since the run's start: "12.5s" while short, durations ("3m 20s") once long. */
function relativeLabels(splits) {
  const max = Math.max(0, ...splits.map((v) => Math.abs(v)));
  return max < 120 ? tickLabels(splits).map((t) => (t ? `${t}s` : t)) : splits.map((v) => duration(v));
}

export class CurveChart {
  /**
   * @param {{container: HTMLElement, key: string, theme: any, height?: number,
   *   onZoom: (lo: number, hi: number) => void, onReset: () => void}} options
   */
  constructor(options) {
    injectChartStyle();
    this.o = options;
    this.el = h("div", { className: "nbt-curve", dataset: { key: options.key } });
    this.title = h("div", { className: "nbt-curve-title", text: options.key });
    this.plotEl = h("div", { className: "nbt-curve-plot" });
    this.hover = h("div", { className: "nbt-hover", hidden: true, role: "tooltip" });
    this.el.append(this.title, this.plotEl, this.hover);
    options.container.appendChild(this.el);
    this.u = null;
    this.signature = "";
    this.state = null;
  }

  /** Plot width in CSS pixels (the number of M4 columns worth drawing). */
  plotWidth() {
    if (this.u) return Math.max(16, Math.round(this.u.bbox.width / (window.devicePixelRatio || 1)));
    return Math.max(16, (this.el.clientWidth || 600) - 70);
  }

  /**
   * Draw `list` (Series of this chart's key) over [lo, hi].
   * @param {{list: any[], lo: number, hi: number, mode: string, logY: boolean, alpha: number,
   *   colors: Map<string, string>, hidden: Set<string>}} state
   */
  draw(state) {
    this.state = state;
    const width = this.plotWidth();
    const laid = layout(state.list, state.lo, state.hi, width, state.alpha);
    this.laid = laid;
    const smooth = state.alpha > 0;
    const fix = (ys) => (state.logY ? ys.map((v) => (v !== null && v > 0 ? v : null)) : ys);
    const data = [laid.xs, ...laid.raw.map((r) => fix(r.ys))];
    if (smooth) for (const sm of laid.smooth) data.push(fix(sm));
    const signature = JSON.stringify([state.list.map((s) => s.id), state.mode, state.logY, smooth, this.o.theme]);
    if (!this.u || signature !== this.signature) {
      this.signature = signature;
      this.create(state, data, smooth);
    } else {
      this.u.setData(data, false);
      this.u.setScale("x", { min: state.lo, max: state.hi });
    }
    this.applyHidden(state.hidden);
    this.el.dataset.series = String(state.list.length);
  }

  create(state, data, smooth) {
    if (this.u) this.u.destroy();
    const t = this.o.theme;
    const font = `${Math.round(t.fontSize * 0.85)}px ${t.font}`;
    const axis = {
      stroke: t.muted, font, labelFont: font, size: 44,
      grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1, size: 4 },
    };
    const series = [{}];
    for (const s of state.list) {
      const color = state.colors.get(s.runId);
      series.push({ stroke: smooth ? faint(color, 0.28) : color, width: smooth ? 1 : 1.25, spanGaps: true,
        points: { show: false } });
    }
    if (smooth) for (const s of state.list) series.push({ stroke: state.colors.get(s.runId), width: 1.75, spanGaps: true, points: { show: false } });
    const mode = state.mode;
    const opts = {
      width: Math.max(200, this.plotEl.clientWidth || this.el.clientWidth || 600),
      height: this.o.height || 240,
      ms: 1,
      legend: { show: false },
      focus: { alpha: 0.25 },
      padding: [8, 12, 0, 4],
      scales: { x: { time: mode === "time", auto: false, range: () => [this.state.lo, this.state.hi] },
        y: { distr: state.logY ? 3 : 1, log: 10 } },
      axes: [
        { ...axis, values: mode === "time" ? undefined
          : (u, splits) => (mode === "relative" ? relativeLabels(splits) : tickLabels(splits)) },
        { ...axis, size: 56, values: (u, splits) => tickLabels(splits, state.logY) },
      ],
      series,
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
        focus: { prox: 24 },
        bind: { dblclick: () => () => { this.o.onReset(); return null; } },
      },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 3) {
            const lo = u.posToVal(u.select.left, "x");
            const hi = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (hi > lo) this.o.onZoom(lo, hi);
          }
        }],
        setCursor: [(u) => this.showHover(u)],
      },
    };
    clearTimeout(this.hideTimer);
    this.plotEl.textContent = "";
    this.u = new uPlot(opts, data, this.plotEl);
    this.u.over.addEventListener("mouseleave", () => { this.hover.hidden = true; });
  }

  applyHidden(hidden) {
    if (!this.u || !this.state) return;
    const n = this.state.list.length;
    const smooth = this.state.alpha > 0;
    this.state.list.forEach((s, i) => {
      const show = !hidden.has(s.runId);
      if (this.u.series[i + 1].show !== show) this.u.setSeries(i + 1, { show });
      if (smooth && this.u.series[i + 1 + n] && this.u.series[i + 1 + n].show !== show) this.u.setSeries(i + 1 + n, { show });
    });
  }

  /** Emphasise one run's curve (legend hover); null for none. */
  focusRun(runId) {
    if (!this.u || !this.state) return;
    const i = runId === null ? -1 : this.state.list.findIndex((s) => s.runId === runId);
    const smooth = this.state.alpha > 0;
    this.u.setSeries(i < 0 ? null : i + 1 + (smooth ? this.state.list.length : 0), { focus: true });
  }

  showHover(u) {
    const idx = u.cursor.idx;
    const state = this.state;
    if (idx === null || idx === undefined || !state || u.cursor.left < 0) {
      this.hover.hidden = true;
      return;
    }
    const cursorY = u.posToVal(u.cursor.top, "y");
    const rows = [];
    state.list.forEach((s, i) => {
      if (state.hidden.has(s.runId)) return;
      const { ys, real } = this.laid.raw[i];
      for (let d = 0; d <= 6; d++) {
        for (const j of d ? [idx - d, idx + d] : [idx]) {
          if (j < 0 || j >= ys.length || ys[j] === null) continue;
          rows.push({ s, x: real[j], y: ys[j] });
          d = 7;
          break;
        }
      }
    });
    if (!rows.length) { this.hover.hidden = true; return; }
    rows.sort((a, b) => Math.abs(a.y - cursorY) - Math.abs(b.y - cursorY));
    const shown = rows.slice(0, HOVER_ROWS);
    const label = state.mode === "step" ? "step" : state.mode === "time" ? "time" : "after";
    this.hover.replaceChildren(
      h("div", { className: "nbt-hover-head", text: this.o.key }),
      ...shown.map((r) => h("div", { className: "nbt-hover-row", dataset: { run: r.s.runId } },
        h("span", { className: "nbt-swatch", style: { background: state.colors.get(r.s.runId) } }),
        h("span", { className: "nbt-hover-name", text: r.s.name }),
        h("span", { className: "nbt-hover-x", text: `${label} ${xText(state.mode, r.x)}` }),
        h("span", { className: "nbt-hover-y", text: number(r.y) }))),
      ...(rows.length > HOVER_ROWS ? [h("div", { className: "nbt-muted", text: `+${rows.length - HOVER_ROWS} more runs here` })] : []),
    );
    this.hover.hidden = false;
    const left = u.cursor.left + u.over.offsetLeft;
    const box = this.el.clientWidth;
    this.hover.style.left = `${Math.min(left + 14, Math.max(0, box - this.hover.offsetWidth - 4))}px`;
    this.hover.style.top = `${u.cursor.top + u.over.offsetTop + 14}px`;
  }

  resize(width) {
    if (this.u) this.u.setSize({ width: Math.max(200, width), height: this.o.height || 240 });
  }

  destroy() {
    if (this.u) this.u.destroy();
    this.u = null;
    this.el.remove();
  }
}
