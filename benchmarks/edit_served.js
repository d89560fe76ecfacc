// edit_served.js -- edit -> served latency through the real pipeline (issue 13), driven by
// benchmarks/bench_edit_served.sh.
//
//   node edit_served.js PUB_URL SRV_URL USER:PASS BUCKET COLL MODE ARG [RECORDS]
//   RECORDS: the imported collection's size: each edit updates one of its records (r0 ..
//   rRECORDS-1) picked at random, so that the changed record lies anywhere in the id
//   order (the signer rehashes records_json from the first changed record on); without
//   it, every edit writes the record 'urgent', whose id sorts after the imported ones
//   MODE load N          PUTs N records (as import) and returns: nothing is waited for
//   MODE import N        PUTs N records (batches of 25, 4 in flight), then waits until
//                        the read server serves them
//   MODE edits K         K edits one at a time: PUT a record (keep-alive, Nagle off),
//                        then HEAD the read server's changeset until its ETag reaches the
//                        record's last_modified; prints p50/p99/max in ms
//   MODE during N        starts importing N more records and, while the import is
//                        published, edits one at a time until the import is done, then
//                        one more edit (the first after the import); prints the same
//   MODE burst K         K edits spread over one second, then measures from the last
//                        edit's acknowledgement to the read server serving it
'use strict';
const http = require('http');

const [pubUrl, srvUrl, auth, bid, cid, mode, arg, records] = process.argv.slice(2);
const editId = () => (records ? `r${Math.floor(Math.random() * Number(records))}` : 'urgent');
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const auth64 = 'Basic ' + Buffer.from(auth).toString('base64');
const recs = `/v1/buckets/${bid}/collections/${cid}/records`;

function req(base, method, path, body, headers = {}) {
    return new Promise((resolve, reject) => {
        const u = new URL(base + path);
        const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent,
            headers: Object.assign({ 'Content-Type': 'application/json' }, headers) }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        });
        r.on('socket', (s) => s.setNoDelay(true));
        r.on('error', reject);
        if (body) r.write(body);
        r.end();
    });
}
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function put(id, payload) {
    const res = await req(pubUrl, 'PUT', `${recs}/${id}`, JSON.stringify({ data: payload }), { Authorization: auth64 });
    if (res.status >= 300) throw new Error(`PUT ${id}: ${res.status} ${res.body}`);
    return JSON.parse(res.body).data.last_modified;
}

async function servedAt(lm, deadlineMs = 60000) {
    const t0 = now();
    for (;;) {
        const res = await req(srvUrl, 'HEAD', `/v1/buckets/${bid}/collections/${cid}/changeset`);
        const etag = Number(String(res.headers.etag || '"0"').replace(/"/g, ''));
        if (etag >= lm) return;
        if (now() - t0 > deadlineMs) throw new Error(`version ${lm} not served after ${deadlineMs} ms`);
        await sleep(1);
    }
}

async function importRecords(n, prefix) {
    let next = 0;
    async function lane() {
        while (next < n) {
            const reqs = [];
            for (let i = 0; i < 25 && next < n; i++, next++)
                reqs.push({ method: 'PUT', path: `${recs}/${prefix}${next}`, body: { data: { n: next, text: 'x'.repeat(120) } } });
            const res = await req(pubUrl, 'POST', '/v1/batch', JSON.stringify({ requests: reqs }), { Authorization: auth64 });
            if (res.status !== 200) throw new Error(`batch: ${res.status} ${res.body}`);
        }
    }
    await Promise.all([lane(), lane(), lane(), lane()]);
}

let seq = 0;
// BENCH_TRACE=1: one line per edit on stderr (wall clock at the PUT, version, ack and
// served times), to line up with the signer's and the read server's logs.
const trace = process.env.BENCH_TRACE === '1';
async function oneEdit() {
    const t0 = now(), wall = Date.now();
    const lm = await put(editId(), { n: -1, revoked: seq++, text: 'x'.repeat(120) });
    const tAck = now();
    await servedAt(lm);
    const t = now() - t0;
    if (trace) console.error(`edit wall=${wall} version=${lm} ack=${(tAck - t0).toFixed(1)} served=${t.toFixed(1)} ms`);
    acks.push(tAck - t0);
    afterAck.push(t - (tAck - t0));
    return t;
}
// The two parts of each edit's time: the publisher's acknowledgement, then the pipeline
// (signer, Redis, read server) until served.
const acks = [], afterAck = [];

function pct(v) {
    v = [...v].sort((a, b) => a - b);
    const q = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)].toFixed(1);
    return [q(0.5), q(0.99), v[v.length - 1].toFixed(1)];
}
function report(label, v) {
    const [p50, p99, max] = pct(v);
    console.log(JSON.stringify({ label, n: v.length, p50, p99, max, ack: pct(acks), after_ack: pct(afterAck) }));
}

(async () => {
    const n = Number(arg);
    if (mode === 'load') {
        await importRecords(n, 'r'); // no read server: bench_signer_coldstart.sh
    } else if (mode === 'import') {
        await importRecords(n, 'r');
        // Not timed: wait until the import is served, so the next phase starts idle.
        await servedAt(await put('settled', { n }), 600000);
    } else if (mode === 'edits') {
        const v = [];
        for (let i = 0; i < n; i++) v.push(await oneEdit());
        report('edits', v);
    } else if (mode === 'during') {
        let done = false;
        const imp = importRecords(n, `b${Date.now()}-`).then(() => { done = true; });
        const v = [];
        while (!done) v.push(await oneEdit());
        await imp;
        v.push(await oneEdit()); // the first edit after the import
        report('during import', v);
    } else if (mode === 'burst') {
        let lm = 0, tLast = 0;
        for (let i = 0; i < n; i++) {
            lm = await put('burst', { i });
            tLast = now();
            await sleep(Math.max(0, 1000 / n - 1));
        }
        await servedAt(lm);
        console.log(JSON.stringify({ label: 'burst', n, served_after_last_ms: (now() - tLast).toFixed(1) }));
    }
    agent.destroy();
})().catch((e) => { console.error(e.message); process.exit(1); });
