// Markdown notes as HTML: marked parses with raw HTML escaped (a note's `<script>` is shown as
// text), and DOMPurify sanitises the result as a second line; links open in a new tab.
import DOMPurify from "dompurify";
import { Marked } from "marked";

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html(token) { return escapeHtml(token.text ?? token.raw ?? ""); },
  },
});

let hooked = false;

/** An element holding `text` rendered as sanitised markdown. */
export function markdown(text) {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  const el = document.createElement("div");
  el.className = "nbt-markdown";
  const html = marked.parse(String(text ?? ""), { async: false });
  // the one place markup is set: marked's output with raw HTML escaped, then sanitised
  el.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input", "img", "iframe", "video", "audio", "source"],
    ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i });
  return el;
}
