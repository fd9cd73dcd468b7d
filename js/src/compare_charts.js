// The compare panel's charts tab (parallel coordinates, scatter, overlaid curves). Filled in
// once the shared chart renderer lands (see /work/notes/PANELS.md); until then it says so.
import { h } from "./dom.js";

export function renderCompareCharts({ container }) {
  container.appendChild(h("div", { className: "nbt-empty", text: "Charts are not available in this build yet." }));
}
