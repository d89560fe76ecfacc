// verify_states.js -- checks every snapshot the signer stored against the collection's
// exact state at the snapshot's timestamp, reconstructed from the log of acknowledged
// writes (verify_load.js). This is the "no torn read" proof: a snapshot at version V must
// hold exactly the records whose last write has ts <= V (deleted ones absent, as
// tombstones when within the horizon), nothing newer, nothing older.
//
//   node verify_states.js --writes LOG --snapshots JSONL --bucket B --collection C
//        [--final FILE] [--redis-records FILE] [--min-checked N]
//
// --snapshots: `herald-signer inspect --follow --public-key ...` output (one JSON line
// per announced snapshot). For each line of B/C it checks: "verified" is true; records
// sorted by id; records and tombstones equal the state at its timestamp; timestamps
// never decrease (the fetch may see a newer blob than the one announced, never an older
// one, except while the announced version's blob follows: "blob_follows"); expires after the version. --final: `herald-signer inspect` output after the run:
// its state must be the state after the last write. --redis-records: the HVALS of the
// records hash, one JSON record a line: must equal the final snapshot's records.
// Prints a summary; exits 1 on the first mismatch with the details.
'use strict';

function parseArgs(argv) {
    const a = { minChecked: 1 };
    for (let i = 0; i < argv.length; i += 2) {
        const k = argv[i], v = argv[i + 1];
        if (k === '--writes') a.writes = v;
        else if (k === '--snapshots') a.snapshots = v;
        else if (k === '--bucket') a.bucket = v;
        else if (k === '--collection') a.collection = v;
        else if (k === '--final') a.final = v;
        else if (k === '--redis-records') a.redisRecords = v;
        else if (k === '--min-checked') a.minChecked = Number(v);
        else throw new Error(`unexpected argument ${k}`);
    }
    if (!a.writes || !a.snapshots || !a.bucket || !a.collection)
        throw new Error('--writes, --snapshots, --bucket and --collection are required');
    return a;
}

// JSON with sorted keys: compares values, not their spelling.
function stable(v) {
    if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
    if (v && typeof v === 'object')
        return `{${Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stable(v[k])).join(',')}}`;
    return JSON.stringify(v);
}

function lines(fs, path) {
    return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

async function main() {
    const fs = await import('node:fs');
    const a = parseArgs(process.argv.slice(2));
    const writes = lines(fs, a.writes).filter((w) => w.op !== 'meta').sort((x, y) => x.ts - y.ts);
    for (let i = 1; i < writes.length; i++)
        if (writes[i].ts === writes[i - 1].ts)
            throw new Error(`two writes with timestamp ${writes[i].ts}: timestamps must be unique`);

    // State at V: replay the writes with ts <= V.
    function stateAt(V) {
        const live = new Map(), tombs = new Map();
        for (const w of writes) {
            if (w.ts > V) break;
            if (w.op === 'put') { live.set(w.id, w.data); tombs.delete(w.id); }
            else { live.delete(w.id); tombs.set(w.id, w.ts); }
        }
        return { live, tombs };
    }
    function compare(snap, what) {
        const V = snap.timestamp;
        const { live, tombs } = stateAt(V);
        const ids = snap.records.map((r) => r.id);
        for (let i = 1; i < ids.length; i++)
            if (Buffer.compare(Buffer.from(ids[i - 1]), Buffer.from(ids[i])) >= 0)
                throw new Error(`${what} V=${V}: records not sorted by id at ${ids[i]}`);
        const want = [...live.keys()].sort();
        if (stable(ids.slice().sort()) !== stable(want))
            throw new Error(`${what} V=${V}: ids ${stable(ids.slice().sort())} but the state at V has ${stable(want)}`);
        for (const r of snap.records)
            if (stable(r) !== stable(live.get(r.id)))
                throw new Error(`${what} V=${V}: record ${r.id} is ${stable(r)}, state at V has ${stable(live.get(r.id))}`);
        for (const t of snap.tombstones || [])
            if (tombs.get(t.id) !== t.last_modified)
                throw new Error(`${what} V=${V}: tombstone ${t.id}@${t.last_modified} not in the state at V`);
    }

    const snaps = lines(fs, a.snapshots).filter((s) => s.bucket === a.bucket && s.collection === a.collection);
    let last = 0, checked = 0;
    const versions = new Set();
    for (const s of snaps) {
        if (s.removed) throw new Error('the collection was removed during the run');
        if (s.verified !== true) throw new Error(`snapshot V=${s.timestamp} does not verify: ${s.verified}`);
        if (s.timestamp < last) throw new Error(`snapshot V=${s.timestamp} after V=${last}: went backwards`);
        // Older than announced only while the announced version's blob follows (the
        // signer stores and announces a version with deltas first, docs/incremental.md;
        // inspect read herald:snap:pending with the blob, atomically).
        if (s.announced !== undefined && s.timestamp < s.announced && s.blob_follows !== true)
            throw new Error(`fetched V=${s.timestamp} older than the announced ${s.announced}`);
        if (!(s.expires > s.timestamp)) throw new Error(`snapshot V=${s.timestamp} expires at ${s.expires}`);
        compare(s, 'snapshot');
        last = s.timestamp;
        checked++;
        versions.add(s.timestamp);
    }
    if (checked < a.minChecked) throw new Error(`only ${checked} snapshots checked (want >= ${a.minChecked})`);

    let final = '';
    if (a.final) {
        const f = lines(fs, a.final).find((s) => s.bucket === a.bucket && s.collection === a.collection);
        if (!f) throw new Error('no final snapshot');
        if (f.verified !== true) throw new Error(`final snapshot does not verify: ${f.verified}`);
        const lastWrite = writes.length ? writes[writes.length - 1].ts : 0;
        if (f.timestamp < lastWrite) throw new Error(`final V=${f.timestamp} is older than the last write ${lastWrite}`);
        compare(f, 'final snapshot');
        final = ` final V=${f.timestamp} with ${f.records.length} records covers all ${writes.length} writes;`;
        if (a.redisRecords) {
            const redis = lines(fs, a.redisRecords).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id));
            if (stable(redis) !== stable(f.records))
                throw new Error('final snapshot records differ from the records in Redis');
            final += ' equals Redis;';
        }
    }
    process.stdout.write(`OK ${checked} snapshots (${versions.size} versions) checked against the state at their timestamp;${final}\n`);
}

main().catch((e) => {
    process.stderr.write(`FAIL ${e.message}\n`);
    process.exit(1);
});
