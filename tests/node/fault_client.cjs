// Writer and poller for tests/integration/test_faults.sh.
//
//   node fault_client.cjs --publisher URL --auth user:pass --servers URL[,URL] \
//        --bucket B --collection C --public-key KEY --ops N --out RESULT.json
//        [--progress FILE]   (the number of acknowledged operations, rewritten after each)
//
// The writer performs N operations one after the other on the collection: a PUT of a new
// record, and after every fourth PUT a DELETE of an earlier one. Each operation is
// retried until it is acknowledged (a 2xx answer; for a DELETE retried after a lost
// answer, a 404 means the earlier attempt landed), so the expected final state is known
// exactly: what the last acknowledged operation on each id says.
//
// The poller, meanwhile, keeps fetching the changeset from the read servers in turn, as
// a client would: with _since from its last verified state, merged, then verified with
// an implementation Herald did not write (Node's Ed25519 and the npm package
// `canonicalize`, RFC 8785). Any served changeset that fails verification, or a version
// older than one already verified from the same server, is a failure. Unavailability
// (connection refused, 404 before the first load, 503) is counted, not failed: servers
// are being killed on purpose.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const canonicalize = require('canonicalize');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const servers = args.servers.split(',');
const ops = Number(args.ops);
const auth = 'Basic ' + Buffer.from(args.auth).toString('base64');
const pubRaw = Buffer.from(args['public-key'], 'base64url');
const pubKey = crypto.createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pubRaw]), format: 'der', type: 'spki' });
const keyId = crypto.createHash('sha256').update(pubRaw).digest('hex').slice(0, 16);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function request(method, url, body) {
  const init = { method, headers: { Authorization: auth }, signal: AbortSignal.timeout(10000) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
}

// ---- writer ----
const expected = {}; // id -> data object (without last_modified) or null when deleted
const stats = { acknowledged: 0, retries: 0, deletes: 0, puts: 0 };
async function writer() {
  const base = `${args.publisher}/buckets/${args.bucket}/collections/${args.collection}/records/`;
  let created = 0;
  for (let i = 0; i < ops; i++) {
    let method, id, body;
    if (i % 5 === 4 && created > 2) {
      method = 'DELETE';
      id = `rec-${created - 3}`;
    } else {
      method = 'PUT';
      id = `rec-${created++}`;
      body = { data: { n: i, label: `op ${i} — ✓`, payload: 'x'.repeat(i % 50) } };
    }
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        stats.retries++;
        await sleep(Math.min(50 * attempt, 500));
      }
      if (attempt > 600) throw new Error(`op ${i} never acknowledged`);
      let r;
      try {
        r = await request(method, base + id, body);
      } catch (e) {
        continue; // publisher down: not acknowledged, retry
      }
      const ok = (r.status >= 200 && r.status < 300) || (method === 'DELETE' && r.status === 404 && attempt > 0);
      if (!ok) {
        if (r.status >= 500 || r.status === 401) continue;
        throw new Error(`op ${i} ${method} ${id}: unexpected ${r.status} ${r.text}`);
      }
      stats.acknowledged++;
      if (args.progress) fs.writeFileSync(args.progress, String(stats.acknowledged));
      if (method === 'PUT') {
        stats.puts++;
        expected[id] = body.data;
      } else {
        stats.deletes++;
        expected[id] = null;
      }
      break;
    }
  }
}

// ---- poller (a client) ----
function verify(state, cs, server) {
  // state: {timestamp, records: Map id -> record} or null for a full fetch.
  const records = new Map(state ? state.records : []);
  for (const ch of cs.changes) {
    if (ch.deleted) records.delete(ch.id);
    else records.set(ch.id, ch);
  }
  const sorted = [...records.values()].sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  const recordsJson = canonicalize(sorted);
  const sigs = (cs.metadata && cs.metadata.signatures) || [];
  const entry = sigs.find((s) => s.key_id === keyId);
  if (!entry) throw new Error('no signature for the pinned key');
  const h = entry.head;
  const want = {
    bucket: args.bucket, collection: args.collection, timestamp: cs.timestamp, records: sorted.length,
    sha256: crypto.createHash('sha256').update(recordsJson, 'utf8').digest('hex'),
  };
  for (const k of Object.keys(want))
    if (h[k] !== want[k]) throw new Error(`head.${k} is ${h[k]}, expected ${want[k]}`);
  if (!(h.expires > Date.now())) throw new Error('signature expired');
  if (state && cs.timestamp < state.timestamp) throw new Error(`version went back from ${state.timestamp} to ${cs.timestamp}`);
  const message = Buffer.concat([Buffer.from('herald-snapshot-v1\0', 'latin1'), Buffer.from(canonicalize(h), 'utf8')]);
  if (!crypto.verify(null, message, pubKey, Buffer.from(entry.signature, 'base64url')))
    throw new Error('bad signature');
  return { timestamp: cs.timestamp, records };
}

const poll = { fetches: 0, verified: 0, deltas: 0, unavailable: 0, failures: [], highest: {} };
let writing = true;
async function poller() {
  const states = {};
  for (let i = 0; writing || i % servers.length !== 0; i++) {
    const server = servers[i % servers.length];
    const st = states[server] || null;
    const url = `${server}/buckets/${args.bucket}/collections/${args.collection}/changeset` +
      (st ? `?_since=${st.timestamp}` : '');
    let res, text;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      text = await res.text();
    } catch (e) {
      poll.unavailable++;
      await sleep(20);
      continue;
    }
    poll.fetches++;
    if (res.status !== 200) {
      poll.unavailable++;
      await sleep(20);
      continue;
    }
    try {
      const cs = JSON.parse(text);
      if (String(cs.timestamp) !== res.headers.get('etag').replace(/"/g, ''))
        throw new Error(`ETag ${res.headers.get('etag')} differs from timestamp ${cs.timestamp}`);
      states[server] = verify(st, cs, server);
      poll.verified++;
      if (st) poll.deltas++;
      poll.highest[server] = states[server].timestamp;
    } catch (e) {
      poll.failures.push(`${url}: ${e.message}`);
      states[server] = null; // refetch the full changeset next time
    }
    await sleep(5);
  }
}

(async () => {
  const p = poller();
  try {
    await writer();
  } finally {
    writing = false;
  }
  await p;
  fs.writeFileSync(args.out, JSON.stringify({ stats, poll, expected }, null, 1));
  console.log(`writer: ${stats.acknowledged} acknowledged (${stats.puts} PUT, ${stats.deletes} DELETE), ${stats.retries} retries; ` +
    `poller: ${poll.verified} verified (${poll.deltas} deltas), ${poll.unavailable} unavailable, ${poll.failures.length} failures`);
})().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
