// The data channel between a panel and its kernel. The browser asks for what it shows
// (`request(op, args)` -> model.send({type: "request", id, op, ...args})); the kernel answers
// {type: "response", id, ok, ...} with the rows as Arrow IPC bytes in the message's buffer,
// decoded here with flechette. The kernel also pushes unasked updates ({type: "push", topic})
// when the store changes, so a table stays live while a cell is busy training.
import { tableFromIPC } from "@uwdata/flechette";

/** @typedef {{ message: string, position?: number|null, field?: string, kind?: string }} PanelError */

let counter = 0;

/** Arrow IPC bytes (a DataView or ArrayBuffer from the comm) as an array of row objects. */
export function decodeRows(buffer) {
  if (!buffer) return [];
  const bytes = buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (!bytes.byteLength) return [];
  const table = tableFromIPC(bytes, { useBigInt: false, useDate: false });
  return table.toArray();
}

export class Channel {
  /** @param {any} model an anywidget model */
  constructor(model) {
    this.model = model;
    this.pending = new Map();
    this.listeners = new Map();
    this.onMessage = (msg, buffers) => this.receive(msg, buffers || []);
    model.on("msg:custom", this.onMessage);
  }

  close() {
    this.model.off("msg:custom", this.onMessage);
    for (const { reject } of this.pending.values()) reject(new Error("panel closed"));
    this.pending.clear();
    this.listeners.clear();
  }

  /**
   * Ask the kernel; resolves to {meta, rows, buffers}. Rejects with the kernel's error
   * (message, and for a bad filter the position of the offending token).
   */
  request(op, args = {}) {
    const id = `${op}-${++counter}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.model.send({ type: "request", id, op, ...args });
    });
  }

  /** Call `fn(meta, rows, buffers)` for every push of `topic`; returns an unsubscribe function. */
  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => this.listeners.get(topic)?.delete(fn);
  }

  receive(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "response") {
      const waiting = this.pending.get(msg.id);
      if (!waiting) return;
      this.pending.delete(msg.id);
      if (msg.ok) {
        waiting.resolve({ meta: msg, rows: msg.arrow ? decodeRows(buffers[0]) : null, buffers });
      } else {
        const err = new Error(msg.error?.message || "the kernel could not answer");
        err.detail = msg.error || {};
        waiting.reject(err);
      }
    } else if (msg.type === "push") {
      const rows = msg.arrow ? decodeRows(buffers[0]) : null;
      for (const fn of this.listeners.get(msg.topic) || []) fn(msg, rows, buffers);
    }
  }
}
