// Regenerates changesets.json, the shared test vectors both client libraries verify
// (tests/unit/test_client_vectors.c, tests/node/client_vectors.test.mjs). Deterministic:
// fixed seeds (Ed25519 is deterministic) and fixed times. Run: node generate.mjs
// Signing uses Node's crypto; canonical JSON the JS client's; the C test then checks the
// same bytes with its own JCS and libsodium, so the two implementations cross-check.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { canonicalize } from '../../clients/js/src/jcs.js';

const here = new URL('.', import.meta.url).pathname;
function key(seedByte) {
  const seed = Buffer.alloc(32, seedByte);
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12);
  return { priv, pub: pub.toString('base64url'), keyId: crypto.createHash('sha256').update(pub).digest('hex').slice(0, 16) };
}
const K1 = key(1), K2 = key(2), K3 = key(3);
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
function head(bucket, collection, ts, records, expires = ts + 48 * 3600e3) {
  const rj = canonicalize([...records].sort(byId));
  return { bucket, collection, timestamp: ts, expires, records: records.length, sha256: crypto.createHash('sha256').update(rj).digest('hex') };
}
function entry(k, h) {
  const msg = Buffer.concat([Buffer.from('herald-snapshot-v1'), Buffer.from([0]), Buffer.from(canonicalize(h))]);
  return { mode: 'ed25519', key_id: k.keyId, signature: crypto.sign(null, msg, k.priv).toString('base64url'), head: h };
}
function changeset(h, changes, keys = [K1]) {
  const sigs = keys.map((k) => entry(k, h));
  return { metadata: { bucket: h.bucket, id: h.collection, signature: sigs[0], signatures: sigs }, timestamp: h.timestamp, changes: [...changes].sort((a, b) => b.last_modified - a.last_modified) };
}
const state = (h, records, cs) => ({ bucket: h.bucket, collection: h.collection, timestamp: h.timestamp, expires: h.expires, records: [...records].sort(byId), signatures: cs.metadata.signatures });
const clone = (v) => JSON.parse(JSON.stringify(v));

const T0 = 1700000000000, NOW = T0 + 3600e3;
const R1 = [
  { id: 'a', last_modified: T0 - 3, name: 'alpha', n: [0.1, 1e-7, 1e21, -0, 5e-324, 100] },
  { id: 'b', last_modified: T0 - 2, name: 'Zoë ✓ 😀', ctl: '\u0001\b\f\n\r\t"\\/', keys: { '€': 1, '😀': 2, '｡': 3, B: 4, a: 5, '': 6 } },
  { id: 'c-1', last_modified: T0, nested: { z: [{ b: true, a: null }], big: 9007199254740991 } },
];
const H1 = head('main', 'certs', T0, R1);
const CS1 = changeset(H1, R1, [K1, K2]);
const S1 = state(H1, R1, CS1);
// v2: b edited, a deleted, d added.
const T2 = T0 + 60000;
const b2 = { ...R1[1], last_modified: T2 - 2, name: 'beta 2' };
const d2 = { id: 'd', last_modified: T2, name: 'delta' };
const R2 = [b2, R1[2], d2];
const H2 = head('main', 'certs', T2, R2);
const DELTA2 = changeset(H2, [b2, d2, { id: 'a', last_modified: T2 - 1, deleted: true }], [K1, K2]);
const FULL2 = changeset(H2, R2, [K1, K2]);
const S2 = state(H2, R2, FULL2);
// v3: a re-sign of v2's records (no change), as the signer does for freshness.
const H3 = head('main', 'certs', T2 + 1000, R2);
const RESIGN3 = changeset(H3, [], [K1]);

const cases = [];
const add = (name, o) => cases.push({ name, bucket: 'main', collection: 'certs', now_ms: NOW, public_keys: [K1.pub], prev: null, ...o });

add('full changeset, two signing keys, first pinned', { changeset: CS1, expect: 'ok', expect_version: T0, expect_ids: ['a', 'b', 'c-1'] });
add('full changeset, only the second key pinned', { public_keys: [K2.pub], changeset: CS1, expect: 'ok', expect_version: T0, expect_ids: ['a', 'b', 'c-1'] });
add('pinned keys in order: an unknown one first', { public_keys: [K3.pub, K2.pub], changeset: CS1, expect: 'ok', expect_version: T0, expect_ids: ['a', 'b', 'c-1'] });
add('delta: edit, tombstone, addition', { prev: S1, changeset: DELTA2, expect: 'ok', expect_version: T2, expect_ids: ['b', 'c-1', 'd'] });
add('full changeset of v2 over a v1 state', { changeset: FULL2, expect: 'ok', expect_version: T2, expect_ids: ['b', 'c-1', 'd'] });
add('empty delta of a re-signed version', { prev: S2, changeset: RESIGN3, expect: 'ok', expect_version: T2 + 1000, expect_ids: ['b', 'c-1', 'd'] });
add('delta in any order', { prev: S1, changeset: { ...DELTA2, changes: [...DELTA2.changes].reverse() }, expect: 'ok', expect_version: T2, expect_ids: ['b', 'c-1', 'd'] });
{ const t = clone(CS1); t.changes[0].name = 'tampered'; add('tampered record value', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.changes[1].extra = 1; add('field added to a record', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.changes.pop(); add('record dropped', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.changes.push({ id: 'zz', last_modified: T0 - 5 }); add('record injected', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.changes.push(clone(t.changes[0])); add('an id twice', { changeset: t, expect: 'invalid' }); }
{ const t = clone(DELTA2); t.changes = t.changes.filter((r) => !r.deleted); add('delta without its tombstone', { prev: S1, changeset: t, expect: 'invalid' }); }
{ const t = clone(DELTA2); t.changes.push({ id: 'c-1', last_modified: T2 - 5, deleted: true }); add('delta with a forged tombstone', { prev: S1, changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.metadata.signatures[0].head.records = 2; add('head edited (records), signature kept', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); const s = t.metadata.signatures[0].signature; t.metadata.signatures[0].signature = (s[0] === 'A' ? 'B' : 'A') + s.slice(1); add('signature altered', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.metadata.signatures[0].signature = entry(K3, H1).signature; add('key_id of a pinned key, signed by another', { changeset: t, expect: 'invalid' }); }
{ const t = clone(CS1); t.timestamp = T0 + 1; add('served timestamp differs from the signed one', { changeset: t, expect: 'invalid' }); }
add('signed for another collection', { changeset: changeset(head('main', 'other', T0, R1), R1), expect: 'invalid' });
add('signed for another bucket', { changeset: changeset(head('blocklists', 'certs', T0, R1), R1), expect: 'invalid' });
add('no signature by a pinned key', { public_keys: [K3.pub], changeset: CS1, expect: 'unknown_key' });
{ const t = clone(CS1); t.metadata.signatures.forEach((e) => { e.mode = 'p384ecdsa'; }); add('mode other than ed25519', { changeset: t, expect: 'unknown_key' }); }
add('expired signature', { now_ms: H1.expires + 1, changeset: CS1, expect: 'expired' });
add('expired exactly now', { now_ms: H1.expires, changeset: CS1, expect: 'expired' });
add('expiry not checked (now_ms 0)', { now_ms: 0, changeset: CS1, expect: 'ok', expect_version: T0, expect_ids: ['a', 'b', 'c-1'] });
add('rollback: full v1 over a v2 state', { prev: S2, prev_is_min_only: true, changeset: CS1, expect: 'rollback' });
add('rollback: delta older than the state', { prev: S2, changeset: changeset(H1, [], [K1]), expect: 'rollback' });
{ const mixed = clone(CS1); mixed.metadata.signatures = [entry(K1, H1), entry(K2, H2)]; add('mixed versions: the pinned key signed another version', { public_keys: [K2.pub], changeset: mixed, expect: 'invalid' }); }
add('not a changeset', { changeset: { data: [] }, expect: 'parse' });
add('empty collection', { changeset: changeset(head('main', 'certs', T0, []), []), expect: 'ok', expect_version: T0, expect_ids: [] });

fs.writeFileSync(here + 'changesets.json', JSON.stringify({ description: 'Shared client test vectors; see generate.mjs. prev: a verified state to merge a delta into (null: full changeset); prev_is_min_only: prev only sets the minimum version (a full refetch), not a merge base.', cases }, null, 1) + '\n');

// Canonical JSON: input text → expected JCS, for both implementations.
const jcs = [
  ['{"b":1,"a":2}', '{"a":2,"b":1}'],
  ['[0.1, 1e-7, 1e21, 1e+300, -0.0, 0.000001, 5e-324, 1.7976931348623157e308, -1.5, 100, 2e2, 123456789012345680000, 1E-6, 9007199254740991]', null],
  ['{"\\u20ac":1,"\\ud83d\\ude00":2,"\\uff61":3,"a":4,"B":5,"":6,"aa":7,"\\u00e9":8}', null],
  ['"\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\\\/\\u007f\\u2028\\u2029 é 😀"', null],
  ['{"z":{"y":[{"b":true,"a":null}],"x":false},"a":[],"o":{}}', null],
  ['[1.0, 10.0e0, 0.5e1, 1e1, 333333333.33333329, 1e-6, 1e-5, 4.5e15, 4.5e16, 1.5e21]', null],
].map(([input, out]) => ({ input, canonical: out ?? canonicalize(JSON.parse(input)) }));
fs.writeFileSync(here + 'jcs.json', JSON.stringify(jcs, null, 1) + '\n');
console.log(`${cases.length} changeset cases, ${jcs.length} jcs cases`);
