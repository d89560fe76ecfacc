// A directory store for Node, with the C library's layout, so both can share a state
// directory: "<dir>/client.json", "<dir>/<bucket>/<collection>.json",
// "<dir>/attachments/<sha256>". Every write goes to a temporary file in the same
// directory, is fsync'ed, renamed over the target (atomic), and the directory is fsync'ed
// so the rename is durable: a crash at any point leaves the old or the new file.
import fs from 'node:fs/promises';
import path from 'node:path';
import { canonicalize } from '../jcs.js';

async function syncDir(dir) {
  const fh = await fs.open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

async function atomicWrite(file, data) {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, '.' + path.basename(file) + '.tmp');
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  await syncDir(dir);
}

export class NodeDirStore {
  /** @param {string} dir */
  constructor(dir) { this.dir = dir; this.att = path.join(dir, 'attachments'); }
  file(key) { return path.join(this.dir, key + '.json'); }
  async get(key) {
    try { return JSON.parse(await fs.readFile(this.file(key), 'utf8')); } catch { return null; }
  }
  async put(key, value) { await atomicWrite(this.file(key), canonicalize(value)); }
  async delete(key) { await fs.rm(this.file(key), { force: true }); }
  async getBlob(hash) {
    try { return new Uint8Array(await fs.readFile(path.join(this.att, hash))); } catch { return null; }
  }
  async putBlob(hash, bytes) { await atomicWrite(path.join(this.att, hash), bytes); }
  async deleteBlob(hash) { await fs.rm(path.join(this.att, hash), { force: true }); }
  async listBlobs() {
    try { return await fs.readdir(this.att); } catch { return []; }
  }
}
