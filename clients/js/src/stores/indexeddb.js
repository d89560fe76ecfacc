// An IndexedDB store for browsers: database "<name>" with two object stores, "kv"
// (client state and one verified state per collection) and "blobs" (attachments by
// hash). Every put is one readwrite transaction, which IndexedDB commits atomically and
// durably ("strict" durability where the browser supports the hint), so a tab closed or a
// browser killed mid-sync leaves the old state or the new one.
function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

export class IndexedDBStore {
  /** @param {string} [name] @param {IDBFactory} [idb] */
  constructor(name = 'herald-client', idb = globalThis.indexedDB) {
    this.name = name;
    this.idb = idb;
    this.db = null;
  }
  async open() {
    if (this.db) return this.db;
    const r = this.idb.open(this.name, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('kv');
      r.result.createObjectStore('blobs');
    };
    this.db = await req(r);
    return this.db;
  }
  async tx(store, mode, fn) {
    const db = await this.open();
    const t = db.transaction(store, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
    // Listen before issuing requests: the transaction may complete before fn's promise.
    const done = new Promise((resolve, reject) => { t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error); });
    const [result] = await Promise.all([fn(t.objectStore(store)), done]);
    return result;
  }
  async get(key) { return (await this.tx('kv', 'readonly', (s) => req(s.get(key)))) ?? null; }
  async put(key, value) { await this.tx('kv', 'readwrite', (s) => { s.put(value, key); }); }
  async delete(key) { await this.tx('kv', 'readwrite', (s) => { s.delete(key); }); }
  async getBlob(hash) { return (await this.tx('blobs', 'readonly', (s) => req(s.get(hash)))) ?? null; }
  async putBlob(hash, bytes) { await this.tx('blobs', 'readwrite', (s) => { s.put(new Uint8Array(bytes), hash); }); }
  async deleteBlob(hash) { await this.tx('blobs', 'readwrite', (s) => { s.delete(hash); }); }
  async listBlobs() { return (await this.tx('blobs', 'readonly', (s) => req(s.getAllKeys()))).map(String); }
}
