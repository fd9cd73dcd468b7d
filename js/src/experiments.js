// The experiments list: each experiment with its description, tags, run count, status mix and
// times; searched, filtered and sorted by the kernel; archived and restored from here.
import { clear, h } from "./dom.js";
import { absoluteTime, relativeTime } from "./format.js";
import { tagChips } from "./table.js";

const STATUSES = ["running", "completed", "failed", "killed", "crashed"];

function statusMix(row) {
  const total = STATUSES.reduce((n, s) => n + (row[s] || 0), 0);
  const bar = h("span", { className: "nbt-mix", title: STATUSES.map((s) => `${row[s] || 0} ${s}`).join(", ") });
  for (const s of STATUSES) {
    if (!row[s]) continue;
    bar.appendChild(h("span", { className: `nbt-mix-part nbt-status-${s}`, style: { flexGrow: String(row[s]) },
      text: String(row[s]) }));
  }
  if (!total) bar.appendChild(h("span", { className: "nbt-muted", text: "no runs" }));
  return bar;
}

function when(ms) {
  return h("span", { text: relativeTime(ms), title: absoluteTime(ms) });
}

export function renderExperiments({ channel, container, open }) {
  const state = { search: "", tag: "", state: "active", sort: "last_activity" };
  const search = h("input", { type: "search", className: "nbt-search", placeholder: "Search name or description",
    "aria-label": "search experiments" });
  const tag = h("select", { className: "nbt-select", "aria-label": "filter by tag" }, h("option", { value: "", text: "any tag" }));
  const which = h("select", { className: "nbt-select", "aria-label": "active or archived" },
    ["active", "archived", "all"].map((v) => h("option", { value: v, text: v })));
  const sort = h("select", { className: "nbt-select", "aria-label": "sort experiments" },
    [["last_activity", "last activity"], ["created", "created"], ["experiment", "name"], ["runs", "run count"]]
      .map(([v, t]) => h("option", { value: v, text: `sort: ${t}` })));
  const list = h("div", { className: "nbt-explist", role: "list" });
  const message = h("div", { className: "nbt-errorbox" });
  const count = h("span", { className: "nbt-count" });

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.search = search.value; load(); }, 150); });
  tag.addEventListener("change", () => { state.tag = tag.value; load(); });
  which.addEventListener("change", () => { state.state = which.value; load(); });
  sort.addEventListener("change", () => { state.sort = sort.value; load(); });

  function fillTags(all) {
    const current = tag.value;
    clear(tag);
    tag.appendChild(h("option", { value: "", text: "any tag" }));
    for (const t of all) tag.appendChild(h("option", { value: t, text: t }));
    tag.value = all.includes(current) ? current : "";
  }

  function row(exp) {
    const archived = Boolean(exp.archived);
    const action = h("button", { className: "nbt-button", text: archived ? "Restore" : "Archive",
      title: archived ? "Show this experiment and its runs again" : "Hide this experiment and its runs unless archived ones are shown",
      on: { click: (e) => {
        e.stopPropagation();
        action.disabled = true;
        channel.request("archive_experiment", { experiment: exp.experiment, archived: !archived })
          .then(load, (err) => { action.disabled = false; message.textContent = err.message; });
      } } });
    return h("div", { className: `nbt-exp${archived ? " nbt-exp-archived" : ""}`, role: "listitem",
      dataset: { experiment: exp.experiment } },
    h("div", { className: "nbt-exp-main" },
      h("span", { className: "nbt-link nbt-exp-name", text: exp.experiment, title: "Open its runs",
        on: { click: () => open(exp.experiment) } }),
      archived ? h("span", { className: "nbt-badge nbt-status-archived", text: "archived" }) : null,
      h("div", { className: "nbt-exp-desc", text: exp.description || "" }),
      tagChips(exp.tags || [])),
    h("div", { className: "nbt-exp-stats" },
      h("span", { className: "nbt-exp-runs", text: `${exp.runs} run${exp.runs === 1 ? "" : "s"}` }), statusMix(exp)),
    h("div", { className: "nbt-exp-times" },
      h("span", { className: "nbt-muted", text: "created " }), when(exp.created),
      h("br"), h("span", { className: "nbt-muted", text: "last activity " }), when(exp.last_activity)),
    h("div", { className: "nbt-exp-actions" }, action));
  }

  function load() {
    channel.request("experiments", { ...state }).then(({ meta, rows }) => {
      message.textContent = "";
      fillTags(meta.tags || []);
      clear(list);
      count.textContent = `${rows.length} of ${meta.total} experiments`;
      if (!rows.length) list.appendChild(h("div", { className: "nbt-empty", text: meta.total ? "No experiment matches" : "No experiments yet" }));
      for (const exp of rows) list.appendChild(row(exp));
    }, (err) => { message.textContent = err.message; });
  }

  container.appendChild(h("div", { className: "nbt-experiments" },
    h("div", { className: "nbt-toolbar" }, search, tag, which, sort),
    h("div", { className: "nbt-statusbar" }, count), message, list));
  load();
}
