// The run table: every run of the store (or of a selection), searched, filtered, sorted and
// grouped by the kernel, shown through a virtualised table. The state a person changes (search,
// filter, sort, columns, widths, selection) lives in the widget model, so Python sees it.
import { Channel } from "./channel.js";
import { chartPane } from "./charts/run_chart_pane.js";
import { clear, h, tabs } from "./dom.js";
import { renderExperiments } from "./experiments.js";
import { renderRunPage } from "./run_page.js";
import { VirtualTable } from "./table.js";

const BLOCK = 100;

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The error of a bad filter, with a caret under the offending token. */
function filterError(detail) {
  if (!detail || !detail.message) return null;
  const first = String(detail.message).split("\n")[0];
  const parts = [h("div", { className: "nbt-errmsg", text: first })];
  if (detail.expression && detail.position !== null && detail.position !== undefined) {
    parts.push(h("pre", { className: "nbt-caret-line", text: `${detail.expression}\n${" ".repeat(detail.position)}^` }));
  }
  return h("div", { className: "nbt-error", role: "alert" }, parts);
}

export function renderRunsPanel({ model, el }) {
  const channel = new Channel(model);
  const save = (values) => {
    for (const [key, value] of Object.entries(values)) model.set(key, value);
    model.save_changes();
  };
  let view = { version: -1, count: 0, runs: 0, total: 0, columns: [], all_columns: [] };
  let blocks = new Map();
  const pending = new Set();
  let anchor = null;
  let visible = [0, BLOCK];

  // ------------------------------------------------------------------ toolbar
  const search = h("input", { type: "search", className: "nbt-search", placeholder: "Search name, experiment, tags, notes",
    "aria-label": "search runs", value: model.get("search") || "" });
  const where = h("input", { type: "text", className: "nbt-where", placeholder: 'Filter: params.lr < 0.01 and metadata.gpu contains "A100"',
    "aria-label": "filter runs", spellcheck: "false", value: model.get("where") || "" });
  const archived = h("input", { type: "checkbox", className: "nbt-archived", checked: Boolean(model.get("show_archived")) });
  const group = h("select", { className: "nbt-select nbt-group", "aria-label": "group rows", title: "Group rows" },
    [["", "no grouping"], ["experiment", "group: experiment"], ["sweep_id", "group: sweep"], ["status", "group: status"],
      ["user", "group: user"], ["host", "group: host"]].map(([v, t]) => h("option", { value: v, text: t })));
  group.value = model.get("group_by") || "";
  const columnsButton = h("button", { className: "nbt-button nbt-columns-button", text: "Columns", title: "Choose the columns to show" });
  const count = h("span", { className: "nbt-count", "aria-live": "polite" });
  const selection = h("span", { className: "nbt-selection" });
  const chips = h("span", { className: "nbt-chips" });
  const errorBox = h("div", { className: "nbt-errorbox" });
  const status = h("span", { className: "nbt-live", title: "Updates while runs are added or change" });
  const picker = h("div", { className: "nbt-picker", hidden: true });
  const details = h("div", { className: "nbt-details", hidden: true });

  const applySearch = debounce(() => save({ search: search.value }), 150);
  search.addEventListener("input", applySearch);
  const applyWhere = () => { if (where.value !== model.get("where")) save({ where: where.value }); };
  where.addEventListener("keydown", (e) => { if (e.key === "Enter") applyWhere(); });
  where.addEventListener("change", applyWhere);
  archived.addEventListener("change", () => save({ show_archived: archived.checked }));
  group.addEventListener("change", () => save({ group_by: group.value, collapsed: [] }));
  columnsButton.addEventListener("click", () => { picker.hidden = !picker.hidden; if (!picker.hidden) renderPicker(); });

  const toolbar = h("div", { className: "nbt-toolbar" },
    search, where,
    h("label", { className: "nbt-toggle", title: "Show archived runs and experiments" }, archived, " archived"),
    group,
    columnsButton);
  const charts = chartPane({ model, channel, columns: () => view.all_columns || [] }); // the selection, plotted
  const statusbar = h("div", { className: "nbt-statusbar" }, count, chips, selection, charts.button, status);

  // ------------------------------------------------------------------ table
  const table = new VirtualTable({
    widths: model.get("widths") || {},
    getRow: (i) => blocks.get(Math.floor(i / BLOCK))?.[i % BLOCK],
    onRange: (start, end) => {
      visible = [start, end];
      for (let b = Math.floor(start / BLOCK); b * BLOCK < end; b++) fetchBlock(b);
    },
    onSort: (column, add) => save({ sort: nextSort(model.get("sort") || [], column, add) }),
    onRowClick: (index, row, e) => select(index, row, e, false),
    onCheck: (index, row, e) => select(index, row, e, true),
    onCheckAll: () => {
      if (table.o.allSelected()) save({ selected: [] });
      else channel.request("ids", { offset: 0, limit: view.count, version: view.version })
        .then(({ meta }) => save({ selected: meta.ids }));
    },
    allSelected: () => view.runs > 0 && (model.get("selected") || []).length >= view.runs,
    onOpen: (row) => save({ open_run: row.run_id }),
    onGroup: (name) => {
      const collapsed = new Set(model.get("collapsed") || []);
      if (collapsed.has(name)) collapsed.delete(name); else collapsed.add(name);
      save({ collapsed: [...collapsed] });
    },
    onWidths: (widths) => save({ widths }),
  });

  function nextSort(sort, column, add) {
    const at = sort.findIndex((s) => s[0] === column);
    const current = at >= 0 ? sort[at][1] : null;
    const next = current === null ? "asc" : current === "asc" ? "desc" : null;
    if (!add) return next ? [[column, next]] : [];
    const out = sort.filter((s) => s[0] !== column);
    if (next) {
      if (at >= 0) out.splice(at, 0, [column, next]); else out.push([column, next]);
    }
    return out;
  }

  function rowsInRange(a, b) {
    const ids = [];
    for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
      const row = table.o.getRow(i);
      if (row === undefined) return null;
      if (row._kind !== "group") ids.push(row.run_id);
    }
    return ids;
  }

  async function select(index, row, e, toggle) {
    const current = model.get("selected") || [];
    if (e.shiftKey && anchor !== null) {
      let ids = rowsInRange(anchor, index);
      if (ids === null) {
        const lo = Math.min(anchor, index);
        const { meta } = await channel.request("ids", { offset: lo, limit: Math.abs(index - anchor) + 1, version: view.version });
        ids = meta.ids;
      }
      const keep = toggle || e.ctrlKey || e.metaKey ? current : [];
      save({ selected: [...new Set([...keep, ...ids])] });
      return;
    }
    anchor = index;
    if (toggle || e.ctrlKey || e.metaKey) {
      save({ selected: current.includes(row.run_id) ? current.filter((x) => x !== row.run_id) : [...current, row.run_id] });
    } else {
      save({ selected: current.length === 1 && current[0] === row.run_id ? [] : [row.run_id] });
    }
  }

  function fetchBlock(b) {
    if (blocks.has(b) || pending.has(`${view.version}:${b}`) || b * BLOCK >= view.count) return;
    const key = `${view.version}:${b}`;
    pending.add(key);
    channel.request("rows", { offset: b * BLOCK, limit: BLOCK, version: view.version, visible })
      .then(({ meta, rows }) => {
        pending.delete(key);
        if (meta.version !== view.version) { accept(meta, rows); return; }
        blocks.set(b, rows);
        table.invalidate();
      }, (err) => { pending.delete(key); showError(err.detail || { message: err.message }); });
  }

  // ------------------------------------------------------------------ view updates
  function accept(meta, rows) {
    const changed = meta.version !== view.version;
    view = meta;
    if (changed) {
      blocks = new Map();
      pending.clear();
    }
    if (rows) {
      const offset = meta.offset || 0;
      for (let i = 0; i < rows.length; i += BLOCK) {
        const b = Math.floor((offset + i) / BLOCK);
        if ((offset + i) % BLOCK === 0) blocks.set(b, rows.slice(i, i + BLOCK));
      }
    }
    showError(meta.error);
    count.textContent = meta.total === meta.runs
      ? `${meta.runs.toLocaleString()} run${meta.runs === 1 ? "" : "s"}`
      : `${meta.runs.toLocaleString()} of ${meta.total.toLocaleString()} runs shown`;
    status.textContent = meta.live ? "● live" : "";
    status.title = meta.updated ? `updated ${new Date(meta.updated * 1000).toLocaleTimeString()}` : "";
    table.update({ columns: meta.columns, count: meta.count, sort: model.get("sort") || [],
      selected: model.get("selected") || [], emptyText: meta.total ? "No run matches" : "No runs in this store yet" });
    if (!picker.hidden) renderPicker();
  }

  function showError(detail) {
    clear(errorBox);
    const box = filterError(detail);
    if (box) errorBox.appendChild(box);
    where.classList.toggle("nbt-invalid", Boolean(box));
  }

  function renderChips() {
    clear(chips);
    for (const name of model.get("experiment") || []) {
      chips.appendChild(h("span", { className: "nbt-chip", title: "Only runs of this experiment" },
        h("span", { text: `experiment: ${name}` }),
        h("button", { className: "nbt-chip-x", text: "✕", "aria-label": `stop filtering by ${name}`,
          on: { click: () => save({ experiment: (model.get("experiment") || []).filter((x) => x !== name) }) } })));
    }
  }

  function renderSelection() {
    const n = (model.get("selected") || []).length;
    clear(selection);
    if (n) {
      selection.append(`${n} selected `,
        h("button", { className: "nbt-link-button", text: "clear", on: { click: () => save({ selected: [] }) } }));
    }
  }

  function renderPicker() {
    clear(picker);
    const shown = new Set(view.columns.map((c) => c.name));
    const filter = h("input", { type: "search", className: "nbt-picker-filter", placeholder: "Find a column" });
    const list = h("div", { className: "nbt-picker-list" });
    const fill = () => {
      clear(list);
      const q = filter.value.toLowerCase();
      for (const column of view.all_columns) {
        if (q && !column.name.toLowerCase().includes(q)) continue;
        const box = h("input", { type: "checkbox", checked: shown.has(column.name) });
        box.addEventListener("change", () => {
          const next = view.columns.map((c) => c.name).filter((n) => n !== column.name);
          if (box.checked) next.push(column.name);
          save({ columns: next });
        });
        list.appendChild(h("label", { className: "nbt-picker-item", title: column.varying ? "varies across the shown runs" : "same in every shown run" },
          box, h("span", { text: column.label }), column.varying ? h("span", { className: "nbt-varies", text: "varies" }) : null));
      }
    };
    filter.addEventListener("input", fill);
    picker.append(h("div", { className: "nbt-picker-head" }, filter,
      h("button", { className: "nbt-button", text: "Default", title: "Status, names, times, then what varies",
        on: { click: () => save({ columns: [] }) } }),
      h("button", { className: "nbt-button", text: "Close", on: { click: () => { picker.hidden = true; } } })), list);
    fill();
  }

  function renderDetails() {
    const runId = model.get("open_run");
    clear(details);
    details.hidden = !runId;
    if (!runId) return;
    details.append(h("div", { className: "nbt-details-head" },
      h("button", { className: "nbt-button", text: "✕ Close run", on: { click: () => save({ open_run: "" }) } })));
    const body = h("div");
    details.appendChild(body);
    renderRunPage({ channel, runId, container: body });
  }

  const runsPane = h("div", { className: "nbt-runs-pane" }, toolbar, errorBox, picker, statusbar, table.el, charts.el, details);
  const shell = tabs([
    { id: "runs", label: "Runs", render: (c) => c.appendChild(runsPane) },
    { id: "experiments", label: "Experiments", render: (c) => renderExperiments({ channel, container: c,
      open: (name) => { save({ experiment: [name], tab: "runs" }); shell.select("runs"); } }) },
  ], model.get("tab"), (id) => save({ tab: id }));
  const root = h("div", { className: "nbt-panel nbt-runs-panel" }, shell.el);
  el.appendChild(root);

  // ------------------------------------------------------------------ wiring
  const offPush = channel.on("view", (meta, rows) => accept(meta, rows));
  const onSelected = () => { table.update({ selected: model.get("selected") || [] }); renderSelection(); };
  const onSort = () => table.update({ sort: model.get("sort") || [] });
  model.on("change:selected", onSelected);
  model.on("change:sort", onSort);
  model.on("change:experiment", renderChips);
  model.on("change:open_run", renderDetails);
  renderChips();
  renderSelection();
  renderDetails();
  channel.request("view", { visible }).then(({ meta, rows }) => accept(meta, rows),
    (err) => showError(err.detail || { message: err.message }));

  return () => {
    offPush();
    model.off("change:selected", onSelected);
    model.off("change:sort", onSort);
    model.off("change:experiment", renderChips);
    model.off("change:open_run", renderDetails);
    table.destroy();
    charts.destroy();
    channel.close();
  };
}
