// nbtrack/ui/static/charts.js: vega and vega-lite, sent to a page once, on the first chart that
// needs them (charts/modules.js). Draws a vega-lite specification built by altair in the kernel,
// with its data passed in as rows (they came over the comm as Arrow, never inside the spec).
// Offline by construction: the loader refuses every URL. Text (run names, metric keys) is drawn
// by vega as SVG/canvas text; the hover box is our own DOM built with textContent.
import { View, parse, loader as vegaLoader } from "vega";
import { compile } from "vega-lite";

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

function noNetwork() {
  const refuse = () => Promise.reject(new Error("nbtrack charts load nothing by URL: data comes from the kernel"));
  const loader = vegaLoader();
  loader.load = refuse;
  loader.sanitize = refuse;
  loader.http = refuse;
  loader.file = refuse;
  return loader;
}

/** vega-lite config from the theme colours of charts/palette.js `theme()`. */
export function themeConfig(t) {
  const font = t.font || "sans-serif";
  const size = Math.round((t.fontSize || 13) * 0.85);
  const axis = { domainColor: t.axis, gridColor: t.grid, tickColor: t.axis, labelColor: t.muted, titleColor: t.text,
    labelFont: font, titleFont: font, labelFontSize: size, titleFontSize: size, titleFontWeight: 600 };
  return {
    background: null, font,
    view: { stroke: t.grid },
    axis,
    legend: { labelColor: t.text, titleColor: t.text, labelFont: font, titleFont: font, labelFontSize: size, titleFontSize: size },
    header: { labelColor: t.text, titleColor: t.text, labelFont: font, titleFont: font, labelFontSize: size, titleFontSize: size },
    title: { color: t.text, font, subtitleColor: t.muted },
    text: { color: t.text },
    range: { category: PALETTE },
  };
}

function text(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  return String(value);
}

/** A hover box of key/value rows, text only, following the pointer. */
function tooltips(container) {
  const box = document.createElement("div");
  box.className = "nbt-hover";
  box.hidden = true;
  box.setAttribute("role", "tooltip");
  container.style.position = "relative";
  container.appendChild(box);
  const handler = (_handler, event, _item, value) => {
    if (value === null || value === undefined || value === "") { box.hidden = true; return; }
    box.replaceChildren();
    const entries = typeof value === "object" ? Object.entries(value) : [["", value]];
    for (const [k, v] of entries) {
      const row = document.createElement("div");
      row.className = "nbt-hover-kv";
      if (k) {
        const name = document.createElement("span");
        name.className = "nbt-muted";
        name.textContent = `${k}: `;
        row.appendChild(name);
      }
      const val = document.createElement("span");
      val.textContent = text(v);
      row.appendChild(val);
      box.appendChild(row);
    }
    box.hidden = false;
    const at = container.getBoundingClientRect(); // relative to the chart: outputs may be transformed
    box.style.left = `${Math.min(event.clientX - at.left + 12, Math.max(0, at.width - box.offsetWidth - 4))}px`;
    box.style.top = `${event.clientY - at.top + 12}px`;
  };
  return { box, handler };
}

function merge(base, over) {
  if (!over || typeof over !== "object") return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && base[k] && typeof base[k] === "object" ? merge(base[k], v) : v;
  }
  return out;
}

/**
 * Draw vega-lite `spec` into `container`; `datasets` maps the spec's named data sources to
 * row arrays. Returns {view, destroy}.
 * @param {HTMLElement} container
 * @param {object} spec vega-lite, with `data: {name}` (or none) and no inline values needed
 * @param {Record<string, object[]>} datasets
 * @param {{theme?: object, renderer?: "svg"|"canvas"}} options
 */
export async function renderChart(container, spec, datasets = {}, options = {}) {
  const el = document.createElement("div");
  el.className = "nbt-vega";
  container.appendChild(el);
  const { box, handler } = tooltips(container);
  const config = merge(options.theme ? themeConfig(options.theme) : {}, spec.config || {});
  const vega = compile({ ...spec, config }).spec;
  const view = new View(parse(vega), { renderer: options.renderer || "svg", container: el, hover: true,
    loader: noNetwork(), tooltip: handler });
  for (const [name, rows] of Object.entries(datasets)) view.data(name, rows);
  await view.runAsync();
  el.addEventListener("mouseleave", () => { box.hidden = true; });
  return { view, destroy: () => { view.finalize(); el.remove(); box.remove(); } };
}
