// Lock-step publication under a burst (test_server_lockstep.sh drives this): while
// writers import records into several collections through the publisher's batch endpoint
// (the signer signing snapshots and monitors as fast as it can), a checker polls the read
// server continuously and checks that no response pair it can attribute to one served
// state disagrees:
//   bracket  GET monitor (M), GET each collection's changeset, GET monitor again: when
//            the monitor is signed and both monitor answers are M (the server did not
//            switch in between: each switch of a signed pair changes M), every changeset
//            must be at the version the monitor names and carry its records hash (a
//            collection served but not listed, or listed but not served, disagrees).
//   longpoll a collection changeset held with Prefer: wait and If-None-Match: the version
//            it wakes up with must be one a signed monitor fetched right after names or
//            has passed (a waiter is woken only by a published pair, never by a staged
//            version).
// Prints "STAT name value" lines and "VIOLATION ..." lines; exits 0 (the shell test
// asserts on the lines).
//
// usage: node lockstep_check.mjs   with env SRV (read server .../v1), PUB (publisher
//   .../v1), AUTH (user:password), BUCKET, COLLECTIONS (comma separated), SECONDS (burst),
//   BATCHES (per writer, optional), DONE_FILE (written when the burst ends)
import fs from 'node:fs';

const env = process.env;
const B = env.BUCKET;
const CS = env.COLLECTIONS.split(',');
const auth = 'Basic ' + Buffer.from(env.AUTH).toString('base64');
const until = Date.now() + Number(env.SECONDS) * 1000;
const stat = {};
const bump = (k, n = 1) => { stat[k] = (stat[k] || 0) + n; };
const violation = (...a) => { bump('violations'); console.log('VIOLATION', ...a); };

async function getJson(url, headers = {}) {
  const r = await fetch(url, { headers });
  const etag = Number((r.headers.get('etag') || '').replace(/"/g, '')) || 0;
  const body = r.status === 200 ? await r.json() : (await r.arrayBuffer(), null);
  return { status: r.status, etag, body };
}
const MON = `${env.SRV}/buckets/monitor/collections/changes/changeset`;
const cs = (c) => `${env.SRV}/buckets/${B}/collections/${c}/changeset`;
const isSigned = (m) => Array.isArray(m?.metadata?.signatures) && m.metadata.signatures.length > 0;
const entryOf = (m, c) => m.changes.find((e) => e.bucket === B && e.collection === c);

// Writers: one per collection, batches of 25 record PUTs, back to back.
async function writer(c, w) {
  let i = 0;
  const max = Number(env.BATCHES || 1e9);
  while (Date.now() < until && i < max) {
    const requests = [];
    for (let k = 0; k < 25; k++)
      requests.push({ method: 'PUT', path: `/buckets/${B}/collections/${c}/records/r${w}-${i}-${k}`, body: { data: { i, k, pad: 'x'.repeat(200) } } });
    const r = await fetch(`${env.PUB}/batch`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
    const j = await r.json();
    if (r.status !== 200 || j.responses.some((x) => x.status >= 300)) bump('write_errors');
    else bump('records_written', 25);
    i++;
  }
}

async function bracket() {
  while (Date.now() < until) {
    const m1 = await getJson(MON);
    const got = [];
    for (const c of CS) got.push([c, await getJson(cs(c))]);
    const m2 = await getJson(MON);
    bump('brackets');
    if (m1.status !== 200 || m2.status !== 200) { bump('brackets_error'); continue; }
    if (!isSigned(m1.body)) { bump('brackets_unsigned'); continue; }
    if (m1.etag !== m2.etag) { bump('brackets_switched'); continue; }
    bump('brackets_conclusive');
    for (const [c, r] of got) {
      const e = entryOf(m1.body, c);
      if (r.status === 404) {
        if (e) violation(`monitor ${m1.etag} names ${c}@${e.last_modified}, changeset 404`);
        continue;
      }
      if (!e) { violation(`monitor ${m1.etag} does not list ${c}, served at ${r.etag}`); continue; }
      const head = r.body.metadata.signatures[0].head;
      if (r.etag !== e.last_modified || r.body.timestamp !== e.last_modified || head.sha256 !== e.sha256)
        violation(`monitor ${m1.etag} names ${c}@${e.last_modified} ${e.sha256.slice(0, 8)}, changeset ${r.etag} ${head.sha256.slice(0, 8)}`);
      else bump('pairs_consistent');
    }
  }
}

async function longpoll() {
  const c = CS[0];
  let v = (await getJson(cs(c))).etag;
  while (Date.now() < until) {
    const r = await getJson(cs(c), { 'if-none-match': `"${v}"`, prefer: 'wait=3' });
    if (r.status !== 200) { bump('longpoll_304'); continue; }
    bump('longpoll_woken');
    const m = await getJson(MON);
    if (isSigned(m.body)) {
      const e = entryOf(m.body, c);
      if (!e || e.last_modified < r.etag)
        violation(`long-poll woke with ${c}@${r.etag}; the monitor fetched next (${m.etag}) names ${e ? e.last_modified : 'nothing'}`);
    }
    v = r.etag;
  }
}

await Promise.all([...CS.map((c, w) => writer(c, w)), bracket(), longpoll()]);
if (env.DONE_FILE) fs.writeFileSync(env.DONE_FILE, 'done\n');
for (const k of ['records_written', 'write_errors', 'brackets', 'brackets_conclusive', 'brackets_switched', 'brackets_unsigned', 'brackets_error', 'pairs_consistent', 'longpoll_woken', 'longpoll_304', 'violations'])
  console.log('STAT', k, stat[k] || 0);
