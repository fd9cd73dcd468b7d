// Drawing an altair (vega-lite) specification from any panel: the vega bundle is fetched from the
// panel's kernel on first use (modules.js) and the chart follows the page's theme.
import { loadModule } from "./modules.js";
import { injectChartStyle } from "./curves.js";
import { theme } from "./palette.js";

/**
 * Draw vega-lite `spec` with `datasets` ({name: rows}) into `container`.
 * @param {{model: any, container: HTMLElement, spec: object, datasets?: Record<string, object[]>,
 *   renderer?: "svg"|"canvas"}} options
 * @returns {Promise<{view: any, destroy: () => void}>}
 */
export async function drawSpec({ model, container, spec, datasets = {}, renderer = "svg" }) {
  injectChartStyle();
  const charts = await loadModule(model, "charts");
  return charts.renderChart(container, spec, datasets, { theme: theme(container.closest(".nbtrack-root") || container), renderer });
}
