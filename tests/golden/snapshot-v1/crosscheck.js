// Independent re-derivation of the snapshot-v1 golden files with Node built-ins only
// (no Herald code): JCS via JSON.stringify (ECMAScript number and string forms are what
// RFC 8785 specifies) with keys sorted by UTF-16 code units (Array.prototype.sort's
// default order), SHA-256 and Ed25519 from node:crypto.
//   node tests/golden/snapshot-v1/crosscheck.js   -> prints "golden files OK" or throws
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const dir = __dirname;
const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');

function jcs(v) {
  if (Array.isArray(v)) return '[' + v.map(jcs).join(',') + ']';
  if (v !== null && typeof v === 'object')
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + jcs(v[k])).join(',') + '}';
  return JSON.stringify(v);
}
function eq(name, got, want) {
  if (got !== want) throw new Error(`${name} mismatch:\n got  ${got}\n want ${want}`);
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a.id, 'utf8'), Buffer.from(b.id, 'utf8'));
const records = JSON.parse(read('records.json')).sort(byteOrder);
const recordsJson = jcs(records);
eq('records_jcs.json', recordsJson, read('records_jcs.json'));

const sha = crypto.createHash('sha256').update(recordsJson, 'utf8').digest('hex');
eq('sha256.txt', sha, read('sha256.txt'));

const head = { bucket: 'main', collection: 'certs', timestamp: 1700000000003,
               expires: 1700172800003, records: records.length, sha256: sha };
eq('head.json', jcs(head), read('head.json'));

const message = Buffer.concat([Buffer.from('herald-snapshot-v1\0', 'latin1'), Buffer.from(jcs(head), 'utf8')]);
eq('message.hex', message.toString('hex'), read('message.hex'));

const seed = Buffer.from(read('seed.hex'), 'hex');
const key = crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
  format: 'der', type: 'pkcs8' });
const pub = crypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
eq('public_key.txt', pub.toString('base64url'), read('public_key.txt'));
eq('key_id.txt', crypto.createHash('sha256').update(pub).digest('hex').slice(0, 16), read('key_id.txt'));

const sig = crypto.sign(null, message, key);
eq('signature.txt', sig.toString('base64url'), read('signature.txt'));
if (!crypto.verify(null, message, crypto.createPublicKey(key), Buffer.from(read('signature.txt'), 'base64url')))
  throw new Error('signature does not verify');
console.log('golden files OK');
