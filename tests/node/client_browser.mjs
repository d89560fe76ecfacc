// The JavaScript client in headless Chromium (test_client_browser.sh drives this): a page
// served over HTTP here loads the unbundled ES modules of clients/js/src, syncs OneCRL
// from a real read server into IndexedDB, verifies it, is reloaded (the state comes back
// from IndexedDB, re-verified, with no request), syncs a one-record delta, and refuses a
// tampered answer (tests/node/client_proxy.mjs in "tamper" mode) keeping its last
// verified copy, in memory and in IndexedDB. Prints one "CHECK ok|FAIL name" line per
// check and "MEASURE ..." lines (sync time and bytes; never asserted).
//
// Chromium is Debian's (apt-get install chromium), driven by playwright-core over CDP;
// nothing is downloaded.
//
// usage: node client_browser.mjs   with env SRV (read server .../v1), PUB (publisher
//   .../v1), AUTH (user:password), PROXY (proxy .../v1), MODE_FILE (the proxy's mode),
//   PUBKEY, DATA (onecrl.json), CHROMIUM (optional executable path)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const env = process.env;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const B = 'main', C = 'onecrl';
let failed = 0;
const check = (name, ok, detail = '') => {
  if (!ok) failed++;
  console.log(`CHECK ${ok ? 'ok' : 'FAIL'} ${name}${ok || !detail ? '' : ' -- ' + detail}`);
};
const auth = 'Basic ' + Buffer.from(env.AUTH).toString('base64');

async function pub(method, p, body) {
  const r = await fetch(env.PUB + p, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const j = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

// The version the read server serves for main/onecrl (its monitor entry), 0 if none. A
// read server serves a signed monitor only with exactly the versions it names
// (lock-step, docs/server.md), so the monitor's entry is the changeset's version.
async function served() {
  const m = await (await fetch(`${env.SRV}/buckets/monitor/collections/changes/changeset`)).json();
  return m.changes.find((e) => e.bucket === B && e.collection === C)?.last_modified ?? 0;
}
async function waitServed(v) {
  for (let i = 0; i < 300; i++) {
    if ((await served()) === v) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// OneCRL through the publisher's batch endpoint (25 writes a request: batch_max_requests).
async function importOneCRL() {
  const { data } = JSON.parse(fs.readFileSync(env.DATA, 'utf8'));
  let last = 0, next = 0;
  const batches = [];
  for (let i = 0; i < data.length; i += 25) batches.push(data.slice(i, i + 25));
  // Three batches in flight: the import is setup, not what is measured.
  await Promise.all([0, 1, 2].map(async () => {
    while (next < batches.length) {
      const requests = batches[next++].map(({ id, last_modified, ...rec }) => ({ method: 'PUT', path: `/buckets/${B}/collections/${C}/records/${id}`, body: { data: rec } }));
      const r = await pub('POST', '/batch', { requests });
      for (const x of r.responses) {
        if (x.status >= 300) throw new Error('batch write refused: ' + JSON.stringify(x));
        last = Math.max(last, x.body.data.last_modified);
      }
    }
  }));
  return { count: data.length, version: last };
}

// The page: its own origin (this server), the read server another one (CORS *).
const PAGE = `<!doctype html><meta charset="utf-8"><title>herald client</title>
<script type="module">
import { HeraldClient, IndexedDBStore } from '/clients/js/src/index.js';
window.heraldSync = async ({ serverUrl, key, db }) => {
  const client = new HeraldClient({ serverUrl, publicKeys: [key], store: new IndexedDBStore(db), maxRetries: 0 });
  await client.follow('${B}', '${C}');
  const before = client.info('${B}', '${C}');
  const requestsBefore = client.stats.requests;
  let status = null, ms = 0;
  if (serverUrl) {
    const t0 = performance.now();
    status = await client.sync();
    ms = performance.now() - t0;
  }
  const recs = client.records('${B}', '${C}') || [];
  const stored = await new IndexedDBStore(db).get('${B}/${C}');
  return { before, requestsBefore, status, ms, info: client.info('${B}', '${C}'), stats: client.stats,
           ids: recs.map((r) => r.id).join(','), names: recs.map((r) => r.serialNumber).join(','),
           storedVersion: stored ? stored.timestamp : 0, storedCount: stored ? stored.records.length : 0 };
};
window.heraldReady = true;
</script>`;

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };
function startPageServer() {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/' || u.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(PAGE);
    }
    // Only the client's own modules, unbundled, as an app would serve them.
    const f = path.resolve(ROOT, '.' + decodeURIComponent(u.pathname));
    if (!f.startsWith(path.join(ROOT, 'clients/js/src') + path.sep) || !fs.existsSync(f)) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': TYPES[path.extname(f)] || 'application/octet-stream' });
    res.end(fs.readFileSync(f));
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// The server's full changeset, ids sorted (code point order, as the client sorts them).
async function serverIds() {
  const cs = await (await fetch(`${env.SRV}/buckets/${B}/collections/${C}/changeset`)).json();
  return cs.changes.map((r) => r.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
}

const pageSrv = await startPageServer();
const origin = `http://127.0.0.1:${pageSrv.address().port}`;
const exe = env.CHROMIUM || (fs.existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium');
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  await pub('PUT', `/buckets/${B}`, { data: {}, permissions: { read: ['system.Everyone'] } });
  await pub('PUT', `/buckets/${B}/collections/${C}`, { data: {} });
  const t0 = Date.now();
  const imp = await importOneCRL();
  console.log(`# OneCRL imported through the publisher in ${Date.now() - t0} ms`);
  check(`OneCRL (${imp.count} records) served at ${imp.version}`, await waitServed(imp.version));
  const V1 = imp.version;
  console.log(`# served ${Date.now() - t0} ms after the import began`);

  const page = await browser.newPage();
  // Bytes as Chromium received them (encoded body + headers), per request to the servers.
  let wire = [];
  page.on('requestfinished', async (req) => {
    if (!req.url().startsWith(origin)) {
      const s = await req.sizes().catch(() => null);
      wire.push({ url: req.url(), body: s?.responseBodySize ?? 0, headers: s?.responseHeadersSize ?? 0 });
    }
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const load = async () => { await page.goto(origin + '/'); await page.waitForFunction(() => window.heraldReady === true); };
  const run = async (serverUrl) => {
    wire = [];
    const r = await page.evaluate((o) => window.heraldSync(o), { serverUrl, key: env.PUBKEY, db: 'herald-test' });
    await new Promise((res) => setTimeout(res, 200)); // let requestfinished handlers settle
    r.wire = wire;
    r.wireBytes = wire.reduce((n, w) => n + w.body + w.headers, 0);
    return r;
  };
  const measure = (what, r) => console.log(`MEASURE chromium ${what}: ${r.ms.toFixed(1)} ms, ${r.stats.requests} requests, ` +
    `${r.stats.bytesReceived} bytes decoded, ${r.wireBytes} bytes on the wire (bodies ${r.wire.reduce((n, w) => n + w.body, 0)} + headers)` +
    ` [${r.wire.map((w) => w.url.replace(/^.*\/v1/, '') + '=' + w.body).join(' ')}]`);

  await load();
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(`# ${ua}`);
  // 1. Full sync of OneCRL into IndexedDB.
  const full = await run(env.SRV);
  check('full sync: ok', full.status === 'ok', JSON.stringify(full.info));
  check('full sync: at the served version', full.info.version === V1, `${full.info.version} vs ${V1}`);
  check('full sync: every record', full.info.records === imp.count, `${full.info.records}`);
  check("full sync: the records are the server's", full.ids === (await serverIds()));
  check('full sync: stored in IndexedDB at that version', full.storedVersion === V1 && full.storedCount === imp.count);
  check('full sync: two requests (monitor, full changeset)', full.stats.requests === 2 && full.wire.length === 2 && !/_since=/.test(full.wire[1]?.url || ''), JSON.stringify(full.wire));
  measure('OneCRL full', full);

  // 2. Reload: the state comes back from IndexedDB, verified, with no request.
  await page.reload();
  await page.waitForFunction(() => window.heraldReady === true);
  wire = [];
  const after = await run(null);
  check('after reload: the verified state is loaded from IndexedDB', after.info.version === V1 && after.info.records === imp.count && after.ids === full.ids);
  check('after reload: no request to load it', after.stats.requests === 0 && after.wire.length === 0);

  // 3. One record changes: a delta (_since) brings it.
  const some = full.ids.split(',')[7];
  const r = await pub('PATCH', `/buckets/${B}/collections/${C}/records/${some}`, { data: { serialNumber: 'Y2hhbmdlZCBieSB0aGUgYnJvd3NlciB0ZXN0' } });
  const V2 = r.data.last_modified;
  check('one-record change served', await waitServed(V2));
  const delta = await run(env.SRV);
  check('delta sync: ok at the new version', delta.status === 'ok' && delta.info.version === V2, JSON.stringify(delta.info));
  check('delta sync: asked with _since the held version', delta.wire.some((w) => w.url.includes(`_since=${V1}`)), JSON.stringify(delta.wire));
  check('delta sync: the changed record is held', delta.names.includes('Y2hhbmdlZCBieSB0aGUgYnJvd3NlciB0ZXN0'));
  check('delta sync: still every record, stored', delta.info.records === imp.count && delta.storedVersion === V2);
  measure('OneCRL one-record delta', delta);

  // 4. A tampered answer (delta and full refetch both corrupted): refused, V2 kept.
  const r3 = await pub('PATCH', `/buckets/${B}/collections/${C}/records/${some}`, { data: { serialNumber: 'dGhpcmQ=' } });
  check('another change served', await waitServed(r3.data.last_modified));
  fs.writeFileSync(env.MODE_FILE, 'tamper\n');
  const bad = await run(env.PROXY);
  check('tampered: refused as invalid', bad.status === 'invalid', `${bad.status} ${JSON.stringify(bad.info)}`);
  check('tampered: the delta and the full refetch were both tried', bad.stats.verifyFailures === 2 && bad.wire.filter((w) => /\/collections\/onecrl\/changeset/.test(w.url)).length === 2, JSON.stringify(bad.wire));
  check('tampered: the verified V2 kept in memory', bad.info.version === V2 && !bad.names.includes('dGhpcmQ='));
  check('tampered: IndexedDB still holds V2', bad.storedVersion === V2);
  await page.reload();
  await page.waitForFunction(() => window.heraldReady === true);
  const kept = await run(null);
  check('tampered: after a reload the client holds V2', kept.info.version === V2 && kept.info.records === imp.count);
  fs.writeFileSync(env.MODE_FILE, 'pass\n');
  const healed = await run(env.PROXY);
  check('once the proxy passes, the next sync verifies the new version', healed.status === 'ok' && healed.info.version === r3.data.last_modified && healed.names.includes('dGhpcmQ='));
  check('no error in the page', errors.length === 0, errors.join('; '));
} catch (e) {
  check('the browser scenario ran to the end', false, e.stack || String(e));
} finally {
  await browser.close();
  pageSrv.close();
}
process.exit(failed ? 1 : 0);
