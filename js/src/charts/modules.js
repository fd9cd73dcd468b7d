// Heavy renderers that not every panel needs (vega and vega-lite, ~850 KB) are separate bundles
// in nbtrack/ui/static/. The first panel that needs one asks its kernel for it over the widget
// comm ({type: "module", name}); the module is imported from a blob URL and cached per page,
// keyed by its sha256 (baked in at build time), so every later chart reuses that import.
/* global __NBTRACK_CHARTS_SHA__ */
const SHAS = { charts: __NBTRACK_CHARTS_SHA__ };

/** Import bytes (an ArrayBuffer or a DataView from the comm) as an ES module. */
export function importBytes(view) {
  const bytes = view instanceof ArrayBuffer ? view : view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  const url = URL.createObjectURL(new Blob([bytes], { type: "text/javascript" }));
  return import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url));
}

export function moduleKey(name) {
  return `__nbtrack_module_${name}_${SHAS[name]}`;
}

/**
 * The bundled module `name` ("charts"), fetched from the kernel of `model` once per page.
 * @param {any} model an nbtrack widget's model
 * @param {string} name
 * @returns {Promise<any>}
 */
export function loadModule(model, name) {
  if (!(name in SHAS)) return Promise.reject(new Error(`nbtrack has no module ${JSON.stringify(name)}`));
  const key = moduleKey(name);
  if (globalThis[key]) return globalThis[key];
  const id = `module-${name}-${Math.random().toString(36).slice(2)}`;
  const promise = new Promise((resolve, reject) => {
    const onMessage = (msg, buffers) => {
      if (!msg || msg.type !== "module" || msg.id !== id) return;
      model.off("msg:custom", onMessage);
      if (!msg.ok || !buffers || !buffers.length) {
        reject(new Error(msg.error || `the kernel sent no ${name} module`));
        return;
      }
      importBytes(buffers[0]).then(resolve, reject);
    };
    model.on("msg:custom", onMessage);
    model.send({ type: "module", id, name, sha256: SHAS[name] });
  });
  globalThis[key] = promise;
  promise.catch(() => {
    if (globalThis[key] === promise) delete globalThis[key];
  });
  return promise;
}
