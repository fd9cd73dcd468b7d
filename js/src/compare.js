// The compare panel: runs side by side (params, run fields, metadata, metrics) with what differs
// marked, "what changed" between two runs (their code cell by cell and their environments), and
// charts over the runs. The kernel computes every comparison; this module only draws text.
import { Channel } from "./channel.js";
import { renderCompareCharts } from "./compare_charts.js";
import { cellsDiff } from "./diff.js";
import { clear, h, tabs } from "./dom.js";
import { absoluteTime, bytes, duration, number, relativeTime } from "./format.js";
import { renderRunPage } from "./run_page.js";
import { statusBadge } from "./table.js";

/** A compared value as text: strings as they are, numbers shortened, anything else as JSON. */
export function valueText(value, present = true) {
  if (!present) return "—";
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return number(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

const KEY_WIDTH = 220;
const RUN_WIDTH = 170;

/** A table whose columns line up with every other section's: a fixed key column, runs equal. */
function alignedTable(className, runs, ...children) {
  return h("table", { className: `nbt-grid nbt-cmp-table ${className}`, style: { width: `max(100%, ${KEY_WIDTH + runs.length * RUN_WIDTH}px)` } },
    h("colgroup", {}, h("col", { style: { width: `${KEY_WIDTH}px` } }), runs.map(() => h("col"))), ...children);
}

function runHeader(run, index, openRun) {
  return h("th", { className: "nbt-cmp-run", dataset: { runId: run.run_id }, scope: "col" },
    h("div", { className: "nbt-cmp-runline" },
      h("span", { className: "nbt-cmp-letter", text: index < 26 ? String.fromCharCode(65 + index) : String(index + 1) }),
      statusBadge(run.status)),
    h("button", { className: "nbt-link-button nbt-cmp-runname", text: run.name ?? run.run_id,
      title: `${run.name} (${run.run_id}) — open the run page`, on: { click: () => openRun(run.run_id) } }),
    h("div", { className: "nbt-muted nbt-cmp-runmeta",
      text: [run.experiment, run.started ? relativeTime(Date.parse(run.started)) : "", duration(run.duration_s)].filter(Boolean).join(" · "),
      title: run.started ? absoluteTime(Date.parse(run.started)) : "" }));
}

/** One section (params, run, metadata) as a table of key rows × run columns. */
function sectionTable(title, rows, runs, state, openRun) {
  const shown = rows.filter((r) => (!state.hideEqual || r.differs) &&
    (!state.filter || r.key.toLowerCase().includes(state.filter)));
  const differing = rows.filter((r) => r.differs).length;
  const head = h("h4", { className: "nbt-cmp-title" }, title,
    h("span", { className: "nbt-muted", text: `  ${differing} of ${rows.length} differ` }));
  if (!rows.length) return h("section", { className: "nbt-section", dataset: { section: title } }, head, h("div", { className: "nbt-muted", text: "none recorded" }));
  const body = h("tbody");
  for (const r of shown) {
    body.appendChild(h("tr", { className: r.differs ? "nbt-cmp-row nbt-differs" : "nbt-cmp-row", dataset: { key: r.key } },
      h("th", { className: "nbt-cmp-key", scope: "row", text: r.key, title: r.key }),
      r.values.map((v, i) => h("td", {
        className: ["nbt-cmp-value", r.changed[i] ? "nbt-changed" : "", r.present[i] ? "" : "nbt-missing"].filter(Boolean).join(" "),
        text: valueText(v, r.present[i]), title: r.changed[i] ? "differs from A" : "",
      }))));
  }
  if (!shown.length) body.appendChild(h("tr", {}, h("td", { className: "nbt-muted", colSpan: runs.length + 1, text: state.hideEqual ? "all equal" : "no match" })));
  return h("section", { className: "nbt-section", dataset: { section: title } }, head,
    h("div", { className: "nbt-cmp-scroll" }, alignedTable("", runs,
      h("thead", {}, h("tr", {}, h("th", { className: "nbt-cmp-key" }), runs.map((run, i) => runHeader(run, i, openRun)))), body)));
}

function metricsTable(metrics, runs, state, openRun) {
  if (!metrics.length) return h("div", { className: "nbt-empty", text: "No metrics logged by these runs" });
  const shown = metrics.filter((m) => (!state.hideEqual || m.differs) && (!state.filter || m.key.toLowerCase().includes(state.filter)));
  const body = h("tbody");
  for (const m of shown) {
    const first = m.runs[0] ? m.runs[0].last : undefined;
    body.appendChild(h("tr", { className: m.differs ? "nbt-cmp-row nbt-differs" : "nbt-cmp-row", dataset: { key: m.key } },
      h("th", { className: "nbt-cmp-key nbt-metric-key", scope: "row", text: m.key }),
      m.runs.map((c) => (c
        ? h("td", { className: `nbt-cmp-metric${c.last !== first ? " nbt-changed" : ""}`, title: `${c.count} points, last step ${c.last_step}` },
          h("div", { className: "nbt-cmp-last", text: number(c.last) }),
          h("div", { className: "nbt-muted nbt-cmp-range", text: `min ${number(c.min)} · max ${number(c.max)}` }))
        : h("td", { className: "nbt-cmp-metric nbt-missing", text: "—" })))));
  }
  return h("div", { className: "nbt-cmp-scroll" }, alignedTable("nbt-cmp-metrics", runs,
    h("thead", {}, h("tr", {}, h("th", { className: "nbt-cmp-key", text: "last (min · max)" }), runs.map((run, i) => runHeader(run, i, openRun)))), body));
}

function kvDiff(title, rows, format = valueText) {
  if (!rows || !rows.length) return null;
  return h("section", { className: "nbt-section", dataset: { section: title } }, h("h4", { text: `${title} (${rows.length})` }),
    h("table", { className: "nbt-grid nbt-cmp-env" },
      h("thead", {}, h("tr", {}, ["", "A", "B", ""].map((c) => h("th", { text: c })))),
      h("tbody", {}, rows.map((r) => h("tr", { className: `nbt-change-${r.change || "changed"}` },
        h("td", { className: "nbt-cmp-key", text: r.name }),
        h("td", { className: "nbt-cmp-value", text: r.a === null || r.a === undefined ? "—" : format(r.a) }),
        h("td", { className: "nbt-cmp-value nbt-changed", text: r.b === null || r.b === undefined ? "—" : format(r.b) }),
        h("td", { className: "nbt-muted", text: r.change || "" }))))));
}

function fileText(f) {
  if (!f) return "—";
  return `${f.path}  ${String(f.sha256 || "").slice(0, 12)}${f.size !== null && f.size !== undefined ? `  ${bytes(f.size)}` : ""}`;
}

function filesDiff(title, files) {
  if (!files || !files.length) return null;
  const differ = files.filter((f) => f.change !== "same").length;
  return h("section", { className: "nbt-section", dataset: { section: title } },
    h("h4", { text: `${title} (${differ} of ${files.length} differ, by content hash)` }),
    h("table", { className: "nbt-grid nbt-cmp-env" },
      h("thead", {}, h("tr", {}, ["A", "B", ""].map((c) => h("th", { text: c })))),
      h("tbody", {}, files.map((f) => h("tr", { className: `nbt-change-${f.change}`, dataset: { path: f.path ?? "" } },
        h("td", { className: "nbt-cmp-file", text: fileText(f.a), title: f.a?.sha256 || "" }),
        h("td", { className: `nbt-cmp-file${f.change === "same" ? "" : " nbt-changed"}`, text: fileText(f.b), title: f.b?.sha256 || "" }),
        h("td", { className: "nbt-muted", text: f.change }))))));
}

function jsonish(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The "code & environment" tab for the pair (a, b). */
function renderDiff(container, channel, runs, pair, onPair) {
  const names = new Map(runs.map((r, i) => [r.run_id, `${String.fromCharCode(65 + Math.min(i, 25))} · ${r.name}`]));
  const pick = (value, which) => h("select", { className: "nbt-select nbt-cmp-pick", "aria-label": `run ${which}`,
    on: { change: (e) => onPair(which === "A" ? [e.target.value, pair[1]] : [pair[0], e.target.value]) } },
  runs.map((r) => h("option", { value: r.run_id, selected: r.run_id === value, text: names.get(r.run_id) })));
  const body = h("div", { className: "nbt-cmp-diffbody" }, h("div", { className: "nbt-loading", text: "Comparing…" }));
  container.appendChild(h("div", { className: "nbt-cmp-diff" },
    h("div", { className: "nbt-toolbar" }, "A ", pick(pair[0], "A"), " against B ", pick(pair[1], "B")), body));
  channel.request("diff", { a: pair[0], b: pair[1] }).then(({ meta }) => {
    const d = meta.diff;
    const env = d.env;
    clear(body);
    body.appendChild(h("section", { className: "nbt-section nbt-cmp-summary", role: "status" },
      h("h4", { text: "What changed" }),
      d.summary.length ? h("ul", {}, d.summary.map((line) => h("li", { text: line })))
        : h("div", { className: "nbt-muted", text: "Nothing: the same code, environment, inputs and git state" })));
    const counts = ["changed", "added", "removed", "same"].map((k) => [k, d.cells.filter((c) => c.kind === k).length]).filter(([, n]) => n);
    body.appendChild(h("section", { className: "nbt-section", dataset: { section: "code" } },
      h("h4", { text: `Code, cell by cell (${counts.map(([k, n]) => `${n} ${k}`).join(", ") || "no cells"})` }),
      h("div", { className: "nbt-muted", text: `A: ${d.identity.a.cells} cells, identity ${String(d.identity.a.adhoc_identity || "—").slice(0, 12)} · B: ${d.identity.b.cells} cells, identity ${String(d.identity.b.adhoc_identity || "—").slice(0, 12)}` }),
      cellsDiff(d.cells)));
    const envParts = [
      env.python.a !== env.python.b ? kvDiff("Python", [{ name: "python", a: env.python.a, b: env.python.b }]) : null,
      kvDiff("Packages", env.packages),
      kvDiff("Git", env.git, jsonish),
      filesDiff("Inputs", env.inputs), filesDiff("Outputs", env.outputs), filesDiff("Artifacts", env.artifacts),
      kvDiff("Commands", env.commands.map((c) => ({ ...c, a: c.a === null ? null : `exit ${c.a}`, b: c.b === null ? null : `exit ${c.b}` }))),
      kvDiff("Machine", env.machine, jsonish),
      kvDiff("Environment variables", env.env_vars),
    ].filter(Boolean);
    body.appendChild(h("section", { className: "nbt-section", dataset: { section: "environment" } },
      h("h4", { text: "Environment" }),
      h("div", { className: "nbt-muted", text: env.same_env
        ? "Both runs recorded the same environment snapshot (packages, Python, variables)."
        : `Packages recorded: A ${env.package_count.a}, B ${env.package_count.b}.${env.has_git.a || env.has_git.b ? "" : " No git repository."}` }),
      envParts.length ? envParts : h("div", { className: "nbt-muted", text: "No differences." })));
  }, (err) => { clear(body); body.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message })); });
}

export function renderComparePanel({ model, el }) {
  const channel = new Channel(model);
  const save = (values) => { for (const [k, v] of Object.entries(values)) model.set(k, v); model.save_changes(); };
  const root = h("div", { className: "nbt-panel nbt-compare" }, h("div", { className: "nbt-loading", text: "Loading comparison…" }));
  const details = h("div", { className: "nbt-details", hidden: true });
  el.append(root, details);
  const state = { hideEqual: Boolean(model.get("hide_equal")), filter: "" };
  let data = null;
  let sheet = null;
  let current = model.get("tab") || "params";

  const openRun = (runId) => {
    details.hidden = false;
    clear(details);
    const container = h("div");
    details.append(h("div", { className: "nbt-details-head" },
      h("button", { className: "nbt-button", text: "Close run page", on: { click: () => { details.hidden = true; clear(details); } } })), container);
    renderRunPage({ channel, runId, container });
    details.scrollIntoView({ block: "nearest" });
  };

  const hide = h("input", { type: "checkbox", className: "nbt-hide-equal", checked: state.hideEqual });
  const filter = h("input", { type: "search", className: "nbt-search nbt-cmp-filter", placeholder: "Filter keys", "aria-label": "filter keys" });
  const views = new Map();
  const redraw = () => { for (const [, fn] of views) fn(); };
  hide.addEventListener("change", () => { state.hideEqual = hide.checked; save({ hide_equal: hide.checked }); redraw(); });
  filter.addEventListener("input", () => { state.filter = filter.value.trim().toLowerCase(); redraw(); });

  const listView = (container, draw) => {
    const fn = () => { clear(container); container.append(...[draw()].flat()); };
    views.set(container, fn);
    fn();
  };

  const draw = () => {
    clear(root);
    views.clear();
    const { runs, sections, metrics } = data;
    const differ = ["params", "run", "metadata"].reduce((n, s) => n + sections[s].filter((r) => r.differs).length, 0);
    const head = h("div", { className: "nbt-cmp-head" },
      h("span", { className: "nbt-runname", text: `Comparing ${runs.length} run${runs.length === 1 ? "" : "s"}` }),
      h("span", { className: "nbt-muted nbt-cmp-count", text: `${differ} value${differ === 1 ? "" : "s"} differ · ${metrics.filter((m) => m.differs).length} of ${metrics.length} metrics differ` }));
    const toolbar = h("div", { className: "nbt-toolbar" }, filter,
      h("label", { className: "nbt-toggle", title: "Hide the rows whose values are equal in every run" }, hide, " hide equal"));
    const pair = (model.get("pair") || []).length === 2 ? model.get("pair") : runs.slice(0, 2).map((r) => r.run_id);
    const items = [
      { id: "params", label: "Params & metadata", render: (c) => listView(c, () => [
        sectionTable("Params", sections.params, runs, state, openRun),
        sectionTable("Run", sections.run, runs, state, openRun),
        sectionTable("Metadata", sections.metadata, runs, state, openRun)]) },
      { id: "metrics", label: `Metrics (${metrics.length})`, render: (c) => listView(c, () => metricsTable(metrics, runs, state, openRun)) },
    ];
    if (runs.length >= 2) {
      items.push({ id: "diff", label: "Code & environment", render: (c) => {
        const onPair = (next) => { save({ pair: next }); clear(c); renderDiff(c, channel, runs, next, onPair); };
        renderDiff(c, channel, runs, model.get("pair")?.length === 2 ? model.get("pair") : pair, onPair);
      } });
    }
    items.push({ id: "charts", label: "Charts", render: (c) => renderCompareCharts({ container: c, channel, model, runs, save }) });
    sheet = tabs(items, items.some((t) => t.id === current) ? current : "params", (id) => { current = id; save({ tab: id }); });
    root.append(head, toolbar, sheet.el);
  };

  channel.request("compare").then(({ meta }) => { data = meta; draw(); }, (err) => {
    clear(root);
    root.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message }));
  });
  return () => channel.close();
}
