// A virtualised table: only the rows in view (plus a few) exist in the DOM, so 10,000 runs
// scroll as smoothly as 10. Rows come from the kernel in blocks (the panel asks for them as the
// view moves); columns share one CSS grid template so widths drag in one place.
import {
  Virtualizer, elementScroll, observeElementOffset, observeElementRect,
} from "@tanstack/virtual-core";
import { clear, h } from "./dom.js";
import { absoluteTime, cellText } from "./format.js";

export const ROW_HEIGHT = 28;
const CHECK_WIDTH = 30;
const MIN_WIDTH = 48;

const DEFAULT_WIDTHS = { status: 96, experiment: 140, name: 190, started: 96, duration_s: 86,
  cost: 72, user: 80, tags: 150, host: 100 };

/** A status as a coloured badge; the word is always shown, colour only helps. */
export function statusBadge(status) {
  return h("span", { className: `nbt-badge nbt-status-${String(status).replace(/[^a-z]/g, "")}`,
    text: status ?? "" });
}

export function tagChips(tags) {
  const list = Array.isArray(tags) ? tags : (tags ? [tags] : []);
  return h("span", { className: "nbt-tags" }, list.map((t) => h("span", { className: "nbt-tag", text: t })));
}

function renderCell(column, row) {
  const value = row[column.name];
  const cell = h("div", { className: `nbt-cell nbt-kind-${column.kind}`, role: "cell",
    dataset: { col: column.name } });
  if (value === null || value === undefined) return cell;
  if (column.kind === "status") cell.appendChild(statusBadge(value));
  else if (column.kind === "tags") cell.appendChild(tagChips(value));
  else if (column.kind === "name") {
    cell.appendChild(h("span", { className: "nbt-link", text: value, title: `${value} — open the run page`,
      dataset: { action: "open" } }));
  } else {
    const text = cellText(column.kind, value);
    cell.textContent = text;
    cell.title = column.kind === "time" ? absoluteTime(value) : text;
  }
  return cell;
}

export class VirtualTable {
  /**
   * @param {object} o
   * @param {(index: number) => any} o.getRow a loaded row or undefined
   * @param {(start: number, end: number) => void} o.onRange rows [start, end) came into view
   * @param {(column: string, add: boolean) => void} o.onSort
   * @param {(index: number, row: any, event: MouseEvent) => void} o.onRowClick
   * @param {(index: number, row: any, event: MouseEvent) => void} o.onCheck
   * @param {() => void} o.onCheckAll
   * @param {(row: any) => void} o.onOpen
   * @param {(group: string) => void} o.onGroup
   * @param {(widths: object) => void} o.onWidths
   */
  constructor(o) {
    this.o = o;
    this.columns = [];
    this.count = 0;
    this.sort = [];
    this.selected = new Set();
    this.widths = { ...(o.widths || {}) };
    this.version = 0;
    this.rendered = new Map(); // index -> {el, version}
    this.header = h("div", { className: "nbt-row nbt-header", role: "row" });
    this.spacer = h("div", { className: "nbt-spacer" });
    this.empty = h("div", { className: "nbt-empty", text: "" });
    this.scroller = h("div", { className: "nbt-scroll", role: "table", tabindex: "0" },
      this.header, this.spacer, this.empty);
    this.el = h("div", { className: "nbt-table" }, this.scroller);
    this.scroller.addEventListener("click", (e) => this.click(e));
    this.virtualizer = new Virtualizer({
      count: 0,
      getScrollElement: () => this.scroller,
      estimateSize: () => ROW_HEIGHT,
      scrollToFn: elementScroll,
      observeElementRect,
      observeElementOffset,
      overscan: 12, // also covers the one row hidden under the sticky header
      onChange: () => this.renderRows(),
    });
    this.unmount = this.virtualizer._didMount();
    this.virtualizer._willUpdate();
  }

  destroy() {
    if (this.unmount) this.unmount();
  }

  width(column) {
    return Math.max(MIN_WIDTH, this.widths[column.name] ?? DEFAULT_WIDTHS[column.name] ??
      (column.kind === "number" ? 96 : 130));
  }

  layout() {
    const template = [CHECK_WIDTH, ...this.columns.map((c) => this.width(c))];
    const total = template.reduce((a, b) => a + b, 0);
    this.el.style.setProperty("--nbt-cols", template.map((w) => `${w}px`).join(" "));
    this.el.style.setProperty("--nbt-width", `${total}px`);
  }

  /** New columns, row count, sort or selection: redraw what is on screen. */
  update({ columns, count, sort, selected, emptyText }) {
    if (columns) this.columns = columns;
    if (sort) this.sort = sort;
    if (selected) this.selected = new Set(selected);
    if (count !== undefined && count !== this.count) {
      this.count = count;
      this.virtualizer.setOptions({ ...this.virtualizer.options, count });
      this.virtualizer._willUpdate();
    }
    this.empty.textContent = this.count ? "" : (emptyText || "No runs");
    this.empty.hidden = Boolean(this.count);
    this.layout();
    this.renderHeader();
    this.invalidate();
  }

  /** Row data changed (a new block arrived or the view changed): re-render visible rows. */
  invalidate() {
    this.version++;
    this.renderRows();
  }

  scrollToTop() {
    this.scroller.scrollTop = 0;
  }

  renderHeader() {
    clear(this.header);
    const all = this.count > 0 && this.o.allSelected?.();
    const box = h("input", { type: "checkbox", className: "nbt-check", title: "Select every shown run",
      "aria-label": "select all", checked: Boolean(all), on: { click: (e) => { e.stopPropagation(); this.o.onCheckAll(); } } });
    this.header.appendChild(h("div", { className: "nbt-cell nbt-checkcell" }, box));
    for (const column of this.columns) {
      const at = this.sort.findIndex((s) => s[0] === column.name);
      const arrow = at < 0 ? "" : (this.sort[at][1] === "desc" ? "▼" : "▲");
      const rank = at >= 0 && this.sort.length > 1 ? String(at + 1) : "";
      const handle = h("span", { className: "nbt-resize", title: "Drag to resize" });
      const cell = h("div", {
        className: `nbt-cell nbt-hcell${at >= 0 ? " nbt-sorted" : ""}`, role: "columnheader",
        title: `${column.label} — click to sort, shift-click to add a sort key`,
        dataset: { col: column.name },
        "aria-sort": at < 0 ? "none" : (this.sort[at][1] === "desc" ? "descending" : "ascending"),
        on: { click: (e) => { if (!e.target.classList.contains("nbt-resize")) this.o.onSort(column.name, e.shiftKey); } },
      }, h("span", { className: "nbt-hlabel", text: column.label }),
      h("span", { className: "nbt-sortmark", text: `${arrow}${rank}` }), handle);
      handle.addEventListener("pointerdown", (e) => this.drag(e, column));
      this.header.appendChild(cell);
    }
  }

  drag(event, column) {
    event.preventDefault();
    event.stopPropagation();
    const start = event.clientX;
    const initial = this.width(column);
    const target = event.target;
    target.setPointerCapture?.(event.pointerId);
    const move = (e) => {
      this.widths[column.name] = Math.max(MIN_WIDTH, initial + e.clientX - start);
      this.layout();
    };
    const up = () => {
      target.removeEventListener("pointermove", move);
      target.removeEventListener("pointerup", up);
      this.o.onWidths({ ...this.widths });
    };
    target.addEventListener("pointermove", move);
    target.addEventListener("pointerup", up);
  }

  renderRows() {
    const items = this.virtualizer.getVirtualItems();
    this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
    const keep = new Set();
    let missingFrom = -1;
    let missingTo = -1;
    for (const item of items) {
      keep.add(item.index);
      const row = this.o.getRow(item.index);
      if (row === undefined) {
        if (missingFrom < 0) missingFrom = item.index;
        missingTo = item.index + 1;
      }
      const have = this.rendered.get(item.index);
      const key = row === undefined ? -1 : this.version;
      if (have && have.version === key && have.start === item.start) continue;
      const el = this.renderRow(item.index, row);
      el.style.transform = `translateY(${item.start}px)`;
      if (have) have.el.replaceWith(el);
      else this.spacer.appendChild(el);
      this.rendered.set(item.index, { el, version: key, start: item.start });
    }
    for (const [index, { el }] of this.rendered) {
      if (!keep.has(index)) {
        el.remove();
        this.rendered.delete(index);
      }
    }
    if (items.length) this.o.onRange(items[0].index, items[items.length - 1].index + 1, missingFrom, missingTo);
  }

  renderRow(index, row) {
    if (row === undefined) {
      return h("div", { className: "nbt-row nbt-loadingrow", role: "row", dataset: { index } },
        h("div", { className: "nbt-cell", text: "…" }));
    }
    if (row._kind === "group") {
      const open = !row._collapsed;
      return h("div", { className: "nbt-row nbt-grouprow", role: "row", dataset: { index, group: row._group_key ?? row._group ?? "" } },
        h("div", { className: "nbt-cell nbt-groupcell" },
          h("span", { className: "nbt-caret", text: open ? "▾" : "▸" }),
          h("span", { className: "nbt-groupname", text: row._group || "(none)" }),
          h("span", { className: "nbt-groupcount", text: `${row._group_count} run${row._group_count === 1 ? "" : "s"}` })));
    }
    const selected = this.selected.has(row.run_id);
    const el = h("div", { className: `nbt-row nbt-datarow${selected ? " nbt-selected" : ""}`, role: "row",
      "aria-selected": selected ? "true" : "false", dataset: { index, runId: row.run_id ?? "" } },
    h("div", { className: "nbt-cell nbt-checkcell" },
      h("input", { type: "checkbox", className: "nbt-check", checked: selected, "aria-label": "select run" })),
    this.columns.map((c) => renderCell(c, row)));
    return el;
  }

  click(event) {
    const rowEl = event.target.closest?.(".nbt-row");
    if (!rowEl || rowEl.classList.contains("nbt-header")) return;
    const index = Number(rowEl.dataset.index);
    const row = this.o.getRow(index);
    if (!row) return;
    if (row._kind === "group") {
      this.o.onGroup(row._group_key ?? row._group);
      return;
    }
    if (event.target.classList.contains("nbt-check")) {
      event.preventDefault();
      this.o.onCheck(index, row, event);
    } else if (event.target.dataset?.action === "open") {
      this.o.onOpen(row);
    } else {
      this.o.onRowClick(index, row, event);
    }
  }
}
