// Diffs as the kernel computed them (nbtrack/ui/compare_diff.py), drawn as text: cells aligned
// between two runs, each changed cell as numbered lines marked -, + or unchanged, the changed
// characters of a replaced line in <mark>. Sources reach the page only through textContent.
import { h } from "./dom.js";

/** `text` with the character ranges `spans` ([[start, end], ...]) wrapped in <mark>. */
export function marked(text, spans) {
  if (!spans || !spans.length) return [text];
  const out = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (start > at) out.push(text.slice(at, start));
    out.push(h("mark", { className: "nbt-diff-mark", text: text.slice(start, end) }));
    at = end;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

const OPS = { "=": "same", "-": "del", "+": "add", "…": "fold" };

/** Lines of a line diff as a table: old number, new number, marker, text. */
export function lineTable(lines) {
  const body = h("tbody");
  for (const line of lines) {
    const kind = OPS[line.op] || "same";
    if (kind === "fold") {
      body.appendChild(h("tr", { className: "nbt-diff-line nbt-diff-fold" },
        h("td", { className: "nbt-diff-fold-text", colSpan: 4, text: `⋯ ${line.n} unchanged line${line.n === 1 ? "" : "s"}` })));
      continue;
    }
    body.appendChild(h("tr", { className: `nbt-diff-line nbt-diff-${kind}` },
      h("td", { className: "nbt-diff-no", text: line.a ?? "" }),
      h("td", { className: "nbt-diff-no", text: line.b ?? "" }),
      h("td", { className: "nbt-diff-op", text: line.op === "=" ? " " : line.op }),
      h("td", { className: "nbt-diff-text" }, marked(String(line.text ?? ""), line.spans))));
  }
  return h("table", { className: "nbt-diff-lines" }, body);
}

function count(cell) {
  return cell && cell.count !== null && cell.count !== undefined ? `[${cell.count}]` : "[ ]";
}

const LABELS = { changed: "changed", added: "only in B", removed: "only in A", same: "identical" };

function cellBox(item) {
  const head = h("div", { className: "nbt-diff-head" },
    h("span", { className: "nbt-diff-counts", text: `${count(item.a)} → ${count(item.b)}` }),
    h("span", { className: `nbt-diff-kind nbt-diff-kind-${item.kind}`, text: LABELS[item.kind] || item.kind }),
    h("span", { className: "nbt-hash", text: ` ${String((item.b || item.a || {}).sha256 || "").slice(0, 12)}`,
      title: `A sha256 ${item.a?.sha256 || "—"}\nB sha256 ${item.b?.sha256 || "—"}` }));
  const lines = item.kind === "same"
    ? String(item.source ?? "").split("\n").map((text, i) => ({ op: "=", text, a: i + 1, b: i + 1 }))
    : item.lines || [];
  return h("div", { className: `nbt-diff-cell nbt-diff-cell-${item.kind}`, dataset: { kind: item.kind } }, head, lineTable(lines));
}

/** The aligned cells of two runs; runs of identical cells fold into one row that opens. */
export function cellsDiff(cells) {
  const box = h("div", { className: "nbt-diff-cells" });
  let i = 0;
  while (i < cells.length) {
    if (cells[i].kind !== "same") {
      box.appendChild(cellBox(cells[i]));
      i++;
      continue;
    }
    const start = i;
    while (i < cells.length && cells[i].kind === "same") i++;
    const group = cells.slice(start, i);
    const fold = h("details", { className: "nbt-diff-same" },
      h("summary", { text: `${group.length} identical cell${group.length === 1 ? "" : "s"} ${group.map((c) => count(c.b)).join(" ")}` }));
    fold.addEventListener("toggle", () => {
      if (fold.open && fold.childElementCount === 1) for (const c of group) fold.appendChild(cellBox(c));
    }, { once: false });
    box.appendChild(fold);
  }
  if (!cells.length) box.appendChild(h("div", { className: "nbt-muted", text: "Neither run recorded notebook cells." }));
  return box;
}
