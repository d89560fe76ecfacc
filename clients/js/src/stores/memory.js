// The storage interface every store implements (all methods async):
//   get(key) → object | null        put(key, object)      delete(key)
//   getBlob(hash) → Uint8Array|null  putBlob(hash, bytes)  deleteBlob(hash)  listBlobs() → string[]
// Keys are "client" and "<bucket>/<collection>". Each put/putBlob is atomic: after a crash
// a key holds its old value or its new one. This one keeps everything in memory (tests,
// short-lived processes).
export class MemoryStore {
  constructor() { this.kv = new Map(); this.blobs = new Map(); }
  async get(key) { return this.kv.has(key) ? structuredClone(this.kv.get(key)) : null; }
  async put(key, value) { this.kv.set(key, structuredClone(value)); }
  async delete(key) { this.kv.delete(key); }
  async getBlob(hash) { return this.blobs.get(hash) ?? null; }
  async putBlob(hash, bytes) { this.blobs.set(hash, new Uint8Array(bytes)); }
  async deleteBlob(hash) { this.blobs.delete(hash); }
  async listBlobs() { return [...this.blobs.keys()]; }
}
