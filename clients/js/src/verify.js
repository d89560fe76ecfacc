// Verification of a changeset, exactly as docs/signature-format.md says and as the C
// library (client/client.c, lib/verify.c) does it, with the same error codes in the same
// order: shape → "parse"; no ed25519 entry by a pinned key → "unknown_key"; older than
// the last verified version → "rollback"; expired → "expired"; anything else that does
// not verify (merge, count, hash, bucket, collection, version, signature) → "invalid".
// Crypto is WebCrypto (globalThis.crypto.subtle: Ed25519 and SHA-256), in browsers and
// in Node ≥ 18.4 alike.
import { canonicalize } from './jcs.js';
import { Codes, HeraldError } from './errors.js';

const subtle = () => {
  if (!globalThis.crypto?.subtle) throw new HeraldError(Codes.USAGE, 'WebCrypto is not available');
  return globalThis.crypto.subtle;
};
const enc = new TextEncoder();
const PREFIX = enc.encode('herald-snapshot-v1\0');
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Strict base64url without padding (canonical trailing bits). */
export function b64urlDecode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0, acc = 0, j = 0;
  for (const ch of s) {
    acc = (acc << 6) | alpha.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

export const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
export async function sha256Hex(bytes) {
  return hex(await subtle().digest('SHA-256', bytes));
}

/**
 * Parses pinned public keys (43 base64url characters each).
 * @param {string[]} keys @returns {Promise<{keyId:string, key:CryptoKey}[]>}
 */
export async function importKeys(keys) {
  if (!Array.isArray(keys) || keys.length === 0) throw new HeraldError(Codes.USAGE, 'no public key pinned');
  return Promise.all(keys.map(async (k, i) => {
    const raw = b64urlDecode(k);
    if (!raw || k.length !== 43 || raw.length !== 32) throw new HeraldError(Codes.USAGE, `public key ${i + 1} is not 43 base64url characters`);
    const keyId = (await sha256Hex(raw)).slice(0, 16);
    const key = await subtle().importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
    return { keyId, key };
  }));
}

const isInt = (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_SAFE;

// Code point order, which is UTF-8 byte order (what the signer sorts ids by).
export function cmpIds(a, b) {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

function parseHead(h) {
  const keys = ['bucket', 'collection', 'expires', 'records', 'sha256', 'timestamp'];
  if (!h || typeof h !== 'object' || Array.isArray(h) || Object.keys(h).sort().join() !== keys.join()) return null;
  if (typeof h.bucket !== 'string' || typeof h.collection !== 'string' || !isInt(h.timestamp) ||
      !isInt(h.expires) || !isInt(h.records) || h.records < 0 || typeof h.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(h.sha256)) return null;
  return h;
}

/**
 * Verifies 'changeset' (a parsed body) merged into 'prev' (a verified state, or null for a
 * full changeset), for bucket/collection, never older than minVersion. Resolves to the new
 * state {bucket, collection, timestamp, expires, records, signatures}; rejects with a
 * HeraldError whose code says why.
 * @param {object} changeset
 * @param {{bucket:string, collection:string, keys:{keyId:string,key:CryptoKey}[], prev?:object|null, minVersion?:number, nowMs?:number}} o
 */
export async function verifyChangeset(changeset, o) {
  const sigs = changeset?.metadata?.signatures;
  if (!changeset || typeof changeset !== 'object' || !Array.isArray(sigs) || !isInt(changeset.timestamp) ||
      !Array.isArray(changeset.changes)) throw new HeraldError(Codes.PARSE, 'not a changeset (metadata.signatures, timestamp, changes)');
  const ts = changeset.timestamp;
  let entry = null, pinned = null;
  for (const k of o.keys) {
    entry = sigs.find((e) => e && e.key_id === k.keyId);
    if (entry) { pinned = k; break; }
  }
  if (!entry || entry.mode !== 'ed25519') throw new HeraldError(Codes.KEY, 'no ed25519 signature by a pinned key');
  const head = parseHead(entry.head);
  if (!head) throw new HeraldError(Codes.INVALID, 'signed head: malformed');
  let min = o.minVersion ?? 0;
  if (o.prev) {
    if (!isInt(o.prev.timestamp)) throw new HeraldError(Codes.USAGE, 'previous state has no timestamp');
    min = Math.max(min, o.prev.timestamp);
  }
  if (ts < min || head.timestamp < min) throw new HeraldError(Codes.ROLLBACK, `version ${ts} is older than the verified ${min}`);
  if (o.nowMs && head.expires <= o.nowMs) throw new HeraldError(Codes.EXPIRED, `signature expired at ${head.expires} (now ${o.nowMs})`);

  const byId = new Map();
  if (o.prev) {
    if (o.prev.bucket !== o.bucket || o.prev.collection !== o.collection || !Array.isArray(o.prev.records))
      throw new HeraldError(Codes.INVALID, 'saved state is for another collection');
    for (const r of o.prev.records) byId.set(r.id, r);
  }
  const seen = new Set();
  changeset.changes.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r) || typeof r.id !== 'string' || r.id === '')
      throw new HeraldError(Codes.INVALID, `change ${i} has no id`);
    if (seen.has(r.id)) throw new HeraldError(Codes.INVALID, `changeset names id '${r.id}' twice`);
    seen.add(r.id);
    if (r.deleted === true) byId.delete(r.id);
    else byId.set(r.id, r);
  });
  const records = [...byId.values()].sort((a, b) => cmpIds(a.id, b.id));
  let rj;
  try { rj = canonicalize(records); } catch (e) { throw new HeraldError(Codes.INVALID, 'records cannot be canonicalized'); }
  const sha = await sha256Hex(enc.encode(rj));
  if (head.bucket !== o.bucket || head.collection !== o.collection) throw new HeraldError(Codes.INVALID, `signed for ${head.bucket}/${head.collection}`);
  if (head.timestamp !== ts) throw new HeraldError(Codes.INVALID, `signed timestamp ${head.timestamp} is not the served ${ts}`);
  if (head.records !== records.length) throw new HeraldError(Codes.INVALID, `signed for ${head.records} records, got ${records.length}`);
  if (head.sha256 !== sha) throw new HeraldError(Codes.INVALID, 'records hash mismatch');
  const sig = b64urlDecode(entry.signature);
  const hb = enc.encode(canonicalize({ bucket: head.bucket, collection: head.collection, expires: head.expires, records: head.records, sha256: head.sha256, timestamp: head.timestamp }));
  const msg = new Uint8Array(PREFIX.length + hb.length);
  msg.set(PREFIX); msg.set(hb, PREFIX.length);
  if (!sig || sig.length !== 64 || !(await subtle().verify({ name: 'Ed25519' }, pinned.key, sig, msg)))
    throw new HeraldError(Codes.INVALID, 'bad signature');
  return { bucket: o.bucket, collection: o.collection, timestamp: ts, expires: head.expires, records, signatures: sigs };
}
