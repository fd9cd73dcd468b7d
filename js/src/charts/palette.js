// Chart colours: one colour per run, the same in every chart of a panel, and the theme's own
// colours (JupyterLab's CSS variables, read from the panel's element) for axes, grid and text,
// so charts follow light and dark themes alike.

// Tableau 10: readable on white and on JupyterLab Dark
const BASE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** The colour of the i-th run: the base palette, then golden-angle hues. */
export function runColor(i) {
  if (i < BASE.length) return BASE[i];
  const hue = Math.round((i * 137.508) % 360);
  const light = 45 + ((i * 7) % 3) * 8;
  return `hsl(${hue}, 62%, ${light}%)`;
}

/** `color` (a runColor) at `alpha` (0..1), for the faint raw line under a smoothed one. */
export function faint(color, alpha) {
  if (color.startsWith("#")) {
    const n = parseInt(color.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  return color.replace(/^hsl\((.*)\)$/, `hsla($1, ${alpha})`);
}

/** The theme as chart colours, read from CSS custom properties on `el` (an .nbtrack-root). */
export function theme(el) {
  const style = getComputedStyle(el);
  const get = (name, fallback) => (style.getPropertyValue(name) || "").trim() || fallback;
  return {
    background: get("--nbt-bg", "#fff"),
    text: get("--nbt-fg1", "#333"),
    muted: get("--nbt-fg2", "#666"),
    grid: get("--nbt-border2", "#e0e0e0"),
    axis: get("--nbt-border", "#ccc"),
    accent: get("--nbt-accent", "#1976d2"),
    font: get("--nbt-font", "system-ui, sans-serif"),
    fontSize: parseFloat(get("--nbt-size", "13px")) || 13,
  };
}

/** A canvas colour from a CSS colour expression (var(), color-mix() ...), resolved by the page. */
export function resolveColor(el, css) {
  const probe = document.createElement("span");
  probe.style.color = css;
  probe.style.display = "none";
  el.appendChild(probe);
  const value = getComputedStyle(probe).color;
  probe.remove();
  return value || css;
}
