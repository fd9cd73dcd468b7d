// The charts of the compare and sweep panels: the kernel builds each as an altair (vega-lite)
// specification whose datasets it sends as Arrow (requests "chart" then "chart_data"); the
// shared renderer (charts/vega_view.js, vega loaded once per page) draws it. Choices a person
// makes (objective, scatter axes, curve metric) are saved in the widget model.
import { renderCurves } from "./charts/plot_panel.js";
import { drawSpec } from "./charts/vega_view.js";
import { clear, h } from "./dom.js";

/** Ask for chart `kind` with `args`, fetch its datasets and draw it into `box`. */
const views = new WeakMap(); // box -> the view drawn in it, destroyed before the next

export async function drawChart({ box, channel, model, kind, args = {} }) {
  views.get(box)?.destroy();
  views.delete(box);
  clear(box);
  box.dataset.state = "loading";
  box.appendChild(h("div", { className: "nbt-loading", text: "Drawing…" }));
  try {
    const { meta } = await channel.request("chart", { kind, ...args });
    const datasets = {};
    for (const name of meta.datasets || []) {
      const { rows } = await channel.request("chart_data", { kind, name });
      datasets[name] = rows || [];
    }
    clear(box);
    const drawn = await drawSpec({ model, container: box, spec: meta.spec, datasets });
    views.set(box, drawn);
    box.dataset.state = "drawn";
    box.dataset.rows = String(Object.values(datasets).reduce((n, rows) => n + rows.length, 0));
    return drawn;
  } catch (err) {
    clear(box);
    box.dataset.state = "error";
    box.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message || String(err) }));
    return null;
  }
}

function picker(label, options, value, onChange) {
  const select = h("select", { className: "nbt-select nbt-chart-pick", "aria-label": label },
    options.map((o) => h("option", { value: o.name, selected: o.name === value, text: `${o.name.replace(/^(params|metrics)\./, "")}${o.varies === false ? " (same in all)" : ""}` })));
  select.addEventListener("change", () => onChange(select.value));
  return h("label", { className: "nbt-toggle" }, `${label} `, select);
}

function chartSection(title, controls, kind) {
  const box = h("div", { className: "nbt-chart-box", dataset: { chart: kind } });
  return { box, el: h("section", { className: "nbt-section nbt-chart-section", dataset: { section: kind } },
    h("div", { className: "nbt-toolbar" }, h("h4", { text: title }), ...controls), box) };
}

/** The compare panel's charts tab: parallel coordinates, a scatter, overlaid curves. */
export function renderCompareCharts({ container, channel, model, save }) {
  const wait = h("div", { className: "nbt-loading", text: "Loading…" });
  container.appendChild(wait);
  channel.request("points").then(({ meta }) => {
    wait.remove();
    const { params, metrics } = meta.axes;
    if (!metrics.length) {
      container.appendChild(h("div", { className: "nbt-empty", text: "These runs logged no metrics to chart." }));
      return;
    }
    const find = (list, value) => value && list.find((a) => a.name === value || a.name === `metrics.${value}` || a.name === `params.${value}`);
    const pick = (list, ...traits) => (traits.map((t) => find(list, model.get(t))).find(Boolean) || list[0])?.name;
    const choice = { objective: pick(metrics, "objective"), x: pick(params, "scatter_x"), y: pick(metrics, "scatter_y", "objective"),
      key: pick(metrics, "curve", "objective") };
    const redraw = (section, kind, args) => drawChart({ box: section.box, channel, model, kind, args });

    const par = chartSection("Parallel coordinates", [picker("objective", metrics, choice.objective, (v) => {
      choice.objective = v; save({ objective: v }); redraw(par, "parallel", { objective: v });
    })], "parallel");
    const sections = [par];
    if (params.length) {
      const sc = chartSection("Scatter", [
        picker("param", params, choice.x, (v) => { choice.x = v; save({ scatter_x: v }); redraw(sc, "scatter", { x: choice.x, y: choice.y }); }),
        picker("against", metrics, choice.y, (v) => { choice.y = v; save({ scatter_y: v }); redraw(sc, "scatter", { x: choice.x, y: choice.y }); })], "scatter");
      sections.push(sc);
      redraw(sc, "scatter", { x: choice.x, y: choice.y });
    }
    // overlaid curves: the charts' uPlot view (smoothing, log y, zoom at full resolution)
    const settings = { x: "step", log_y: false, smoothing: 0, x_range: [] };
    let curves = null;
    const drawCurves = (box, key) => {
      curves?.destroy();
      clear(box);
      const keys = [key.replace(/^metrics\./, "")];
      const runs = model.get("run_ids") || [];
      curves = renderCurves({ channel, container: box, runs: () => runs, keys: () => keys, height: 260,
        get: (name) => settings[name], set: (values) => Object.assign(settings, values), args: { runs, keys } });
      box.dataset.state = "drawn";
    };
    const cv = chartSection("Curves", [picker("metric", metrics, choice.key, (v) => {
      choice.key = v; save({ curve: v.replace(/^metrics\./, "") }); drawCurves(cv.box, v);
    })], "curves");
    sections.push(cv);
    container.append(...sections.map((s) => s.el));
    if (params.length) redraw(par, "parallel", { objective: choice.objective });
    else par.box.appendChild(h("div", { className: "nbt-muted", text: "No params logged: nothing to draw across." }));
    drawCurves(cv.box, choice.key);
  }, (err) => { wait.remove(); container.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message })); });
}

/** The sweep panel's best-so-far curve or its parallel coordinates. */
export function renderSweepCharts({ container, channel, model, kind, summary }) {
  const title = kind === "best" ? `Best ${summary.objective} so far (${summary.direction})` : `Params against ${summary.objective}`;
  const section = chartSection(title, [], kind);
  container.appendChild(section.el);
  drawChart({ box: section.box, channel, model, kind });
}
