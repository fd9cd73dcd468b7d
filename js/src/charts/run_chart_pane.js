// The run table's chart pane: "Plot" overlays the selected runs' curves of one metric under the
// table, and follows the selection while it is open. Data through the table's own channel (its
// `curves` request, nbtrack.ui.curves.CurveRequests).
import { h } from "../dom.js";
import { renderCurves } from "./plot_panel.js";

const MAX_RUNS = 100;

/**
 * @param {{model: any, channel: any, columns: () => {name: string}[]}} options
 * @returns {{button: HTMLElement, el: HTMLElement, destroy: () => void}}
 */
export function chartPane({ model, channel, columns }) {
  const settings = { x: "step", log_y: false, smoothing: 0, x_range: [] };
  let open = false;
  let key = "";
  let view = null;
  const button = h("button", { className: "nbt-button nbt-plot-selected", text: "Plot", hidden: true,
    title: "Overlay the selected runs' curves" });
  const pick = h("select", { className: "nbt-select nbt-metric-pick", "aria-label": "metric to plot" });
  const title = h("span", { className: "nbt-chart-pane-title" });
  const close = h("button", { className: "nbt-button", text: "✕ Close chart" });
  const body = h("div", { className: "nbt-chart-pane-body" });
  const el = h("div", { className: "nbt-chart-pane", hidden: true },
    h("div", { className: "nbt-chart-pane-head" }, title, pick, close), body);

  const selected = () => (model.get("selected") || []).slice(0, MAX_RUNS);
  const metricKeys = () => columns().filter((c) => c.name.startsWith("metrics.")).map((c) => c.name.slice(8));

  function fillPick() {
    const keys = metricKeys();
    if (!key || !keys.includes(key)) key = keys[0] || "";
    pick.replaceChildren(...keys.map((k) => h("option", { value: k, text: k, selected: k === key })));
  }

  function draw() {
    if (view) view.destroy();
    view = null;
    const runs = selected();
    const n = (model.get("selected") || []).length;
    title.textContent = `${runs.length} selected run${runs.length === 1 ? "" : "s"}${n > MAX_RUNS ? ` (first ${MAX_RUNS} of ${n})` : ""}:`;
    body.replaceChildren();
    if (!runs.length || !key) {
      body.appendChild(h("div", { className: "nbt-empty", text: key ? "Select runs in the table to plot them" : "These runs logged no metrics" }));
      return;
    }
    settings.x_range = [];
    view = renderCurves({ channel, container: body, runs: () => runs, keys: () => [key],
      get: (name) => settings[name], set: (values) => Object.assign(settings, values), height: 220,
      args: { runs, keys: [key] } });
  }

  function onSelected() {
    button.hidden = !(model.get("selected") || []).length;
    button.textContent = `Plot ${(model.get("selected") || []).length} selected`;
    if (open) draw();
  }

  button.addEventListener("click", () => {
    open = true;
    el.hidden = false;
    fillPick();
    draw();
  });
  pick.addEventListener("change", () => { key = pick.value; draw(); });
  close.addEventListener("click", () => { open = false; el.hidden = true; if (view) view.destroy(); view = null; });
  model.on("change:selected", onSelected);
  onSelected();

  return {
    button, el,
    destroy: () => { model.off("change:selected", onSelected); if (view) view.destroy(); },
  };
}
