// The `chart` panel (nbtrack.ui.charts.Chart): an altair specification from the kernel, its
// data fetched over the comm as Arrow rows, drawn by the vega bundle. Redrawn when the kernel
// changes the spec or the data.
import { Channel } from "../channel.js";
import { h } from "../dom.js";
import { drawSpec } from "./vega_view.js";

export function renderChartPanel({ model, el }) {
  const channel = new Channel(model);
  const root = h("div", { className: "nbt-panel nbt-chart", dataset: { state: "loading" } });
  const body = h("div", { className: "nbt-chart-body" }, h("div", { className: "nbt-loading", text: "Drawing chart…" }));
  root.appendChild(body);
  el.appendChild(root);
  let drawn = null;
  let version = 0;

  async function draw() {
    const mine = ++version;
    const t0 = performance.now();
    try {
      const { meta } = await channel.request("chart", {});
      const datasets = {};
      for (const name of meta.datasets || []) {
        const { rows } = await channel.request("chart_data", { name });
        datasets[name] = rows || [];
      }
      if (mine !== version) return;
      if (drawn) drawn.destroy();
      body.replaceChildren();
      drawn = await drawSpec({ model, container: body, spec: meta.spec, datasets, renderer: meta.renderer || "svg" });
      root.dataset.state = "drawn";
      root.dataset.drawMs = String(Math.round(performance.now() - t0));
    } catch (err) {
      if (mine !== version) return;
      body.replaceChildren(h("div", { className: "nbt-error", role: "alert", text: `chart: ${err.message || err}` }));
      root.dataset.state = "error";
    }
  }

  const off = channel.on("chart", () => draw());
  draw();
  return () => {
    off();
    if (drawn) drawn.destroy();
    channel.close();
  };
}
