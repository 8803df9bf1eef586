// Reports waiting on the device (IndexedDB) until the API has answered: written before the first attempt, removed
// once the report exists. Each keeps its Idempotency-Key, so a retry after a lost answer creates nothing new.
import { api, ApiError, NetworkError } from "./api.js";

const DB_NAME = "proxima";
const STORE = "outbox";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** A random UUID (v4): `crypto.randomUUID` exists only in secure contexts (HTTPS, localhost), a phone testing a
 * development server over plain HTTP has only `getRandomValues`. */
export function newKey() {
  if (crypto.randomUUID) { return crypto.randomUUID(); }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const outbox = {
  /** A new entry: the report's JSON body, its photos (Blobs) and a fresh Idempotency-Key. */
  async add(body, photos) {
    const entry = { key: newKey(), body, photos, createdAt: new Date().toISOString(), error: null };
    await run("readwrite", (store) => store.put(entry));
    return entry;
  },
  all: () => run("readonly", (store) => store.getAll()),
  remove: (key) => run("readwrite", (store) => store.delete(key)),
  markRefused: (entry, message) => run("readwrite", (store) => store.put({ ...entry, error: message })),
};

/** Send one entry. Resolves to the API's answer, or to null when the network is still missing (kept). A refusal
 * (422...) is kept with its message so the resident sees why; it is never retried as is. */
export async function deliver(entry) {
  try {
    const created = await api.sendReport(entry.body, entry.photos, entry.key);
    await outbox.remove(entry.key);
    return created;
  } catch (exc) {
    if (exc instanceof NetworkError) { return null; }
    if (exc instanceof ApiError) { await outbox.markRefused(entry, exc.message); }
    throw exc;
  }
}

// What each entry became once sent (its Idempotency-Key → the API's answer), for whoever waits on it.
export const delivered = new Map();
let queue = Promise.resolve();

/** Send every waiting entry, one at a time, after any pass already running (never two sends of one entry at
 * once). Resolves to the reports created by this pass. */
export function flush() {
  const pass = queue.then(async () => {
    const created = [];
    for (const entry of await outbox.all()) {
      if (entry.error) { continue; }
      try {
        const report = await deliver(entry);
        if (report === null) { break; }  // still offline: try again when the network returns
        delivered.set(entry.key, report);
        created.push(report);
      } catch (exc) {
        if (!(exc instanceof ApiError)) { throw exc; }
      }
    }
    return created;
  });
  queue = pass.catch(() => []);
  return pass;
}
