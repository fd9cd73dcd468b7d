// The sweep panel: the sweep's definition and progress, its trials as a sortable table (state,
// value, best so far, params, the trial's run, which opens its run page), the best-so-far curve
// and parallel coordinates of the params against the objective. Live: the kernel pushes "sweep"
// when trials start or end, from any process.
import { Channel } from "./channel.js";
import { renderSweepCharts } from "./compare_charts.js";
import { clear, h, tabs } from "./dom.js";
import { absoluteTime, duration, number, relativeTime } from "./format.js";
import { renderRunPage } from "./run_page.js";
import { statusBadge } from "./table.js";

const STATES = { completed: "completed", running: "running", failed: "failed", pruned: "killed", crashed: "crashed", abandoned: "archived" };

function stateBadge(state) {
  const badge = statusBadge(STATES[state] || state);
  badge.textContent = state;
  return badge;
}

function summaryLine(s) {
  const counts = Object.entries(s.counts || {}).sort().map(([k, n]) => `${n} ${k}`).join(" · ");
  const budget = s.budget === null || s.budget === undefined ? "no trial limit" : `${s.trials} of ${s.budget} trials`;
  return h("div", { className: "nbt-sweep-head" },
    h("span", { className: "nbt-runname", text: s.name }),
    statusBadge(s.status === "finished" ? "completed" : s.status === "stopped" ? "killed" : "running"),
    h("span", { className: "nbt-muted", text: ` ${s.status} · ${s.strategy} · ${s.direction} ${s.objective} · ${budget}${counts ? ` (${counts})` : ""}` }));
}

function bestLine(s, openRun) {
  if (s.best_value === null || s.best_value === undefined) return h("div", { className: "nbt-muted nbt-sweep-best", text: "No completed trial yet" });
  const params = Object.entries(s.best_params || {}).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  return h("div", { className: "nbt-sweep-best" }, "best ", h("b", { className: "nbt-sweep-bestvalue", text: number(s.best_value) }),
    ` ${s.objective} with ${params} · `,
    h("button", { className: "nbt-link-button", text: "open the run", on: { click: () => openRun(s.best_run_id) } }));
}

/** The trials as a table, sorted by any column (a click on its header, again to reverse). */
function trialsTable(rows, params, summary, openRun, sort, onSort) {
  const columns = [
    { name: "number", label: "#", kind: "number" }, { name: "state", label: "state", kind: "state" },
    { name: "value", label: summary.objective, kind: "number" }, { name: "best_so_far", label: "best so far", kind: "number" },
    ...params.map((p) => ({ name: p, label: p.replace(/^params\./, ""), kind: "param" })),
    { name: "run_name", label: "run", kind: "run" }, { name: "duration_s", label: "duration", kind: "duration" },
    { name: "started", label: "started", kind: "time" },
  ];
  const [key, dir] = sort;
  const sorted = [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return a.number - b.number || a.attempt - b.attempt;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * (dir === "desc" ? -1 : 1);
  });
  const head = h("tr", {}, columns.map((c) => h("th", {
    className: "nbt-sweep-th", dataset: { col: c.name }, "aria-sort": c.name === key ? (dir === "desc" ? "descending" : "ascending") : "none",
    on: { click: () => onSort([c.name, c.name === key && dir === "asc" ? "desc" : "asc"]) },
  }, c.label, c.name === key ? h("span", { className: "nbt-sortmark", text: dir === "desc" ? " ▼" : " ▲" }) : null)));
  const cell = (c, row) => {
    const v = row[c.name];
    if (c.kind === "state") return h("td", {}, stateBadge(v));
    if (c.kind === "run") return h("td", {}, v ? h("button", { className: "nbt-link-button nbt-sweep-run", text: v, title: `${v} — open the run page`, on: { click: () => openRun(row.run_id) } }) : "");
    if (c.kind === "duration") return h("td", { className: "nbt-num", text: duration(v) });
    if (c.kind === "time") return h("td", { text: v ? relativeTime(v) : "", title: v ? absoluteTime(v) : "" });
    if (c.name === "number") return h("td", { className: "nbt-num", text: row.attempt ? `${v}.${row.attempt}` : String(v) });
    return h("td", { className: typeof v === "number" ? "nbt-num" : "", text: v === null || v === undefined ? "" : typeof v === "number" ? number(v) : String(v) });
  };
  const best = summary.best_run_id;
  const body = h("tbody", {}, sorted.map((row) => h("tr", {
    className: `nbt-sweep-trial${row.run_id && row.run_id === best ? " nbt-sweep-besttrial" : ""}`, dataset: { number: String(row.number), state: row.state },
    title: row.reason || "" }, columns.map((c) => cell(c, row)))));
  return h("div", { className: "nbt-cmp-scroll nbt-sweep-scroll" }, h("table", { className: "nbt-grid nbt-sweep-table" }, h("thead", {}, head), body));
}

export function renderSweepPanel({ model, el }) {
  const channel = new Channel(model);
  const save = (values) => { for (const [k, v] of Object.entries(values)) model.set(k, v); model.save_changes(); };
  const root = h("div", { className: "nbt-panel nbt-sweep" }, h("div", { className: "nbt-loading", text: "Loading sweep…" }));
  const details = h("div", { className: "nbt-details", hidden: true });
  el.append(root, details);
  let current = model.get("tab") || "trials";
  let sort = ["number", "asc"];
  let state = null;

  const openRun = (runId) => {
    if (!runId) return;
    details.hidden = false;
    clear(details);
    const container = h("div");
    details.append(h("div", { className: "nbt-details-head" },
      h("button", { className: "nbt-button", text: "Close run page", on: { click: () => { details.hidden = true; clear(details); } } })), container);
    renderRunPage({ channel, runId, container });
    details.scrollIntoView({ block: "nearest" });
  };

  const draw = () => {
    const { summary, params, rows } = state;
    clear(root);
    const table = h("div");
    const fillTable = () => { clear(table); table.appendChild(trialsTable(rows, params, summary, openRun, sort, (next) => { sort = next; fillTable(); })); };
    fillTable();
    const sheet = tabs([
      { id: "trials", label: `Trials (${rows.length})`, render: (c) => c.appendChild(rows.length ? table : h("div", { className: "nbt-empty", text: "No trials yet" })) },
      { id: "best", label: "Best so far", render: (c) => renderSweepCharts({ container: c, channel, model, kind: "best", summary }) },
      { id: "parallel", label: "Parallel coordinates", render: (c) => renderSweepCharts({ container: c, channel, model, kind: "parallel", summary, params, rows }) },
    ], current, (id) => { current = id; save({ tab: id }); });
    root.append(summaryLine(summary), bestLine(summary, openRun), sheet.el);
    root.dataset.trials = String(rows.length);
  };

  const load = () => channel.request("sweep").then(({ meta, rows }) => {
    state = { summary: meta.summary, params: meta.params, rows: rows || [] };
    draw();
  }, (err) => { clear(root); root.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message })); });
  load();
  const off = channel.on("sweep", () => load());
  return () => { off(); channel.close(); };
}
