// verify_snapshot.js -- a Herald client written from docs/signature-format.md alone, with
// code Herald did not write: Node's built-in Ed25519 (crypto.verify) and the npm package
// `canonicalize` (RFC 8785). tests/integration/test_signer_node_crosscheck.sh runs it
// against what herald-server serves; if Herald's canonical JSON, hashing, head or
// signature ever drift from the documented contract, this fails.
//
//   node verify_snapshot.js --url CHANGESET_URL --public-key KEY [--public-key KEY ...]
//        [--state FILE] [--changeset-file FILE] [--now-ms N]
//
// Without --state: fetch (or read from --changeset-file) the full changeset and verify it.
// With --state FILE holding a previously verified state: fetch CHANGESET_URL?_since=<its
// timestamp>, merge the delta into it and verify the result; on any failure refetch the
// full changeset once (as a client does); save the new state on success.
// Prints "OK bucket=B collection=C timestamp=V records=N key_id=K mode=full|delta" or
// "FAIL reason" (exit status 1).
//
// Written to run whether package.json says "type": "module" or not: no import/require
// statements, only dynamic import().
'use strict';

const PREFIX = 'herald-snapshot-v1';
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function parseArgs(argv) {
    const a = { keys: [], url: null, state: null, file: null, nowMs: Date.now() };
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i + 1];
        switch (argv[i]) {
        case '--url': a.url = v; i++; break;
        case '--public-key': a.keys.push(v); i++; break;
        case '--state': a.state = v; i++; break;
        case '--changeset-file': a.file = v; i++; break;
        case '--now-ms': a.nowMs = Number(v); i++; break;
        default: throw new Error(`unexpected argument ${argv[i]}`);
        }
    }
    if (!a.url || a.keys.length === 0) throw new Error('--url and --public-key are required');
    return a;
}

function b64urlDecode(s) {
    if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url');
    return Buffer.from(s, 'base64url');
}

async function main() {
    const crypto = await import('node:crypto');
    const fs = await import('node:fs');
    let canonicalize;
    try {
        const m = await import('canonicalize');
        canonicalize = m.default || m;
    } catch (e) {
        // Lets a developer run this with the package installed elsewhere.
        const where = process.env.HERALD_CANONICALIZE_PATH;
        if (!where) throw new Error('npm package canonicalize not installed (cd tests/node && npm install)');
        const url = await import('node:url');
        const m = await import(url.pathToFileURL(where).href);
        canonicalize = m.default || m;
    }

    const args = parseArgs(process.argv.slice(2));
    const m = /\/buckets\/([^/]+)\/collections\/([^/?#]+)\/changeset(?:[?#].*)?$/.exec(args.url);
    if (!m) throw new Error('--url must end in /buckets/B/collections/C/changeset');
    const [bucket, collection] = [m[1], m[2]];

    // Pinned keys: raw 32-byte Ed25519 keys, base64url; key_id = hex(SHA-256(pk)[0..8]).
    const pinned = args.keys.map((k) => {
        const raw = b64urlDecode(k);
        if (raw.length !== 32) throw new Error(`public key ${k} is not 32 bytes`);
        return {
            keyId: crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16),
            key: crypto.createPublicKey({
                key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
                format: 'der',
                type: 'spki',
            }),
        };
    });

    async function fetchJson(url) {
        if (args.file) return JSON.parse(fs.readFileSync(args.file, 'utf8'));
        const res = await fetch(url);
        if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
        return JSON.parse(await res.text());
    }

    function byteCompare(x, y) {
        return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
    }

    // Returns the verified state {bucket, collection, timestamp, records} or throws.
    function verify(cs, prev) {
        if (!cs || typeof cs !== 'object' || !cs.metadata || !Array.isArray(cs.changes))
            throw new Error('not a changeset');
        const sigs = cs.metadata.signatures;
        if (!Array.isArray(sigs) || sigs.length === 0) throw new Error('no metadata.signatures');
        if (JSON.stringify(cs.metadata.signature) !== JSON.stringify(sigs[0]))
            throw new Error('metadata.signature is not signatures[0]');
        const V = cs.timestamp;
        if (!Number.isSafeInteger(V)) throw new Error('timestamp is not an integer');

        // 1. The state: the saved records, then each change (a tombstone removes).
        const byId = new Map();
        if (prev) {
            if (V < prev.timestamp) throw new Error(`timestamp ${V} older than the saved ${prev.timestamp}`);
            for (const r of prev.records) byId.set(r.id, r);
        }
        const seen = new Set();
        for (const c of cs.changes) {
            if (typeof c.id !== 'string') throw new Error('change without an id');
            if (seen.has(c.id)) throw new Error(`id ${c.id} twice in one changeset`);
            seen.add(c.id);
            if (c.deleted === true) byId.delete(c.id);
            else byId.set(c.id, c);
        }
        // 2. Sorted by id (byte order), canonical JSON, SHA-256.
        const records = [...byId.values()].sort((x, y) => byteCompare(x.id, y.id));
        const recordsJson = canonicalize(records);
        const sha256 = crypto.createHash('sha256').update(recordsJson, 'utf8').digest('hex');

        // 3. The entry of the first pinned key that has one.
        let entry = null, pin = null;
        for (const p of pinned) {
            entry = sigs.find((s) => s && s.key_id === p.keyId);
            if (entry) { pin = p; break; }
        }
        if (!entry) throw new Error('no signature by a pinned key');
        if (entry.mode !== 'ed25519') throw new Error('mode is not ed25519');

        // 4. The head.
        const h = entry.head;
        const keys = Object.keys(h || {}).sort().join(',');
        if (keys !== 'bucket,collection,expires,records,sha256,timestamp')
            throw new Error(`head has keys ${keys}`);
        if (h.bucket !== bucket) throw new Error('head.bucket is not the requested bucket');
        if (h.collection !== collection) throw new Error('head.collection is not the requested collection');
        if (h.timestamp !== V) throw new Error(`head.timestamp ${h.timestamp} is not the served ${V}`);
        if (h.records !== records.length) throw new Error(`head.records ${h.records} but ${records.length} records`);
        if (h.sha256 !== sha256) throw new Error('head.sha256 does not match the records');
        if (!(h.expires > args.nowMs)) throw new Error(`expired at ${h.expires}`);

        // 5. The message, rebuilt from the head's values, and the signature.
        const head = {
            bucket: h.bucket, collection: h.collection, timestamp: h.timestamp,
            expires: h.expires, records: h.records, sha256: h.sha256,
        };
        const message = Buffer.concat([Buffer.from(PREFIX, 'ascii'), Buffer.from([0]),
                                       Buffer.from(canonicalize(head), 'utf8')]);
        const sig = b64urlDecode(entry.signature);
        if (sig.length !== 64 || !crypto.verify(null, message, pin.key, sig))
            throw new Error(`bad signature (key_id ${pin.keyId})`);
        return { state: { bucket, collection, timestamp: V, records }, keyId: pin.keyId };
    }

    let prev = null;
    if (args.state && fs.existsSync(args.state)) prev = JSON.parse(fs.readFileSync(args.state, 'utf8'));
    let result, mode;
    if (prev) {
        try {
            const sep = args.url.includes('?') ? '&' : '?';
            result = verify(await fetchJson(`${args.url}${sep}_since=${prev.timestamp}`), prev);
            mode = 'delta';
        } catch (e) {
            process.stderr.write(`delta failed (${e.message}): refetching the full changeset\n`);
            const full = verify(await fetchJson(args.url), null);
            if (full.state.timestamp < prev.timestamp) throw new Error('full changeset older than the saved state');
            result = full;
            mode = 'full';
        }
    } else {
        result = verify(await fetchJson(args.url), null);
        mode = 'full';
    }
    if (args.state) {
        fs.writeFileSync(`${args.state}.tmp`, JSON.stringify(result.state));
        fs.renameSync(`${args.state}.tmp`, args.state);
    }
    const s = result.state;
    process.stdout.write(`OK bucket=${s.bucket} collection=${s.collection} timestamp=${s.timestamp} ` +
                         `records=${s.records.length} key_id=${result.keyId} mode=${mode}\n`);
}

main().catch((e) => {
    process.stderr.write(`FAIL ${e.message}\n`);
    process.exit(1);
});
