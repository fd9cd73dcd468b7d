// Building the DOM without markup: every string reaches the page through textContent or an
// attribute value, never through innerHTML, so a run named `<img onerror=...>` stays text.

/**
 * h("div", {className: "x", title: "...", on: {click: fn}, dataset: {k: "v"}}, child, "text")
 * Children are nodes, strings (as text), arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else {
      if (/^on/i.test(key)) throw new Error(`h(): event handlers go in {on: ...}, not ${key}`);
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Tabs: [{id, label, render(container)}]; returns {el, select(id)}; `onSelect(id)` on a click. */
export function tabs(items, active, onSelect) {
  const bar = h("div", { className: "nbt-tabs", role: "tablist" });
  const body = h("div", { className: "nbt-tabbody" });
  const buttons = new Map();
  const select = (id) => {
    for (const [key, button] of buttons) {
      button.classList.toggle("nbt-active", key === id);
      button.setAttribute("aria-selected", key === id ? "true" : "false");
    }
    clear(body);
    const item = items.find((t) => t.id === id) || items[0];
    item.render(body);
  };
  for (const item of items) {
    const button = h("button", {
      className: "nbt-tab", role: "tab", text: item.label, dataset: { tab: item.id },
      on: { click: () => { select(item.id); if (onSelect) onSelect(item.id); } },
    });
    buttons.set(item.id, button);
    bar.appendChild(button);
  }
  const el = h("div", { className: "nbt-tabset" }, bar, body);
  select(active || items[0].id);
  return { el, select };
}
