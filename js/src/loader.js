// The ES module every nbtrack widget carries as its _esm: a few hundred bytes, so a saved notebook
// stays small however many panels it shows. The panels themselves (runtime.js, with their CSS and
// libraries) reach a page once: the first view asks its kernel for them over the widget comm,
// and every later view, of any nbtrack panel in any notebook of the page, reuses that import.
/* global __NBTRACK_RUNTIME_SHA__ */
const KEY = `__nbtrack_runtime_${__NBTRACK_RUNTIME_SHA__}`;

/** The runtime module, imported once per page; `model` is any nbtrack widget's model. */
function runtime(model) {
  const cached = globalThis[KEY];
  if (cached) return cached;
  const id = `runtime-${Math.random().toString(36).slice(2)}`;
  const promise = new Promise((resolve, reject) => {
    const onMessage = (msg, buffers) => {
      if (!msg || msg.type !== "runtime" || (msg.id !== id && msg.id !== "push")) return;
      model.off("msg:custom", onMessage);
      if (!msg.ok || !buffers || !buffers.length) {
        reject(new Error(msg.error || "the kernel sent no panel code"));
        return;
      }
      const view = buffers[0];
      const bytes = view instanceof ArrayBuffer ? view : view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
      const url = URL.createObjectURL(new Blob([bytes], { type: "text/javascript" }));
      import(/* webpackIgnore: true */ url).then(resolve, reject).finally(() => URL.revokeObjectURL(url));
    };
    model.on("msg:custom", onMessage);
    model.send({ type: "runtime", id, sha256: __NBTRACK_RUNTIME_SHA__ });
  });
  globalThis[KEY] = promise;
  promise.catch(() => {
    if (globalThis[KEY] === promise) delete globalThis[KEY];
  });
  return promise;
}

export default {
  render({ model, el }) {
    el.classList.add("nbtrack-root");
    const wait = document.createElement("div");
    wait.className = "nbtrack-loading";
    wait.textContent = "Loading nbtrack panel…";
    el.appendChild(wait);
    const slow = setTimeout(() => {
      wait.textContent = "Waiting for the kernel to send the nbtrack panel (it is busy or not running; re-run the cell if it restarted)…";
    }, 8000);
    let cleanup = null;
    let gone = false;
    runtime(model).then(
      (rt) => {
        clearTimeout(slow);
        if (gone) return;
        wait.remove();
        cleanup = rt.render({ model, el });
      },
      (err) => {
        clearTimeout(slow);
        wait.textContent = `nbtrack panel could not load: ${err && err.message ? err.message : err}`;
      },
    );
    return () => {
      gone = true;
      clearTimeout(slow);
      if (typeof cleanup === "function") cleanup();
    };
  },
};
