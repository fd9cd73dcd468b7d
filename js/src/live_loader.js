// The _esm of a live training panel displayed while a cell is still running. A normal panel asks
// its kernel for runtime.js over the comm, but a busy kernel answers comm messages only when the
// cell ends, so a live panel shown mid-cell would wait for the whole training. This loader carries
// the runtime itself: nbtrack/ui/bundle.py prepends `const __NBTRACK_RUNTIME_CODE__ = "..."` (the
// same runtime.js, same sha256), so the panel draws at once and the kernel's pushes reach it.
// Once the kernel is free again the widget switches back to the 1.4 KB loader (saved notebooks
// stay small); the runtime this one imported is then reused from the page cache.
/* global __NBTRACK_RUNTIME_SHA__, __NBTRACK_RUNTIME_CODE__ */
const KEY = `__nbtrack_runtime_${__NBTRACK_RUNTIME_SHA__}`;

function inline() {
  const url = URL.createObjectURL(new Blob([__NBTRACK_RUNTIME_CODE__], { type: "text/javascript" }));
  return import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url));
}

async function runtime() {
  const cached = globalThis[KEY];
  if (cached) { // already imported on this page: use it
    const NOT_YET = {};
    const first = await Promise.race([cached, Promise.resolve(NOT_YET)]).catch(() => NOT_YET);
    if (first !== NOT_YET) return first;
  }
  const mine = inline();
  if (!cached) globalThis[KEY] = mine;
  // a runtime already asked for over a busy kernel's comm may be pending: take whichever is first
  return cached ? Promise.race([cached, mine]) : mine;
}

export default {
  render({ model, el }) {
    el.classList.add("nbtrack-root");
    let cleanup = null;
    let gone = false;
    runtime().then(
      (rt) => { if (!gone) cleanup = rt.render({ model, el }); },
      (err) => { el.textContent = `nbtrack panel could not load: ${err && err.message ? err.message : err}`; },
    );
    return () => {
      gone = true;
      if (typeof cleanup === "function") cleanup();
    };
  },
};
