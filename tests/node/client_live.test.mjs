// The JavaScript client against a real publisher, signer and read server
// (test_client_js_live.sh starts them and passes SRV, PUB, AUTH, PUBKEY):
//
// - watch(): long-poll on the monitor (Prefer: wait=N, If-None-Match): a change is
//   delivered by the held request itself (one monitor request, answered 200 with
//   Preference-Applied), an idle wait ends in a 304, abort ends the loop.
// - The signed monitor in sync(): until the read server signs the monitor (the signer's
//   part of the design's "Signed monitor"), a signing proxy here, in front of the real
//   server, adds what the design says the unfiltered monitor carries: each entry's
//   sha256 (from the served changeset's signed head) and a monitor signature by a second
//   pinned key. Its modes produce the failures a client must refuse: expired, rolled
//   back, unpinned key, a head hash other than the collection's, and a monitor with no
//   signature (freshness "unknown").
// - filter_expression: Remote Settings' JEXL targeting, evaluated by mozjexl through the
//   client's targeting option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { HeraldClient, MemoryStore } from '../../clients/js/src/index.js';

const { SRV, PUB, AUTH, PUBKEY } = process.env;
const auth = 'Basic ' + Buffer.from(AUTH || '').toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const b64u = (b) => Buffer.from(b).toString('base64url');

async function put(p, body) {
  const r = await fetch(PUB + p, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  assert.ok(r.status < 300, `PUT ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
async function servedVersion(b, c) {
  const m = await (await fetch(`${SRV}/buckets/monitor/collections/changes/changeset`)).json();
  return m.changes.find((e) => e.bucket === b && e.collection === c)?.last_modified ?? 0;
}
async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
// Creates B/C (public) with one record and waits until it is served; resolves to V.
async function collection(b, c) {
  await put(`/buckets/${b}`, { data: {}, permissions: { read: ['system.Everyone'] } });
  await put(`/buckets/${b}/collections/${c}`, { data: {} });
  return write(b, c, 'r0', { n: 0 });
}
async function write(b, c, id, data) {
  const v = (await put(`/buckets/${b}/collections/${c}/records/${id}`, { data })).data.last_modified;
  await until(`${b}/${c} served at ${v}`, async () => (await servedVersion(b, c)) === v);
  return v;
}
// fetch, recording what each request sent and got (the client's real network calls).
function recordingFetch(log) {
  return async (url, init = {}) => {
    const entry = { url: String(url), sent: { ...(init.headers || {}) }, status: 0, applied: null, etag: null };
    log.push(entry);
    const res = await fetch(url, init);
    entry.status = res.status;
    entry.applied = res.headers.get('Preference-Applied');
    entry.etag = res.headers.get('ETag');
    return res;
  };
}
const isMonitor = (e) => e.url.includes('/buckets/monitor/');

test('watch(): a change arrives through the held long-poll, verified', async () => {
  const V1 = await collection('watch', 'w1');
  const log = [], changes = [], syncs = [];
  const client = new HeraldClient({ serverUrl: SRV, publicKeys: [PUBKEY], store: new MemoryStore(), fetch: recordingFetch(log),
    onChange: (b, c, v) => changes.push(v) });
  await client.follow('watch', 'w1');
  const ac = new AbortController();
  const done = client.watch({ waitSeconds: 30, signal: ac.signal, onSync: (st, m) => syncs.push([st, m]) });
  try {
    await until('the first sync', () => changes.includes(V1));
    // The next monitor request is sent and held (its If-None-Match names the current version).
    await until('a held long-poll', () => log.filter(isMonitor).length === 2);
    await sleep(300);
    const V2 = await write('watch', 'w1', 'r1', { n: 1 });
    await until('the change delivered', () => changes.includes(V2));
    const mons = log.filter(isMonitor);
    // The third, if sent yet, is the next long-poll, waiting with the new version's ETag.
    assert.ok(mons.length === 2 || (mons.length === 3 && mons[2].sent['If-None-Match'] === mons[1].etag), JSON.stringify(mons));
    assert.deepEqual(mons[0].sent, {}, 'the first request is an ordinary poll');
    // The monitor's ETag: its version (M of the signed monitor, which read servers serve).
    assert.equal(mons[1].sent['If-None-Match'], mons[0].etag);
    assert.equal(mons[1].sent.Prefer, 'wait=30');
    assert.equal(mons[1].status, 200);
    assert.equal(mons[1].applied, 'wait=30', 'the 200 came from the held request');
    assert.deepEqual(syncs.map((s) => s[0]), ['ok', 'ok']);
    assert.deepEqual(client.records('watch', 'w1').map((r) => r.id), ['r0', 'r1']);
    assert.equal(client.info('watch', 'w1').version, V2);
  } finally {
    ac.abort();
    await done; // the loop ends with the abort
  }
});

test('watch(): an idle wait ends in 304 and the loop waits again; abort ends it', async () => {
  const V = await collection('watch', 'w2');
  const log = [], syncs = [];
  const client = new HeraldClient({ serverUrl: SRV, publicKeys: [PUBKEY], store: new MemoryStore(), fetch: recordingFetch(log) });
  await client.follow('watch', 'w2');
  const ac = new AbortController();
  const done = client.watch({ waitSeconds: 1, signal: ac.signal, onSync: (st) => syncs.push(st) });
  try {
    await until('two idle 304s', () => log.filter((e) => isMonitor(e) && e.status === 304).length >= 2, 10000);
  } finally {
    ac.abort();
    await done;
  }
  const idle = log.filter((e) => isMonitor(e) && e.status === 304);
  assert.ok(idle.every((e) => e.applied === 'wait=1' && e.sent.Prefer === 'wait=1'), JSON.stringify(idle));
  assert.deepEqual(syncs, ['ok'], 'only the first answer was a sync');
  assert.equal(client.info('watch', 'w2').version, V);
});

// ---- the signed monitor, through a signing proxy in front of the real server ----

async function newKey() {
  const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
  return { priv: kp.privateKey, pub: b64u(raw), keyId: sha256(raw).slice(0, 16) };
}

async function signingProxy(monKey, otherKey) {
  const st = { mode: 'sign', lastM: 0, saved: [], wrongFor: null };
  const srv = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const up = SRV.replace(/\/v1$/, '') + req.url;
    const unfiltered = u.pathname === '/v1/buckets/monitor/collections/changes/changeset' &&
      !u.searchParams.has('_since') && !u.searchParams.has('bucket') && !u.searchParams.has('collection');
    try {
      if (!unfiltered) {
        const r = await fetch(up);
        res.writeHead(r.status, { 'content-type': 'application/json' });
        return res.end(Buffer.from(await r.arrayBuffer()));
      }
      if (st.mode === 'strip') {
        // The read server signs the monitor itself now: strip its signatures too.
        const r = await fetch(up);
        const mon = await r.json();
        delete mon.metadata.signature;
        delete mon.metadata.signatures;
        res.writeHead(r.status, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(mon));
      }
      if (st.mode === 'replay') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(st.saved[0]);
      }
      const mon = await (await fetch(up)).json();
      const entries = [];
      for (const e of mon.changes) {
        const cs = await (await fetch(`${SRV}/buckets/${e.bucket}/collections/${e.collection}/changeset`)).json();
        const h = cs.metadata.signatures[0].head;
        // The entry names the version the changeset is signed at (the monitor may lag it).
        e.last_modified = h.timestamp;
        e.sha256 = st.mode === 'wrong_sha' && `${e.bucket}/${e.collection}` === st.wrongFor ? sha256('not it') : h.sha256;
        entries.push({ bucket: e.bucket, collection: e.collection, last_modified: e.last_modified, sha256: e.sha256 });
      }
      entries.sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0));
      // M strictly increases at each signature and is never below any V.
      const M = Math.max(st.lastM + 1, ...entries.map((e) => e.last_modified));
      st.lastM = M;
      const head = { kind: 'monitor', timestamp: M, expires: st.mode === 'expired' ? Date.now() - 1 : Date.now() + 3600e3, collections: entries.length, sha256: sha256(canonicalize(entries)) };
      const key = st.mode === 'unpinned' ? otherKey : monKey;
      const msg = Buffer.concat([Buffer.from('herald-monitor-v1\0', 'binary'), Buffer.from(canonicalize(head))]);
      const sig = { mode: 'ed25519', key_id: key.keyId, signature: b64u(await crypto.subtle.sign({ name: 'Ed25519' }, key.priv, msg)), head };
      mon.metadata = { ...mon.metadata, signature: sig, signatures: [sig] };
      mon.timestamp = M;
      const body = JSON.stringify(mon);
      if (st.mode === 'sign') st.saved.push(body);
      res.writeHead(200, { 'content-type': 'application/json', etag: `"${M}"` });
      res.end(body);
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { st, url: `http://127.0.0.1:${srv.address().port}/v1`, close: () => srv.close() };
}

test('signed monitor: verified, freshness reported; expired, rolled back, unpinned, mismatched and unsigned monitors', async () => {
  const monKey = await newKey(), otherKey = await newKey();
  const proxy = await signingProxy(monKey, otherKey);
  try {
    const V1 = await collection('signed', 'm1');
    const store = new MemoryStore();
    const mk = (o = {}) => new HeraldClient({ serverUrl: proxy.url, publicKeys: [PUBKEY, monKey.pub], store, maxRetries: 0, ...o });
    let client = mk();
    await client.follow('signed', 'm1');
    assert.equal(client.freshness().status, 'unknown', 'no monitor verified yet');

    assert.equal(await client.sync(), 'ok');
    let f = client.freshness();
    assert.equal(f.status, 'fresh', JSON.stringify(f));
    assert.deepEqual(f.unverified, []);
    assert.equal(f.signedAt, proxy.st.lastM);
    assert.ok(f.ageMs >= 0 && client.isFresh(3600e3));
    assert.equal(client.info('signed', 'm1').version, V1);
    const M1 = proxy.st.lastM;
    assert.equal((await store.get('client')).monitor_verified, M1, 'the verified M is persisted');

    // Frozen: an expired monitor is refused; nothing is fetched on its word.
    const V2 = await write('signed', 'm1', 'r1', { n: 1 });
    proxy.st.mode = 'expired';
    assert.equal(await client.sync(), 'expired');
    assert.equal(client.info('signed', 'm1').version, V1);
    assert.equal(client.freshness().signedAt, M1, 'freshness still refers to the last verified monitor');

    proxy.st.mode = 'sign';
    assert.equal(await client.sync(), 'ok');
    assert.equal(client.info('signed', 'm1').version, V2);
    assert.equal(client.freshness().status, 'fresh');

    // Rolled back: the first signed monitor, replayed, is below the verified M.
    proxy.st.mode = 'replay';
    assert.equal(await client.sync(), 'rollback');
    // Also for a new client on the same store (the verified M was persisted).
    const fresh = mk();
    await fresh.follow('signed', 'm1');
    assert.equal(await fresh.sync(), 'rollback');

    // Unpinned monitor key.
    proxy.st.mode = 'unpinned';
    assert.equal(await client.sync(), 'unknown_key');

    // The monitor names another content than the signed changeset at that version:
    // the collection's new version is refused (after the full refetch), V2 kept.
    await write('signed', 'm1', 'r2', { n: 2 });
    proxy.st.mode = 'wrong_sha';
    proxy.st.wrongFor = 'signed/m1';
    assert.equal(await client.sync(), 'invalid');
    assert.equal(client.info('signed', 'm1').version, V2);
    assert.match(client.info('signed', 'm1').lastError, /signed monitor/);
    assert.equal(client.stats.verifyFailures, 2, 'the delta and the full refetch');
    f = client.freshness();
    assert.equal(f.status, 'stale', 'the held copy is not what the latest monitor names');
    assert.deepEqual(f.unverified, ['signed/m1']);

    // No signature (today's servers): synced as before, freshness unknown.
    proxy.st.mode = 'strip';
    assert.equal(await client.sync(), 'ok');
    assert.equal(client.info('signed', 'm1').records, 3);
    assert.equal(client.freshness().status, 'unknown');
    // Unless the application requires a signed monitor.
    const strict = mk({ requireSignedMonitor: true, store: new MemoryStore() });
    await strict.follow('signed', 'm1');
    assert.equal(await strict.sync(), 'unknown_key');
    assert.equal(strict.info('signed', 'm1').version, 0);
  } finally {
    proxy.close();
  }
});

test("filter_expression: Remote Settings' JEXL targeting with mozjexl, behind the targeting option", async () => {
  const { Jexl } = (await import('mozjexl')).default;
  const V = await collection('target', 't1');
  await write('target', 't1', 'fr', { filter_expression: 'env.locale == "fr-FR"' });
  await write('target', 't1', 'new', { filter_expression: 'env.version >= 130 && "nightly" in env.channels' });
  await write('target', 't1', 'bad', { filter_expression: 'env.locale ==' }); // does not parse: dropped
  const V2 = await write('target', 't1', 'empty', { filter_expression: '' }); // no expression: kept
  assert.ok(V2 > V);
  const store = new MemoryStore();
  const targeting = { jexl: new Jexl(), env: { locale: 'fr-FR', version: 131, channels: ['beta'] } };
  const client = new HeraldClient({ serverUrl: SRV, publicKeys: [PUBKEY], store, targeting });
  await client.follow('target', 't1');
  assert.equal(await client.sync(), 'ok');
  const ids = () => client.records('target', 't1').map((r) => r.id).join(',');
  assert.equal(ids(), 'empty,fr,r0');
  assert.equal(client.info('target', 't1').records, 5, 'the verified state keeps every record');
  await client.refreshTargeting({ locale: 'de', version: 131, channels: ['nightly'] });
  assert.equal(ids(), 'empty,new,r0');
  // A restarted client evaluates the stored state the same way, with no request.
  const again = new HeraldClient({ publicKeys: [PUBKEY], store, targeting: { jexl: new Jexl(), env: { locale: 'fr-FR' } } });
  await again.follow('target', 't1');
  assert.equal(again.records('target', 't1').map((r) => r.id).join(','), 'empty,fr,r0');
  // Without the option, every verified record.
  const plain = new HeraldClient({ publicKeys: [PUBKEY], store });
  await plain.follow('target', 't1');
  assert.equal(plain.records('target', 't1').length, 5);
  assert.throws(() => new HeraldClient({ publicKeys: [PUBKEY], store, targeting: { jexl: {} } }), (e) => e.code === 'usage');
});
