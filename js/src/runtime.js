// nbtrack's panels as one ES module, imported once per page by loader.js. `render` picks the
// panel a widget names in its `_panel` trait; every panel talks to its kernel through a Channel.
import { Channel } from "./channel.js";
import { renderChartPanel } from "./charts/chart_panel.js";
import { renderPlotPanel } from "./charts/plot_panel.js";
import { renderComparePanel } from "./compare.js";
import { renderLineagePanel } from "./lineage.js";
import { renderRunWidget } from "./run_page.js";
import { renderRunsPanel } from "./runs_panel.js";
import { renderSweepPanel } from "./sweep.js";
import css from "./style.css";

const PANELS = {
  runs: ({ model, el }) => renderRunsPanel({ model, el }),
  plot: renderPlotPanel,
  chart: renderChartPanel,
  run: ({ model, el }) => {
    const channel = new Channel(model);
    const off = renderRunWidget({ model, el, channel });
    return () => { off(); channel.close(); };
  },
  compare: ({ model, el }) => renderComparePanel({ model, el }),
  lineage: ({ model, el }) => renderLineagePanel({ model, el }),
  sweep: ({ model, el }) => renderSweepPanel({ model, el }),
};

function injectStyle() {
  if (document.getElementById("nbtrack-style")) return;
  const style = document.createElement("style");
  style.id = "nbtrack-style";
  style.textContent = css;
  document.head.appendChild(style);
}

/** Draw the panel named by the model's `_panel` into `el`; returns its cleanup function. */
export function render({ model, el }) {
  injectStyle();
  el.classList.add("nbtrack-root");
  const kind = model.get("_panel");
  const panel = PANELS[kind];
  if (!panel) {
    el.textContent = `nbtrack: this page has no panel called ${JSON.stringify(kind)} (a newer nbtrack made it?)`;
    return () => {};
  }
  return panel({ model, el });
}

export function register(name, fn) {
  PANELS[name] = fn;
}
