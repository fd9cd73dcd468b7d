// The lineage graph: runs (boxes) and file versions (document shapes) placed left to right by the
// kernel (igraph's layered layout), edges for "produced" and "used by". Click a node to focus
// its upstream and downstream; hover for a file's paths, size, hash and time; a run opens its
// run page. Zoom with the buttons or Ctrl+wheel, pan by dragging or scrolling. Text only.
import { Channel } from "./channel.js";
import { clear, h } from "./dom.js";
import { absoluteTime, bytes, relativeTime } from "./format.js";
import { renderRunPage } from "./run_page.js";
import { statusBadge } from "./table.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_VIEW_HEIGHT = 560;
const MIN_VIEW_HEIGHT = 180; // room for the hover card over a one-row graph
const LABEL_CHARS = 23;
const MIN_START_ZOOM = 0.7; // the first view never shrinks labels below ~9px: scroll or the overview instead
const MINIMAP_W = 180;
let panels = 0;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function shorten(text, n = LABEL_CHARS) {
  const s = String(text ?? "");
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** An edge's route as a smooth path: horizontal tangents at every point. */
export function edgePath(points) {
  if (!points.length) return "";
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i - 1];
    const [x2, y2] = points[i];
    const dx = (x2 - x1) / 2;
    d += ` C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
  }
  return d;
}

/** Every node reachable from `start` along `next` (a Map id -> [ids]). */
function reach(start, next) {
  const seen = new Set();
  const todo = [start];
  while (todo.length) {
    const id = todo.pop();
    for (const other of next.get(id) || []) {
      if (!seen.has(other)) { seen.add(other); todo.push(other); }
    }
  }
  return seen;
}

function nodeShape(node, w, hgt) {
  if (node.kind === "run") {
    return [svg("rect", { class: "nbt-lin-shape", width: w, height: hgt, rx: 5, ry: 5 }),
      svg("rect", { class: `nbt-lin-stripe nbt-lin-status-${String(node.status || "").replace(/[^a-z]/g, "")}`, width: 5, height: hgt, rx: 2 })];
  }
  const fold = 12;
  return [svg("path", { class: "nbt-lin-shape", d: `M0,0 H${w - fold} L${w},${fold} V${hgt} H0 Z` }),
    svg("path", { class: "nbt-lin-fold", d: `M${w - fold},0 V${fold} H${w}` })];
}

function hoverLines(node) {
  if (node.kind === "run") {
    return [["run", node.name], ["experiment", node.experiment], ["status", node.status],
      ["started", node.started ? `${absoluteTime(node.started)} (${relativeTime(node.started)})` : ""], ["id", node.id]];
  }
  const paths = node.paths || [];
  return [...paths.map((p, i) => [i ? "" : paths.length > 1 ? "paths" : "path", p]), ["size", node.size === null || node.size === undefined ? "?" : bytes(node.size)],
    ["sha256", node.sha256], ["first seen", node.first_seen ? `${absoluteTime(node.first_seen)} (${relativeTime(node.first_seen)})` : ""]];
}

function kvTable(lines, className) {
  return h("table", { className }, lines.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: String(v) }))));
}

export function renderLineagePanel({ model, el }) {
  const channel = new Channel(model);
  const uid = `nbt-lin-${++panels}-${Math.random().toString(36).slice(2, 8)}`;
  const root = h("div", { className: "nbt-panel nbt-lineage" }, h("div", { className: "nbt-loading", text: "Laying out the lineage graph…" }));
  const runPage = h("div", { className: "nbt-details", hidden: true });
  el.append(root, runPage);
  let cleanup = () => {};

  const openRun = (runId) => {
    runPage.hidden = false;
    clear(runPage);
    const container = h("div");
    runPage.append(h("div", { className: "nbt-details-head" },
      h("button", { className: "nbt-button", text: "Close run page", on: { click: () => { runPage.hidden = true; clear(runPage); } } })), container);
    renderRunPage({ channel, runId, container });
    runPage.scrollIntoView({ block: "nearest" });
  };

  channel.request("graph").then(({ meta }) => {
    clear(root);
    cleanup = draw(meta);
  }, (err) => {
    clear(root);
    root.appendChild(h("div", { className: "nbt-error", role: "alert", text: err.message }));
  });

  function draw(graph) {
    const W = graph.node_w;
    const H = graph.node_h;
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    const forward = new Map();
    const backward = new Map();
    for (const e of graph.edges) {
      if (!forward.has(e.source)) forward.set(e.source, []);
      if (!backward.has(e.target)) backward.set(e.target, []);
      forward.get(e.source).push(e.target);
      backward.get(e.target).push(e.source);
    }

    // ---------------------------------------------------------------- header and toolbar
    const search = h("input", { type: "search", className: "nbt-search nbt-lin-search", placeholder: "Find a run or file", "aria-label": "find a node" });
    const zoomText = h("span", { className: "nbt-muted nbt-lin-zoomtext" });
    const focusText = h("span", { className: "nbt-lin-focustext", "aria-live": "polite" });
    const clearButton = h("button", { className: "nbt-button nbt-lin-clear", text: "Show all", disabled: true, on: { click: () => setFocus("") } });
    const button = (text, title, fn) => h("button", { className: "nbt-button nbt-lin-zoom", text, title, "aria-label": title, on: { click: fn } });
    const legend = h("span", { className: "nbt-lin-legend" },
      h("span", { className: "nbt-lin-key nbt-lin-key-run", text: "run" }), h("span", { className: "nbt-lin-key nbt-lin-key-file", text: "file version" }),
      h("span", { className: "nbt-lin-key nbt-lin-key-produced", text: "produced" }), h("span", { className: "nbt-lin-key nbt-lin-key-used", text: "used by" }));
    const head = h("div", { className: "nbt-lin-head" },
      h("span", { className: "nbt-runname", text: "Lineage of " }, h("code", { className: "nbt-lin-title", text: shorten(graph.title, 90), title: graph.title })),
      h("span", { className: "nbt-muted nbt-lin-summary", text: graph.summary }),
      legend);
    const toolbar = h("div", { className: "nbt-toolbar" }, search,
      button("−", "zoom out", () => zoomBy(1 / 1.25)), button("Fit", "fit the graph in view", () => fit()),
      button("100%", "actual size", () => setZoom(1)), button("+", "zoom in", () => zoomBy(1.25)), zoomText, clearButton, focusText);

    // ---------------------------------------------------------------- the drawing
    const marker = (name) => svg("marker", { id: `${uid}-${name}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z", class: `nbt-lin-arrow nbt-lin-arrow-${name}` }));
    const edgeLayer = svg("g", { class: "nbt-lin-edges" });
    const nodeLayer = svg("g", { class: "nbt-lin-nodes" });
    const drawing = svg("svg", { class: "nbt-lin-svg", viewBox: `0 0 ${graph.width} ${graph.height}`, role: "img", "aria-label": `lineage graph of ${graph.title}` },
      svg("defs", {}, marker("produced"), marker("used_by"), marker("on")), edgeLayer, nodeLayer);
    const edgeEls = graph.edges.map((e) => {
      const path = svg("path", { class: `nbt-lin-edge nbt-lin-${e.relation === "produced" ? "produced" : "used"}`, d: edgePath(e.points),
        "marker-end": `url(#${uid}-${e.relation === "produced" ? "produced" : "used_by"})`, "data-source": e.source, "data-target": e.target });
      edgeLayer.appendChild(path);
      return { e, path };
    });
    const nodeEls = new Map();
    for (const n of graph.nodes) {
      const g = svg("g", { class: `nbt-lin-node nbt-lin-${n.kind}${n.target ? " nbt-lin-target" : ""}`, transform: `translate(${n.x},${n.y})`,
        tabindex: 0, role: "button", "aria-label": `${n.kind} ${n.label}`, "data-id": n.id, "data-kind": n.kind },
      ...nodeShape(n, W, H),
      svg("text", { class: "nbt-lin-label", x: n.kind === "run" ? 13 : 9, y: 18 }, shorten(n.label)),
      svg("text", { class: "nbt-lin-sub", x: n.kind === "run" ? 13 : 9, y: 34 }, shorten(n.sub, 28)));
      g.addEventListener("click", (ev) => { ev.stopPropagation(); setFocus(focus === n.id ? "" : n.id); });
      g.addEventListener("dblclick", (ev) => { ev.stopPropagation(); if (n.kind === "run") openRun(n.id); });
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); setFocus(n.id); }
        if (ev.key === "Escape") setFocus("");
      });
      g.addEventListener("pointerenter", (ev) => showCard(n, ev));
      g.addEventListener("pointermove", (ev) => moveCard(ev));
      g.addEventListener("pointerleave", () => { card.hidden = true; });
      g.addEventListener("focus", () => showCard(n, null, g));
      g.addEventListener("blur", () => { card.hidden = true; });
      nodeLayer.appendChild(g);
      nodeEls.set(n.id, g);
    }
    const viewport = h("div", { className: "nbt-lin-viewport", tabindex: -1 }, drawing);
    const card = h("div", { className: "nbt-lin-card", role: "tooltip", hidden: true });
    const side = h("div", { className: "nbt-lin-side" }, h("div", { className: "nbt-muted", text: "Click a node to focus what it came from and what was made from it; double-click a run to open its page." }));
    const minimap = overview();
    const stage = h("div", { className: "nbt-lin-stage" }, viewport, card);
    root.append(head, toolbar, stage, h("div", { className: "nbt-lin-foot" }, side, minimap.el));

    // ---------------------------------------------------------------- overview (shown when the graph is bigger than the view)
    function overview() {
      const scale = Math.min(MINIMAP_W / graph.width, 140 / graph.height);
      const mw = Math.max(40, graph.width * scale);
      const mh = Math.max(20, graph.height * scale);
      const frame = svg("rect", { class: "nbt-lin-mini-view", x: 0, y: 0, width: 0, height: 0 });
      const map = svg("svg", { class: "nbt-lin-mini-svg", width: mw, height: mh, viewBox: `0 0 ${graph.width} ${graph.height}` },
        ...graph.nodes.map((n) => svg("rect", { class: `nbt-lin-mini-${n.kind}${n.target ? " nbt-lin-mini-target" : ""}`, x: n.x, y: n.y, width: W, height: H, "data-id": n.id })), frame);
      const box = h("div", { className: "nbt-lin-mini", title: "Overview: click or drag to move the view", "aria-hidden": "true" }, map);
      const jump = (ev) => {
        const r = map.getBoundingClientRect();
        const gx = ((ev.clientX - r.left) / r.width) * graph.width;
        const gy = ((ev.clientY - r.top) / r.height) * graph.height;
        viewport.scrollLeft = gx * zoom - viewport.clientWidth / 2;
        viewport.scrollTop = gy * zoom - viewport.clientHeight / 2;
      };
      let moving = false;
      box.addEventListener("pointerdown", (ev) => { moving = true; jump(ev); ev.preventDefault(); });
      box.addEventListener("pointermove", (ev) => { if (moving) jump(ev); });
      window.addEventListener("pointerup", () => { moving = false; });
      const update = () => {
        const big = graph.width * zoom > viewport.clientWidth + 2 || graph.height * zoom > viewport.clientHeight + 2;
        box.hidden = !big;
        frame.setAttribute("x", String(viewport.scrollLeft / zoom));
        frame.setAttribute("y", String(viewport.scrollTop / zoom));
        frame.setAttribute("width", String(viewport.clientWidth / zoom));
        frame.setAttribute("height", String(viewport.clientHeight / zoom));
      };
      viewport.addEventListener("scroll", update);
      return { el: box, update, map };
    }

    // ---------------------------------------------------------------- hover card
    function showCard(n, ev, anchor) {
      clear(card);
      card.append(h("div", { className: "nbt-lin-cardtitle", text: n.kind === "run" ? n.label : (n.paths || [n.label]).slice(-1)[0] }),
        kvTable(hoverLines(n), "nbt-kv nbt-lin-cardkv"));
      card.hidden = false;
      if (ev) moveCard(ev);
      else if (anchor) {
        const a = anchor.getBoundingClientRect();
        const s = stage.getBoundingClientRect();
        place(a.right - s.left + 6, a.top - s.top);
      }
    }
    function moveCard(ev) {
      const s = stage.getBoundingClientRect();
      place(ev.clientX - s.left + 14, ev.clientY - s.top + 14);
    }
    function place(x, y) {
      const s = stage.getBoundingClientRect();
      const w = card.offsetWidth || 280;
      const hh = card.offsetHeight || 120;
      card.style.left = `${Math.max(0, Math.min(x, s.width - w - 4))}px`;
      card.style.top = `${Math.max(0, Math.min(y, s.height - hh - 4))}px`;
    }

    // ---------------------------------------------------------------- focus
    let focus = "";
    function setFocus(id, center = false) {
      focus = byId.has(id) ? id : "";
      model.set("focus", focus);
      model.save_changes();
      const up = focus ? reach(focus, backward) : new Set();
      const down = focus ? reach(focus, forward) : new Set();
      const upSide = new Set([...up, focus]);
      const downSide = new Set([...down, focus]);
      for (const [nid, g] of nodeEls) {
        const on = !focus || nid === focus || up.has(nid) || down.has(nid);
        g.classList.toggle("nbt-lin-dim", !on);
        g.classList.toggle("nbt-lin-focus", nid === focus);
        g.classList.toggle("nbt-lin-up", up.has(nid));
        g.classList.toggle("nbt-lin-down", down.has(nid));
      }
      for (const { e, path } of edgeEls) {
        const on = !focus || (upSide.has(e.source) && upSide.has(e.target)) || (downSide.has(e.source) && downSide.has(e.target));
        path.classList.toggle("nbt-lin-dim", !on);
        path.classList.toggle("nbt-lin-on", Boolean(focus) && on);
      }
      for (const r of minimap.map.querySelectorAll("rect[data-id]")) {
        const nid = r.getAttribute("data-id");
        r.classList.toggle("nbt-lin-dim", Boolean(focus) && nid !== focus && !up.has(nid) && !down.has(nid));
      }
      clearButton.disabled = !focus;
      clear(side);
      if (!focus) {
        focusText.textContent = "";
        side.appendChild(h("div", { className: "nbt-muted", text: "Click a node to focus what it came from and what was made from it; double-click a run to open its page." }));
        return;
      }
      const n = byId.get(focus);
      const count = (set, kind) => [...set].filter((x) => byId.get(x)?.kind === kind).length;
      focusText.textContent = `${n.label}: ${count(up, "run")} run${count(up, "run") === 1 ? "" : "s"} upstream, ${count(down, "run")} downstream`;
      side.append(
        h("div", { className: "nbt-lin-sidehead" }, n.kind === "run" ? statusBadge(n.status) : h("span", { className: "nbt-tag", text: "file" }),
          h("span", { className: "nbt-lin-sidename", text: n.kind === "run" ? n.label : (n.paths || [n.label]).slice(-1)[0] })),
        kvTable(hoverLines(n), "nbt-kv"),
        h("div", { className: "nbt-muted", text: `upstream: ${plural(count(up, "run"), "run")}, ${plural(count(up, "file"), "file")} · downstream: ${plural(count(down, "run"), "run")}, ${plural(count(down, "file"), "file")}` }),
        n.kind === "run" ? h("button", { className: "nbt-button nbt-lin-open", text: "Open run page", on: { click: () => openRun(n.id) } }) : null);
      if (center) centerOn(n);
    }
    drawing.addEventListener("click", () => { if (!dragged) setFocus(""); });
    viewport.addEventListener("keydown", (ev) => { if (ev.key === "Escape") setFocus(""); });

    // ---------------------------------------------------------------- zoom and pan
    let zoom = 1;
    function setZoom(z, keep = null) {
      const before = keep ? { x: (viewport.scrollLeft + keep.x) / zoom, y: (viewport.scrollTop + keep.y) / zoom } : null;
      zoom = Math.max(0.1, Math.min(3, z));
      drawing.setAttribute("width", String(Math.ceil(graph.width * zoom)));
      drawing.setAttribute("height", String(Math.ceil(graph.height * zoom)));
      viewport.style.height = `${Math.max(MIN_VIEW_HEIGHT, Math.min(MAX_VIEW_HEIGHT, Math.ceil(graph.height * zoom) + 18))}px`;
      zoomText.textContent = `${Math.round(zoom * 100)}%`;
      if (before) { viewport.scrollLeft = before.x * zoom - keep.x; viewport.scrollTop = before.y * zoom - keep.y; }
      minimap.update();
    }
    const zoomBy = (f) => setZoom(zoom * f, { x: viewport.clientWidth / 2, y: viewport.clientHeight / 2 });
    function fitZoom() {
      const width = viewport.clientWidth || el.clientWidth || 900;
      return Math.min(1, (width - 4) / graph.width, (MAX_VIEW_HEIGHT - 18) / graph.height);
    }
    const fit = () => { setZoom(fitZoom()); viewport.scrollLeft = 0; viewport.scrollTop = 0; };
    function centerOn(n) {
      viewport.scrollLeft = (n.x + W / 2) * zoom - viewport.clientWidth / 2;
      viewport.scrollTop = (n.y + H / 2) * zoom - viewport.clientHeight / 2;
    }
    viewport.addEventListener("wheel", (ev) => {
      if (!ev.ctrlKey && !ev.metaKey) return; // plain wheel scrolls, as everywhere in a notebook
      ev.preventDefault();
      const r = viewport.getBoundingClientRect();
      setZoom(zoom * (ev.deltaY < 0 ? 1.15 : 1 / 1.15), { x: ev.clientX - r.left, y: ev.clientY - r.top });
    }, { passive: false });
    let drag = null;
    let dragged = false;
    viewport.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0 || ev.target.closest?.(".nbt-lin-node")) return;
      drag = { x: ev.clientX, y: ev.clientY, left: viewport.scrollLeft, top: viewport.scrollTop };
      dragged = false;
    });
    const onMove = (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { dragged = true; viewport.classList.add("nbt-lin-panning"); }
      viewport.scrollLeft = drag.left - dx;
      viewport.scrollTop = drag.top - dy;
    };
    const onUp = () => { drag = null; viewport.classList.remove("nbt-lin-panning"); setTimeout(() => { dragged = false; }, 0); };
    window.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);

    // ---------------------------------------------------------------- search
    const matches = (n, q) => [n.label, n.name, n.id, ...(n.paths || [])].some((t) => t && String(t).toLowerCase().includes(q));
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      for (const n of graph.nodes) nodeEls.get(n.id).classList.toggle("nbt-lin-match", Boolean(q) && matches(n, q));
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      const q = search.value.trim().toLowerCase();
      const hit = q && graph.nodes.find((n) => matches(n, q));
      if (hit) setFocus(hit.id, true);
    });

    // ---------------------------------------------------------------- first view
    requestAnimationFrame(() => {
      setZoom(Math.max(MIN_START_ZOOM, fitZoom()));
      const target = graph.nodes.find((n) => n.target);
      if (target && (graph.width * zoom > viewport.clientWidth || graph.height * zoom > viewport.clientHeight)) centerOn(target);
      minimap.update();
      const start = model.get("focus");
      if (start && byId.has(start)) setFocus(start, true);
      viewport.dataset.ready = "1";
    });
    setZoom(1);
    return () => { window.removeEventListener("pointermove", onMove); window.removeEventListener("pointerup", onUp); };
  }

  return () => { cleanup(); channel.close(); };
}
