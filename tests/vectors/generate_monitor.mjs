// Regenerates monitor.json: known-answer vectors for the signed monitor
// (docs/signature-format.md, "Signed monitor"). Deterministic: fixed seeds (Ed25519 is
// deterministic) and fixed times. Run: node generate_monitor.mjs
// Signing and hashing use Node's crypto and the JS client's canonical JSON; the C test
// (tests/unit/test_monitor.c) checks the same bytes with lib/monitor.c and libsodium, so
// the two implementations cross-check.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { canonicalize } from '../../clients/js/src/jcs.js';

const here = new URL('.', import.meta.url).pathname;
function key(seedByte) {
  const seed = Buffer.alloc(32, seedByte);
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12);
  return { seed: seed.toString('hex'), priv, pub: pub.toString('base64url'), keyId: crypto.createHash('sha256').update(pub).digest('hex').slice(0, 16) };
}
const K1 = key(1), K2 = key(2), K3 = key(3);
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0); // UTF-16 order; ids are ASCII so it is byte order
const byBC = (a, b) => cmp(a.bucket, b.bucket) || cmp(a.collection, b.collection);
const strip = (e) => ({ bucket: e.bucket, collection: e.collection, last_modified: e.last_modified, sha256: e.sha256 });
function head(entries, M, E) {
  const ej = canonicalize([...entries].map(strip).sort(byBC));
  return { kind: 'monitor', timestamp: M, expires: E, collections: entries.length, sha256: sha(ej) };
}
const message = (h) => Buffer.concat([Buffer.from('herald-monitor-v1'), Buffer.from([0]), Buffer.from(canonicalize(h))]);
const sign = (k, h) => ({ mode: 'ed25519', key_id: k.keyId, signature: crypto.sign(null, message(h), k.priv).toString('base64url'), head: h });
const HOST = 'settings.example.com';
function served(entries, h, keys = [K1]) {
  const sigs = keys.map((k) => sign(k, h));
  const changes = [...entries].sort((a, b) => b.last_modified - a.last_modified || byBC(a, b)).map((e) => ({
    bucket: e.bucket, collection: e.collection, host: HOST,
    id: crypto.createHash('md5').update(`${HOST}/${e.bucket}/${e.collection}`).digest('hex'),
    last_modified: e.last_modified, sha256: e.sha256,
  }));
  return { metadata: { bucket: 'monitor', signature: sigs[0], signatures: sigs }, timestamp: h.timestamp, changes };
}
const clone = (v) => JSON.parse(JSON.stringify(v));

const T0 = 1700000000000;
const M = T0 + 5000, E = M + 3600e3, NOW = M + 60e3;
const ENTRIES = [
  { bucket: 'main', collection: 'certs', last_modified: T0, sha256: sha('[]') },
  { bucket: 'blocklists', collection: 'addons', last_modified: T0 - 7, sha256: sha('addons') },
  { bucket: 'main', collection: 'Certs', last_modified: T0 - 3, sha256: sha('Certs') },
  { bucket: 'main', collection: 'a-b_c', last_modified: M, sha256: sha('a-b_c') },
];
const H = head(ENTRIES, M, E);
const CS = served(ENTRIES, H, [K1, K2]);

const kat = {
  seed_hex: K1.seed, public_key: K1.pub, key_id: K1.keyId,
  entries: ENTRIES, timestamp: M, expires: E,
  entries_json: canonicalize([...ENTRIES].sort(byBC)),
  sha256: H.sha256,
  head: H, head_json: canonicalize(H),
  message_hex: message(H).toString('hex'),
  signature: sign(K1, H).signature,
  empty_entries_json: '[]', empty_sha256: sha('[]'),
};

const cases = [];
const add = (name, o) => cases.push({ name, now_ms: NOW, min_timestamp: 0, public_keys: [K1.pub], ...o });
add('two signing keys, first pinned', { changeset: CS, expect: 'ok', expect_timestamp: M });
add('only the second key pinned', { public_keys: [K2.pub], changeset: CS, expect: 'ok', expect_timestamp: M });
add('pinned keys in order: an unknown one first', { public_keys: [K3.pub, K2.pub], changeset: CS, expect: 'ok', expect_timestamp: M });
{ const t = clone(CS); t.changes.reverse(); add('entries in any order', { changeset: t, expect: 'ok', expect_timestamp: M }); }
add('min_timestamp equal to M', { min_timestamp: M, changeset: CS, expect: 'ok', expect_timestamp: M });
add('expiry not checked (now_ms 0)', { now_ms: 0, changeset: CS, expect: 'ok', expect_timestamp: M });
{ const h = head([], M, E); add('empty monitor', { changeset: served([], h), expect: 'ok', expect_timestamp: M }); }
add('frozen: served past expiry', { now_ms: E + 1, changeset: CS, expect: 'expired' });
add('frozen: expires exactly now', { now_ms: E, changeset: CS, expect: 'expired' });
add('rollback: older M than one verified', { min_timestamp: M + 1, changeset: CS, expect: 'rollback' });
add('signed by an unpinned key', { public_keys: [K3.pub], changeset: CS, expect: 'unpinned' });
{ const t = clone(CS); t.metadata.signatures[0].signature = sign(K3, H).signature; add('key_id of a pinned key, signed by another', { changeset: t, expect: 'bad-signature' }); }
{ const t = clone(CS); t.changes.splice(1, 1); add('entry removed', { changeset: t, expect: 'hash-mismatch' }); }
{ const t = clone(CS); t.changes.push({ ...t.changes[0], collection: 'injected' }); add('entry added', { changeset: t, expect: 'hash-mismatch' }); }
{ const t = clone(CS); t.changes[0].last_modified += 1; add('entry version changed', { changeset: t, expect: 'hash-mismatch' }); }
{ const t = clone(CS); t.changes[0].sha256 = sha('other'); add('entry sha256 changed', { changeset: t, expect: 'hash-mismatch' }); }
{ const t = clone(CS); t.changes.push(clone(t.changes[0])); add('an entry twice', { changeset: t, expect: 'malformed' }); }
{ const t = clone(CS); delete t.changes[0].sha256; add('entry without sha256', { changeset: t, expect: 'malformed' }); }
{ const t = clone(CS); t.timestamp = M + 1; add('served timestamp differs from M', { changeset: t, expect: 'timestamp-mismatch' }); }
{ const t = clone(CS); t.metadata.signatures[0].head.expires = E + 3600e3; add('head edited (expires), signature kept', { changeset: t, expect: 'bad-signature' }); }
{ const t = clone(CS); const s = t.metadata.signatures[0].signature; t.metadata.signatures[0].signature = (s[0] === 'A' ? 'B' : 'A') + s.slice(1); add('signature altered', { changeset: t, expect: 'bad-signature' }); }
{
  // A collection signature (snapshot prefix and head) offered as the monitor's.
  const sh = { bucket: 'main', collection: 'certs', timestamp: M, expires: E, records: 0, sha256: sha('[]') };
  const msg = Buffer.concat([Buffer.from('herald-snapshot-v1'), Buffer.from([0]), Buffer.from(canonicalize(sh))]);
  const t = clone(CS); t.metadata.signatures = [{ mode: 'ed25519', key_id: K1.keyId, signature: crypto.sign(null, msg, K1.priv).toString('base64url'), head: sh }];
  add('a snapshot signature is not a monitor signature', { changeset: t, expect: 'malformed' });
}
{
  // The monitor head signed with the snapshot prefix: the prefix is part of the message.
  const msg = Buffer.concat([Buffer.from('herald-snapshot-v1'), Buffer.from([0]), Buffer.from(canonicalize(H))]);
  const t = clone(CS); t.metadata.signatures[0].signature = crypto.sign(null, msg, K1.priv).toString('base64url');
  add('monitor head signed under the snapshot prefix', { changeset: t, expect: 'bad-signature' });
}
{ const t = clone(CS); t.metadata.signatures.forEach((e) => { e.mode = 'p384ecdsa'; }); add('mode other than ed25519', { changeset: t, expect: 'malformed' }); }

fs.writeFileSync(here + 'monitor.json', JSON.stringify({ description: 'Signed monitor vectors; see generate_monitor.mjs. kat: one monitor built and signed step by step. cases: a served unfiltered monitor changeset, verified with now_ms, min_timestamp (the last verified M) and the pinned public_keys; expect is the verdict (ok, malformed, unpinned, hash-mismatch, timestamp-mismatch, bad-signature, expired, rollback).', kat, cases }, null, 1) + '\n');
console.log(`${cases.length} monitor cases`);

// Seeds of the fuzz target "monitor" (fuzz/check_monitor.c): served monitors signed with
// the golden key (tests/golden/snapshot-v1, seed 00 01 .. 1f).
{
  const seed = Buffer.from([...Array(32).keys()]);
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12);
  const G = { priv, pub: pub.toString('base64url'), keyId: crypto.createHash('sha256').update(pub).digest('hex').slice(0, 16) };
  const dir = here + '../../fuzz/corpus/monitor/';
  fs.mkdirSync(dir, { recursive: true });
  const write = (name, v) => fs.writeFileSync(dir + name, JSON.stringify(v));
  write('signed.json', served(ENTRIES, H, [G, K2]));
  write('empty.json', served([], head([], M, E), [G]));
  const t = served(ENTRIES, H, [G]); t.changes.pop(); write('entry-dropped.json', t);
  write('unpinned.json', served(ENTRIES, H, [K3]));
  console.log(`fuzz seeds in ${dir} (golden key ${G.pub})`);
}
