// verify_load.js -- writes to one collection through herald-publisher for a while, with
// several concurrent writers, and logs every acknowledged write, so the signer tests can
// reconstruct the collection's exact state at any timestamp (verify_states.js).
//
//   node verify_load.js --url PUBLISHER_V1_URL --auth USER:PASS --bucket B --collection C
//        --log FILE [--seconds S] [--writes N] [--workers W] [--ids K] [--metadata-every M]
//
// Each worker loops: PUT a record with a random id among K (create or replace, a random
// body), or DELETE one (about 1 in 4), or every M-th write PATCH the collection's
// attributes (a metadata change: the signer publishes a new version over the same
// records). Stops after S seconds or N writes in all, whichever comes first.
// Log: one JSON line per acknowledged write, in acknowledgement order:
//   {"op":"put","id","ts","data":{...}} | {"op":"delete","id","ts"} | {"op":"meta","ts"}
// (ts: the last_modified the publisher assigned). A DELETE of an absent record (404) is
// not a write and is not logged. Any other failure stops the run with exit status 1.
'use strict';

function parseArgs(argv) {
    const a = { seconds: 5, writes: Infinity, workers: 4, ids: 40, metadataEvery: 0 };
    for (let i = 0; i < argv.length; i += 2) {
        const k = argv[i], v = argv[i + 1];
        if (k === '--url') a.url = v;
        else if (k === '--auth') a.auth = v;
        else if (k === '--bucket') a.bucket = v;
        else if (k === '--collection') a.collection = v;
        else if (k === '--log') a.log = v;
        else if (k === '--seconds') a.seconds = Number(v);
        else if (k === '--writes') a.writes = Number(v);
        else if (k === '--workers') a.workers = Number(v);
        else if (k === '--ids') a.ids = Number(v);
        else if (k === '--metadata-every') a.metadataEvery = Number(v);
        else throw new Error(`unexpected argument ${k}`);
    }
    if (!a.url || !a.auth || !a.bucket || !a.collection || !a.log)
        throw new Error('--url, --auth, --bucket, --collection and --log are required');
    return a;
}

async function main() {
    const fs = await import('node:fs');
    const a = parseArgs(process.argv.slice(2));
    const headers = {
        Authorization: 'Basic ' + Buffer.from(a.auth).toString('base64'),
        'Content-Type': 'application/json',
    };
    const coll = `${a.url}/buckets/${a.bucket}/collections/${a.collection}`;
    const out = fs.openSync(a.log, 'w');
    const deadline = Date.now() + a.seconds * 1000;
    let count = 0;

    async function call(method, url, body) {
        const res = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
    }

    async function worker(w) {
        let n = 0;
        while (Date.now() < deadline && count < a.writes) {
            count++;
            n++;
            const id = `r${Math.floor(Math.random() * a.ids)}`;
            let line;
            if (a.metadataEvery && count % a.metadataEvery === 0) {
                const r = await call('PATCH', coll, { data: { note: `w${w}-${n}` } });
                if (r.status !== 200) throw new Error(`PATCH collection: ${r.status}`);
                line = { op: 'meta', ts: r.body.data.last_modified };
            } else if (Math.random() < 0.25) {
                const r = await call('DELETE', `${coll}/records/${id}`);
                if (r.status === 404) continue;
                if (r.status !== 200) throw new Error(`DELETE ${id}: ${r.status}`);
                line = { op: 'delete', id, ts: r.body.data.last_modified };
            } else {
                const data = { v: `w${w}-${n}`, x: Math.random(), list: [n, 'ü'] };
                const r = await call('PUT', `${coll}/records/${id}`, { data });
                if (r.status !== 200 && r.status !== 201) throw new Error(`PUT ${id}: ${r.status}`);
                line = { op: 'put', id, ts: r.body.data.last_modified, data: r.body.data };
            }
            fs.writeSync(out, JSON.stringify(line) + '\n');
        }
    }

    const workers = [];
    for (let w = 0; w < a.workers; w++) workers.push(worker(w));
    await Promise.all(workers);
    fs.closeSync(out);
}

main().catch((e) => {
    process.stderr.write(`verify_load: ${e.message}\n`);
    process.exit(1);
});
