// Verification of the signed monitor (the design's "Signed monitor" section; the TUF
// timestamp role of Herald): one Ed25519 signature that commits to the version V and the
// signed records hash H of every published collection at once, so a client can say
// "every collection I follow is what a monitor signed at most T ago names".
//
//   entries  = [{bucket, collection, last_modified: V, sha256: H}] from the served
//              changes, re-sorted here (bucket, then collection, code point order): the
//              served order is not trusted and must not matter;
//   head     = exactly {kind: "monitor", timestamp: M, expires: E, collections: N,
//              sha256: SHA-256(JCS(entries))};
//   message  = "herald-monitor-v1" 0x00 JCS(head)  (not the snapshot prefix: a
//              collection signature can never pass as a monitor signature).
//
// Checks and their codes, in the order of the collection verifier (verify.js):
// shape → parse; no ed25519 entry by a pinned key → unknown_key; M below the last
// verified M → rollback; expired → expired; anything else (hash, count, head, a
// duplicate or malformed entry, a V above M, the signature) → invalid.
import { canonicalize } from './jcs.js';
import { Codes, HeraldError } from './errors.js';
import { b64urlDecode, sha256Hex, cmpIds } from './verify.js';

const enc = new TextEncoder();
const PREFIX = enc.encode('herald-monitor-v1\0');
const isInt = (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER;
const HEX64 = /^[0-9a-f]{64}$/;

/** True when a monitor answer carries a signature to verify (the unfiltered monitor of a
 * server that signs it); filtered and _since answers never do. */
export function isSignedMonitor(mon) {
  return Array.isArray(mon?.metadata?.signatures) && mon.metadata.signatures.length > 0;
}

function parseHead(h) {
  const keys = ['collections', 'expires', 'kind', 'sha256', 'timestamp'];
  if (!h || typeof h !== 'object' || Array.isArray(h) || Object.keys(h).sort().join() !== keys.join()) return null;
  if (h.kind !== 'monitor' || !isInt(h.timestamp) || !isInt(h.expires) || !isInt(h.collections) ||
      h.collections < 0 || typeof h.sha256 !== 'string' || !HEX64.test(h.sha256)) return null;
  return h;
}

/**
 * Verifies a signed monitor changeset (a parsed body).
 * @param {object} mon
 * @param {{keys:{keyId:string,key:CryptoKey}[], minVersion?:number, nowMs?:number}} o
 *   minVersion: the last verified monitor version M (never go below it); nowMs: the
 *   time to check expiry against (0 or absent: not checked).
 * @returns {Promise<{timestamp:number, expires:number, entries:Map<string,{bucket:string,collection:string,last_modified:number,sha256:string}>}>}
 *   entries keyed by "bucket/collection".
 */
export async function verifyMonitor(mon, o) {
  const sigs = mon?.metadata?.signatures;
  if (!mon || typeof mon !== 'object' || !Array.isArray(sigs) || !isInt(mon.timestamp) || !Array.isArray(mon.changes))
    throw new HeraldError(Codes.PARSE, 'not a signed monitor (metadata.signatures, timestamp, changes)');
  let entry = null, pinned = null;
  for (const k of o.keys) {
    entry = sigs.find((e) => e && e.key_id === k.keyId);
    if (entry) { pinned = k; break; }
  }
  if (!entry || entry.mode !== 'ed25519') throw new HeraldError(Codes.KEY, 'monitor: no ed25519 signature by a pinned key');
  const head = parseHead(entry.head);
  if (!head) throw new HeraldError(Codes.INVALID, 'monitor: signed head malformed');
  const min = o.minVersion ?? 0;
  if (mon.timestamp < min || head.timestamp < min)
    throw new HeraldError(Codes.ROLLBACK, `monitor version ${head.timestamp} is older than the verified ${min}`);
  if (o.nowMs && head.expires <= o.nowMs)
    throw new HeraldError(Codes.EXPIRED, `monitor signature expired at ${head.expires} (now ${o.nowMs})`);

  const entries = mon.changes.map((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.bucket !== 'string' || typeof c.collection !== 'string' ||
        !isInt(c.last_modified) || typeof c.sha256 !== 'string' || !HEX64.test(c.sha256))
      throw new HeraldError(Codes.INVALID, `monitor entry ${i} malformed`);
    return { bucket: c.bucket, collection: c.collection, last_modified: c.last_modified, sha256: c.sha256 };
  });
  entries.sort((a, b) => cmpIds(a.bucket, b.bucket) || cmpIds(a.collection, b.collection));
  const byKey = new Map();
  for (const e of entries) {
    const k = `${e.bucket}/${e.collection}`;
    if (byKey.has(k)) throw new HeraldError(Codes.INVALID, `monitor names ${k} twice`);
    if (e.last_modified > head.timestamp) throw new HeraldError(Codes.INVALID, `monitor entry ${k} is newer than the monitor`);
    byKey.set(k, e);
  }
  let ej;
  try { ej = canonicalize(entries); } catch { throw new HeraldError(Codes.INVALID, 'monitor entries cannot be canonicalized'); }
  if (head.timestamp !== mon.timestamp) throw new HeraldError(Codes.INVALID, `monitor signed at ${head.timestamp}, served as ${mon.timestamp}`);
  if (head.collections !== entries.length) throw new HeraldError(Codes.INVALID, `monitor signed for ${head.collections} collections, got ${entries.length}`);
  if (head.sha256 !== (await sha256Hex(enc.encode(ej)))) throw new HeraldError(Codes.INVALID, 'monitor entries hash mismatch');
  const hb = enc.encode(canonicalize({ collections: head.collections, expires: head.expires, kind: head.kind, sha256: head.sha256, timestamp: head.timestamp }));
  const msg = new Uint8Array(PREFIX.length + hb.length);
  msg.set(PREFIX); msg.set(hb, PREFIX.length);
  const sig = b64urlDecode(entry.signature);
  if (!sig || sig.length !== 64 || !(await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, pinned.key, sig, msg)))
    throw new HeraldError(Codes.INVALID, 'monitor: bad signature');
  return { timestamp: head.timestamp, expires: head.expires, entries: byKey };
}

/**
 * The `sha256` of the signed head of a verified state, from the entry of the first pinned
 * key that signed it (what a monitor entry's H is compared with), or null.
 */
export function stateHeadSha256(state, keys) {
  for (const k of keys) {
    const e = state?.signatures?.find((s) => s && s.key_id === k.keyId);
    if (e) return typeof e.head?.sha256 === 'string' ? e.head.sha256 : null;
  }
  return null;
}

/**
 * Checks that a held, verified collection state is the one a verified monitor names:
 * the same version V and the same signed records hash H. Throws INVALID when the monitor
 * names another content at the same version, NOT_FOUND when it does not name the
 * collection; returns false when the versions differ (the state is older or newer than
 * what this monitor commits to: not verified against it, not an error by itself).
 */
export function matchesMonitor(monitor, state, keys) {
  const e = monitor.entries.get(`${state.bucket}/${state.collection}`);
  if (!e) throw new HeraldError(Codes.NOT_FOUND, 'collection not in the signed monitor');
  if (e.last_modified !== state.timestamp) return false;
  if (stateHeadSha256(state, keys) !== e.sha256)
    throw new HeraldError(Codes.INVALID, `the signed monitor names another content for version ${state.timestamp}`);
  return true;
}
