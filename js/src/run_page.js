// The run page: everything a run knows, in tabs — overview, params, metadata, metrics with
// sparklines, the executed cells, environment, files, notes and tags (editable), history.
import { clear, h, tabs } from "./dom.js";
import { absoluteTime, bytes, cost, duration, number, relativeTime, valueText, WITHHELD } from "./format.js";
import { markdown } from "./markdown.js";
import { statusBadge, tagChips } from "./table.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A small line of a metric's history (already downsampled by the kernel). */
export function sparkline(points, width = 120, height = 24) {
  const box = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "nbt-spark", role: "img" });
  const ys = points.map((p) => p.value).filter((v) => Number.isFinite(v));
  if (points.length < 2 || !ys.length) return box;
  const x0 = points[0].step;
  const x1 = points[points.length - 1].step;
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const sx = (x) => (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * (width - 2) + 1);
  const sy = (y) => (hi === lo ? height / 2 : height - 2 - ((y - lo) / (hi - lo)) * (height - 4));
  const d = points.filter((p) => Number.isFinite(p.value)).map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(" ");
  box.appendChild(svg("polyline", { points: d, fill: "none", "stroke-width": 1.5, class: "nbt-spark-line" }));
  return box;
}

function kv(rows) {
  const table = h("table", { className: "nbt-kv" });
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    table.appendChild(h("tr", {}, h("th", { text: key }), h("td", {}, value instanceof Node ? value : String(value))));
  }
  return table;
}

function section(title, ...children) {
  return h("section", { className: "nbt-section" }, h("h4", { text: title }), children);
}

function when(iso) {
  if (!iso) return "";
  const ms = Date.parse(iso);
  return h("span", { text: `${absoluteTime(ms)} (${relativeTime(ms)})`, title: iso });
}

/** Nested JSON as an expandable tree of <details>; leaves as text. */
export function jsonTree(value, name = null, depth = 0) {
  const label = name === null ? null : h("span", { className: "nbt-tree-key", text: name });
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const node = h("details", { className: "nbt-tree", open: depth < 2 },
      h("summary", {}, label, h("span", { className: "nbt-muted", text: Array.isArray(value) ? ` [${entries.length}]` : ` {${entries.length}}` })));
    for (const [k, v] of entries) node.appendChild(jsonTree(v, k, depth + 1));
    return node;
  }
  return h("div", { className: "nbt-tree-leaf" }, label, label ? ": " : null,
    h("span", { className: `nbt-tree-${value === null ? "null" : typeof value}`, text: value === WITHHELD ? valueText(value) : typeof value === "string" ? JSON.stringify(value) : String(value) }));
}

function filterable(rows, columns, placeholder) {
  const input = h("input", { type: "search", className: "nbt-search", placeholder });
  const body = h("tbody");
  const fill = () => {
    clear(body);
    const q = input.value.toLowerCase();
    for (const row of rows) {
      if (q && !row.some((c) => String(c ?? "").toLowerCase().includes(q))) continue;
      body.appendChild(h("tr", {}, row.map((c) => h("td", {}, c instanceof Node ? c : String(c ?? "")))));
    }
  };
  input.addEventListener("input", fill);
  fill();
  return h("div", {}, rows.length > 8 ? input : null,
    h("table", { className: "nbt-grid" }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { text: c })))), body));
}

function overview(run) {
  const env = run.env_summary || {};
  const git = run.git || {};
  const code = run.code || {};
  const gpus = (env.gpus || []).map((g) => (typeof g === "object" ? [g.name, g.memory_total].filter(Boolean).join(" ") : String(g))).join("; ");
  return h("div", { className: "nbt-overview" },
    section("Run", kv([
      ["status", statusBadge(run.status)], ["message", run.message], ["name", run.name], ["id", run.run_id],
      ["experiment", run.experiment], ["started", when(run.started)], ["ended", when(run.ended)],
      ["duration", duration(run.duration_s)], ["cost", cost(run.cost)], ["user", run.user],
      ["parent run", run.parent_run_id], ["reproduces", run.reproduces],
      ["tags", (run.tags || []).length ? tagChips(run.tags) : null],
    ])),
    section("Where", kv([
      ["host", run.host || env.host], ["python", env.python], ["os", env.os], ["cpu", env.cpu],
      ["cores", env.cores], ["memory", env.memory_bytes ? bytes(env.memory_bytes) : null],
      ["GPU", gpus || "none"], ["container", env.container], ["image", env.image], ["working folder", run.cwd],
    ])),
    section("Code", kv([
      ["adhoc identity", code.adhoc_identity], ["cells", code.cells ?? (run.cells || []).length],
      ["notebook", code.notebook], ["script", run.script || code.script], ["git commit", git.commit],
      ["git branch", git.branch], ["git dirty", git.dirty === undefined ? null : String(git.dirty)],
      ["git remote", git.remote],
    ])));
}

function metricsTab(run, channel) {
  const summary = run.metric_summary || [];
  if (!summary.length) return h("div", { className: "nbt-empty", text: "No metrics logged" });
  const sparks = new Map();
  const table = h("table", { className: "nbt-grid nbt-metrics" },
    h("thead", {}, h("tr", {}, ["metric", "last", "min", "max", "points", "last step", "history"].map((c) => h("th", { text: c })))));
  const body = h("tbody");
  for (const m of summary) {
    const cell = h("td", { className: "nbt-sparkcell" });
    sparks.set(m.key, cell);
    body.appendChild(h("tr", { dataset: { metric: m.key } }, h("td", { className: "nbt-metric-key", text: m.key }),
      h("td", { text: number(m.last) }), h("td", { text: number(m.min) }), h("td", { text: number(m.max) }),
      h("td", { text: String(m.count) }), h("td", { text: m.last_step === null ? "" : String(m.last_step) }), cell));
  }
  table.appendChild(body);
  channel.request("sparklines", { run_id: run.run_id }).then(({ rows }) => {
    const by = new Map();
    for (const r of rows) {
      if (!by.has(r.key)) by.set(r.key, []);
      by.get(r.key).push(r);
    }
    for (const [key, points] of by) sparks.get(key)?.appendChild(sparkline(points));
  }, () => {});
  return table;
}

function codeTab(run) {
  const cells = run.cells || [];
  if (!cells.length) {
    return h("div", { className: "nbt-empty", text: run.script ? `Script run: ${run.script}` : "No cells recorded (not run in a notebook)" });
  }
  const code = run.code || {};
  return h("div", { className: "nbt-cells" },
    code.adhoc_identity ? h("div", { className: "nbt-muted", text: `adhoc identity ${code.adhoc_identity} · ${cells.length} cells in execution order` }) : null,
    cells.map((cell, i) => h("details", { className: `nbt-cellrec${cell.ok === false ? " nbt-cell-error" : ""}`, open: cells.length <= 12 },
      h("summary", {},
        h("span", { className: "nbt-cell-count", text: `[${cell.count ?? i + 1}]` }),
        h("span", { className: "nbt-hash", text: ` ${String(cell.sha256 || "").slice(0, 12)}`, title: `sha256 ${cell.sha256 || ""}` }),
        cell.ok === false ? h("span", { className: "nbt-badge nbt-status-failed", text: "error" }) : null,
        h("span", { className: "nbt-muted", text: cell.started ? ` ${relativeTime(cell.started)}` : "", title: cell.started ? absoluteTime(cell.started) : "" }),
        cell.ended && cell.started ? h("span", { className: "nbt-muted", text: ` · ${duration((cell.ended - cell.started) / 1000)}` }) : null),
      h("pre", { className: "nbt-code" }, h("code", { text: cell.source ?? "" })),
      cell.error ? h("pre", { className: "nbt-code nbt-cell-errtext", text: String(cell.error) }) : null)));
}

function environmentTab(run) {
  const env = run.env || {};
  const packages = Object.entries(env.packages || {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const commands = run.commands || [];
  return h("div", {},
    section("Commands that changed the environment or ran in the shell",
      commands.length
        ? filterable(commands.map((c) => [c.kind || c.via || "", c.command || c.cmd || "", c.exit_code ?? c.status ?? ""]), ["kind", "command", "exit"], "Filter commands")
        : h("div", { className: "nbt-muted", text: "none recorded" })),
    section(`Packages (${packages.length})`, packages.length
      ? filterable(packages, ["package", "version"], "Filter packages")
      : h("div", { className: "nbt-muted", text: "no package list recorded" })),
    env.env_vars ? section("Environment variables (allow-listed, secrets redacted)", filterable(Object.entries(env.env_vars), ["name", "value"], "Filter variables")) : null);
}

function filesTab(run, channel) {
  const preview = h("div", { className: "nbt-preview" });
  const show = (item) => {
    clear(preview);
    preview.appendChild(h("div", { className: "nbt-muted", text: `Loading ${item.path}…` }));
    channel.request("preview", { run_id: run.run_id, sha256: item.sha256, path: item.path }).then(({ meta, buffers }) => {
      clear(preview);
      preview.appendChild(h("div", { className: "nbt-preview-head", text: `${item.path} · ${bytes(meta.size)}${meta.truncated ? " (first part)" : ""}` }));
      if (meta.kind === "image") {
        const view = buffers[0];
        const blob = new Blob([view.buffer ? view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) : view], { type: meta.mime });
        const url = URL.createObjectURL(blob);
        preview.appendChild(h("img", { className: "nbt-preview-img", src: url, alt: item.path }));
      } else if (meta.kind === "text") {
        preview.appendChild(h("pre", { className: "nbt-code", text: meta.text }));
      } else {
        preview.appendChild(h("div", { className: "nbt-muted", text: meta.reason || "binary content: no preview" }));
      }
    }, (err) => { clear(preview); preview.appendChild(h("div", { className: "nbt-error", text: err.message })); });
  };
  const list = (title, items) => section(`${title} (${items.length})`, items.length
    ? filterable(items.map((it) => [it.path, bytes(it.size), h("span", { className: "nbt-hash", text: String(it.sha256 || "").slice(0, 12), title: it.sha256 || "" }),
      it.sha256 ? h("button", { className: "nbt-button nbt-preview-button", text: "preview", on: { click: () => show(it) } }) : ""]),
    ["path", "size", "sha256", ""], "Filter files")
    : h("div", { className: "nbt-muted", text: "none" }));
  return h("div", {}, list("Inputs", run.inputs || []), list("Outputs", run.outputs || []), list("Artifacts", run.artifacts || []), preview);
}

/** An input whose text survives the page being redrawn (a live refresh must not eat a draft). */
function draftInput(drafts, key, tag, props) {
  const el = h(tag, { ...props, value: drafts[key] || "" });
  if (tag === "textarea") el.value = drafts[key] || "";
  el.addEventListener("input", () => { drafts[key] = el.value; });
  if (drafts.focus === key) queueMicrotask(() => el.focus());
  el.addEventListener("focus", () => { drafts.focus = key; });
  el.addEventListener("blur", () => { if (drafts.focus === key) drafts.focus = null; });
  return el;
}

function notesTab(run, channel, reload, drafts) {
  const notes = run.notes || [];
  const text = draftInput(drafts, "note", "textarea", { className: "nbt-note-input", rows: "3", placeholder: "Add a note (markdown)", "aria-label": "new note" });
  const tagInput = draftInput(drafts, "tags", "input", { type: "text", className: "nbt-tag-input", placeholder: "add tags: a, b", "aria-label": "new tags" });
  const message = h("div", { className: "nbt-errorbox" });
  const call = (op, args) => channel.request(op, { run_id: run.run_id, ...args }).then(() => {
    if (op === "note") drafts.note = "";
    if (op === "tags" && args.add) drafts.tags = "";
    return reload();
  }, (err) => { message.textContent = err.message; });
  const tags = h("div", { className: "nbt-tags nbt-tags-edit" }, (run.tags || []).map((t) => h("span", { className: "nbt-tag" },
    h("span", { text: t }), h("button", { className: "nbt-chip-x", text: "✕", "aria-label": `remove tag ${t}`, on: { click: () => call("tags", { remove: [t] }) } }))));
  return h("div", {},
    section("Tags", tags, h("div", { className: "nbt-row-inline" }, tagInput,
      h("button", { className: "nbt-button", text: "Add tags", on: { click: () => {
        const add = tagInput.value.split(",").map((t) => t.trim()).filter(Boolean);
        if (add.length) call("tags", { add });
      } } }))),
    section(`Notes (${notes.length})`,
      notes.map((n) => h("div", { className: "nbt-note" }, h("div", { className: "nbt-muted", text: n.time ? absoluteTime(Date.parse(n.time)) : "" }), markdown(n.text))),
      text, h("button", { className: "nbt-button nbt-add-note", text: "Add note", on: { click: () => { if (text.value.trim()) call("note", { text: text.value }); } } })),
    message);
}

function historyTab(run) {
  const status = (run.status_history || []).map((s) => [s.time ? absoluteTime(Date.parse(s.time)) : "", statusBadge(s.status), s.message || ""]);
  const params = (run.param_history || []).map((p) => [p.time ? absoluteTime(Date.parse(p.time)) : "", Object.entries(p.params || {}).map(([k, v]) => `${k}=${v === WITHHELD ? valueText(v) : JSON.stringify(v)}`).join(", ")]);
  const alerts = (run.alerts || []).map((a) => [a.time ? absoluteTime(Date.parse(a.time)) : "", a.condition || "", a.message || "", a.step ?? "", a.value === undefined ? "" : number(a.value)]);
  return h("div", {},
    section("Status", filterable(status, ["time", "status", "message"], "Filter")),
    alerts.length ? section("Alerts", filterable(alerts, ["time", "condition", "message", "step", "value"], "Filter alerts")) : null,
    section("Params logged", filterable(params, ["time", "params"], "Filter")));
}

/** Render run `runId` into `container`, asking `channel` for its log; `reload()` redraws it
 * on the tab the person is looking at. */
export function renderRunPage({ channel, runId, container, tab = "overview" }) {
  let current = tab;
  const drafts = { note: "", tags: "", focus: null }; // kept across the redraws of a live page
  const load = () => channel.request("run", { run_id: runId }).then(({ meta }) => {
    const run = meta.run;
    clear(container);
    const header = h("div", { className: "nbt-runhead" }, statusBadge(run.status),
      h("span", { className: "nbt-runname", text: run.name }),
      h("span", { className: "nbt-muted", text: ` ${run.experiment} · ${run.run_id}` }));
    const params = Object.entries(run.params || {}).sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => [k, valueText(v)]);
    const sheet = tabs([
      { id: "overview", label: "Overview", render: (c) => c.appendChild(overview(run)) },
      { id: "params", label: `Params (${params.length})`, render: (c) => c.appendChild(params.length ? filterable(params, ["param", "value"], "Filter params") : h("div", { className: "nbt-empty", text: "No params logged" })) },
      { id: "metadata", label: "Metadata", render: (c) => c.appendChild(Object.keys(run.metadata || {}).length ? jsonTree(run.metadata, null) : h("div", { className: "nbt-empty", text: "No metadata logged" })) },
      { id: "metrics", label: `Metrics (${(run.metric_summary || []).length})`, render: (c) => c.appendChild(metricsTab(run, channel)) },
      { id: "code", label: `Code (${(run.cells || []).length})`, render: (c) => c.appendChild(codeTab(run)) },
      { id: "environment", label: "Environment", render: (c) => c.appendChild(environmentTab(run)) },
      { id: "files", label: "Files", render: (c) => c.appendChild(filesTab(run, channel)) },
      { id: "notes", label: `Notes & tags (${(run.notes || []).length})`, render: (c) => c.appendChild(notesTab(run, channel, load, drafts)) },
      { id: "history", label: "History", render: (c) => c.appendChild(historyTab(run)) },
    ], current, (id) => { current = id; });
    container.append(h("div", { className: "nbt-panel nbt-run-page", dataset: { runId: run.run_id } }, header, sheet.el));
  }, (err) => {
    clear(container);
    container.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message }));
  });
  container.appendChild(h("div", { className: "nbt-loading", text: "Loading run…" }));
  load();
  return { reload: load };
}

/** The standalone run page widget: `nbtrack.show(run)`. */
export function renderRunWidget({ model, el, channel }) {
  const container = h("div", { className: "nbt-run-widget" });
  el.appendChild(container);
  const page = renderRunPage({ channel, runId: model.get("run_id"), container, tab: model.get("tab") || "overview" });
  return channel.on("run", () => page.reload());
}
