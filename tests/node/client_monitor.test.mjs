// The JavaScript client's signed-monitor verifier (clients/js/src/monitor.js) against
// monitors signed here, independently of the library: WebCrypto Ed25519 keys generated
// per run, canonical JSON from the npm package "canonicalize" (not the library's own
// jcs.js), the layout of the design's "Signed monitor" section. Each case changes one
// thing and must get the one error code that names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { importKeys, verifyMonitor, matchesMonitor, isSignedMonitor, HeraldError } from '../../clients/js/src/index.js';

const subtle = globalThis.crypto.subtle;
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const b64u = (buf) => Buffer.from(buf).toString('base64url');

async function newKey() {
  const kp = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const raw = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
  return { priv: kp.privateKey, pub: b64u(raw), keyId: sha256(raw).slice(0, 16) };
}

// A monitor as the signer would serve it: changes newest first (not the signed order).
async function signMonitor(key, entries, { M, E, prefix = 'herald-monitor-v1\0', mutateHead } = {}) {
  const sorted = [...entries].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0));
  const ej = canonicalize(sorted.map(({ bucket, collection, last_modified, sha256: h }) => ({ bucket, collection, last_modified, sha256: h })));
  let head = { kind: 'monitor', timestamp: M, expires: E, collections: sorted.length, sha256: sha256(ej) };
  if (mutateHead) head = mutateHead(head);
  const msg = Buffer.concat([Buffer.from(prefix, 'binary'), Buffer.from(canonicalize(head))]);
  const sig = b64u(await subtle.sign({ name: 'Ed25519' }, key.priv, msg));
  const entry = { mode: 'ed25519', key_id: key.keyId, signature: sig, head };
  const changes = [...entries].sort((a, b) => b.last_modified - a.last_modified)
    .map((e) => ({ id: `${e.bucket}-${e.collection}`, last_modified: e.last_modified, bucket: e.bucket, collection: e.collection, host: 'h', sha256: e.sha256 }));
  return { metadata: { bucket: 'monitor', signature: entry, signatures: [entry] }, timestamp: M, changes };
}

const NOW = Date.now();
const M = NOW - 1000;
const H = (s) => sha256(s);
const ENTRIES = [
  { bucket: 'security', collection: 'onecrl', last_modified: M - 5000, sha256: H('onecrl') },
  { bucket: 'main', collection: 'regions', last_modified: M - 9000, sha256: H('regions') },
  { bucket: 'main', collection: 'Zeta', last_modified: M, sha256: H('zeta') },
];
const key = await newKey();
const other = await newKey();
const keys = await importKeys([key.pub]);

async function code(p) {
  try { await p; return 'ok'; } catch (e) { assert.ok(e instanceof HeraldError, String(e)); return e.code; }
}
// A verified collection state as the client holds it: only what matchesMonitor reads.
const state = (bucket, collection, timestamp, h) => ({ bucket, collection, timestamp, signatures: [{ key_id: key.keyId, mode: 'ed25519', head: { sha256: h } }] });

test('valid: verified, entries re-sorted and keyed, head values returned', async () => {
  const mon = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3 });
  assert.ok(isSignedMonitor(mon));
  const v = await verifyMonitor(mon, { keys, nowMs: NOW, minVersion: M });
  assert.equal(v.timestamp, M);
  assert.equal(v.expires, NOW + 3600e3);
  assert.deepEqual([...v.entries.keys()], ['main/Zeta', 'main/regions', 'security/onecrl']);
  assert.equal(v.entries.get('security/onecrl').sha256, H('onecrl'));
  // Served in another order: the same signed bytes.
  mon.changes.reverse();
  assert.equal(await code(verifyMonitor(mon, { keys, nowMs: NOW })), 'ok');
  // The second pinned key is used when the first did not sign.
  assert.equal(await code(verifyMonitor(mon, { keys: await importKeys([other.pub, key.pub]), nowMs: NOW })), 'ok');
});

test('an empty monitor verifies (no collection published)', async () => {
  const mon = await signMonitor(key, [], { M, E: NOW + 1000 });
  assert.equal((await verifyMonitor(mon, { keys, nowMs: NOW })).entries.size, 0);
});

test('frozen: a monitor whose signature expired is refused (expired)', async () => {
  const mon = await signMonitor(key, ENTRIES, { M, E: NOW - 1 });
  assert.equal(await code(verifyMonitor(mon, { keys, nowMs: NOW })), 'expired');
  assert.equal(await code(verifyMonitor(mon, { keys, nowMs: M + 1 })), 'ok');
});

test('rolled back: a validly signed older monitor is refused (rollback)', async () => {
  const old = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3 });
  assert.equal(await code(verifyMonitor(old, { keys, nowMs: NOW, minVersion: M + 1 })), 'rollback');
  // Served timestamp moved up but the signed head is the old one: still rollback.
  old.timestamp = M + 10;
  assert.equal(await code(verifyMonitor(old, { keys, nowMs: NOW, minVersion: M + 1 })), 'rollback');
});

test('an entry removed, added, or changed is refused (invalid)', async () => {
  const mon = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3 });
  const removed = structuredClone(mon);
  removed.changes.splice(1, 1);
  assert.equal(await code(verifyMonitor(removed, { keys, nowMs: NOW })), 'invalid');
  const added = structuredClone(mon);
  added.changes.push({ bucket: 'main', collection: 'extra', last_modified: M - 1, sha256: H('x') });
  assert.equal(await code(verifyMonitor(added, { keys, nowMs: NOW })), 'invalid');
  const moved = structuredClone(mon);
  moved.changes[0].last_modified -= 1;
  assert.equal(await code(verifyMonitor(moved, { keys, nowMs: NOW })), 'invalid');
  const rehashed = structuredClone(mon);
  rehashed.changes[2].sha256 = H('other content');
  assert.equal(await code(verifyMonitor(rehashed, { keys, nowMs: NOW })), 'invalid');
  const dup = await signMonitor(key, [...ENTRIES, ENTRIES[0]], { M, E: NOW + 3600e3 });
  assert.equal(await code(verifyMonitor(dup, { keys, nowMs: NOW })), 'invalid');
  const noHash = structuredClone(mon);
  delete noHash.changes[0].sha256;
  assert.equal(await code(verifyMonitor(noHash, { keys, nowMs: NOW })), 'invalid');
});

test('a collection version the monitor does not commit to', async () => {
  const v = await verifyMonitor(await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3 }), { keys, nowMs: NOW });
  const at = ENTRIES[0].last_modified;
  assert.equal(matchesMonitor(v, state('security', 'onecrl', at, H('onecrl')), keys), true);
  // Another version: not verified against this monitor (freshness says so), no error.
  assert.equal(matchesMonitor(v, state('security', 'onecrl', at - 1, H('onecrl')), keys), false);
  assert.equal(matchesMonitor(v, state('security', 'onecrl', at + 1, H('onecrl')), keys), false);
  // The same version with other content: the monitor and the changeset disagree.
  assert.throws(() => matchesMonitor(v, state('security', 'onecrl', at, H('forged')), keys), (e) => e.code === 'invalid');
  // A collection the monitor does not name at all.
  assert.throws(() => matchesMonitor(v, state('security', 'absent', at, H('onecrl')), keys), (e) => e.code === 'not_found');
  // An entry newer than the monitor itself cannot be signed consistently.
  const ahead = await signMonitor(key, [{ ...ENTRIES[0], last_modified: M + 1 }], { M, E: NOW + 3600e3 });
  assert.equal(await code(verifyMonitor(ahead, { keys, nowMs: NOW })), 'invalid');
});

test('unpinned key: signed by a key the client does not pin (unknown_key)', async () => {
  const mon = await signMonitor(other, ENTRIES, { M, E: NOW + 3600e3 });
  assert.equal(await code(verifyMonitor(mon, { keys, nowMs: NOW })), 'unknown_key');
  // Claiming a pinned key_id does not help: the signature is checked with the pinned key.
  mon.metadata.signatures[0].key_id = key.keyId;
  assert.equal(await code(verifyMonitor(mon, { keys, nowMs: NOW })), 'invalid');
});

test('the signature covers the head and the monitor prefix', async () => {
  const mon = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3 });
  const later = structuredClone(mon);
  later.metadata.signatures[0].head.expires += 1;
  assert.equal(await code(verifyMonitor(later, { keys, nowMs: NOW })), 'invalid');
  // A signature over the same head with the collection snapshots' prefix never passes.
  const snap = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3, prefix: 'herald-snapshot-v1\0' });
  assert.equal(await code(verifyMonitor(snap, { keys, nowMs: NOW })), 'invalid');
  const extra = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3, mutateHead: (h) => ({ ...h, note: 1 }) });
  assert.equal(await code(verifyMonitor(extra, { keys, nowMs: NOW })), 'invalid');
  const kind = await signMonitor(key, ENTRIES, { M, E: NOW + 3600e3, mutateHead: (h) => ({ ...h, kind: 'snapshot' }) });
  assert.equal(await code(verifyMonitor(kind, { keys, nowMs: NOW })), 'invalid');
  assert.equal(await code(verifyMonitor({ changes: [], timestamp: 1, metadata: {} }, { keys, nowMs: NOW })), 'parse');
  assert.equal(isSignedMonitor({ changes: [], timestamp: 1, metadata: { bucket: 'monitor' } }), false);
});
