// Verifies a served, unfiltered monitor/changes changeset (read from stdin) as
// docs/signature-format.md ("Signed monitor") specifies, written from that text alone
// with Node's crypto, so it cross-checks the C signer and server.
//   node verify_monitor.mjs PUBLIC_KEY [MIN_M] [NOW_MS]
// Prints "OK <M>" and exits 0, or "FAIL <reason>" and exits 1.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { canonicalize } from '../../clients/js/src/jcs.js';

const [pub, minArg, nowArg] = process.argv.slice(2);
const fail = (why) => { console.log(`FAIL ${why}`); process.exit(1); };
let cs;
try { cs = JSON.parse(fs.readFileSync(0, 'utf8')); } catch (e) { fail(`not JSON: ${e.message}`); }
const raw = Buffer.from(pub, 'base64url');
const keyId = crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
const key = crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
const sigs = cs?.metadata?.signatures;
if (!Array.isArray(sigs)) fail('no metadata.signatures');
const e = sigs.find((s) => s.key_id === keyId);
if (!e) fail('no signature by the pinned key');
if (e.mode !== 'ed25519') fail('mode');
const h = e.head;
if (!h || Object.keys(h).length !== 5 || h.kind !== 'monitor') fail('head shape');
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const entries = cs.changes.map((c) => ({ bucket: c.bucket, collection: c.collection, last_modified: c.last_modified, sha256: c.sha256 }))
  .sort((a, b) => cmp(a.bucket, b.bucket) || cmp(a.collection, b.collection));
const sha = crypto.createHash('sha256').update(canonicalize(entries)).digest('hex');
if (sha !== h.sha256 || h.collections !== entries.length) fail('entries do not match head');
if (h.timestamp !== cs.timestamp) fail('timestamp');
const msg = Buffer.concat([Buffer.from('herald-monitor-v1'), Buffer.from([0]), Buffer.from(canonicalize(h))]);
if (!crypto.verify(null, msg, key, Buffer.from(e.signature, 'base64url'))) fail('bad signature');
const now = nowArg ? Number(nowArg) : Date.now();
if (!(h.expires > now)) fail('expired');
if (minArg && h.timestamp < Number(minArg)) fail('rollback');
console.log(`OK ${h.timestamp}`);
