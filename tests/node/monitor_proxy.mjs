// An attacker between a client and a real read server, for the signed monitor tests
// (tests/integration/test_client_monitor.sh): a real process on a real socket that
// forwards each GET upstream and, depending on the mode read from MODE_FILE at each
// request, alters what the client gets. Every request's path goes to LOG_FILE.
//
// usage: node monitor_proxy.mjs PORT UPSTREAM_BASE MODE_FILE LOG_FILE
// Modes (the file's first word, then an argument):
//   pass               forward everything (and remember the first monitor and the first
//                      full changeset of each collection)
//   freeze             serve the first monitor it forwarded instead of the current one
//                      (a frozen or rolled-back index: expired, or older than verified)
//   drop_entry B/C     remove the entry of B/C from the monitor (signature kept)
//   forge KEYFILE      re-sign the monitor with the key in KEYFILE (an Ed25519 seed,
//                      base64url, as keygen writes it): a fresh expiry, but by a key the
//                      client does not pin
//   replay_collection  serve each collection's first full changeset (an older, validly
//                      signed version) whatever version is asked for
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { canonicalize } from '../../clients/js/src/jcs.js';

const [port, upstream, modeFile, logFile] = process.argv.slice(2);
let firstMonitor = null;
const firstFull = new Map();

function mode() {
  try { return fs.readFileSync(modeFile, 'utf8').trim().split(/\s+/); } catch { return ['pass']; }
}

function fetchUpstream(path) {
  return new Promise((resolve, reject) => {
    http.get(upstream + path, { headers: { 'accept-encoding': 'identity' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function forge(body, keyFile) {
  const seed = Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64url');
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12);
  const cs = JSON.parse(body);
  const head = { ...cs.metadata.signatures[0].head, expires: Date.now() + 86400e3 };
  const msg = Buffer.concat([Buffer.from('herald-monitor-v1'), Buffer.from([0]), Buffer.from(canonicalize(head))]);
  const e = { mode: 'ed25519', key_id: crypto.createHash('sha256').update(pub).digest('hex').slice(0, 16), signature: crypto.sign(null, msg, priv).toString('base64url'), head };
  cs.metadata.signatures = [e];
  cs.metadata.signature = e;
  return Buffer.from(JSON.stringify(cs));
}

http.createServer(async (req, res) => {
  fs.appendFileSync(logFile, req.url + '\n');
  const [m, arg] = mode();
  const isMonitor = /\/buckets\/monitor\/collections\/changes\/changeset/.test(req.url);
  const isCollection = !isMonitor && /\/collections\/[^/]+\/changeset/.test(req.url);
  let up;
  try { up = await fetchUpstream(req.url.replace(/^\/v1/, '')); } catch (e) { res.writeHead(502); return res.end(); }
  let body = up.body;
  let status = up.status;
  const headers = { 'content-type': up.headers['content-type'] || 'application/json' };
  if (up.headers.etag) headers.etag = up.headers.etag;
  if (isMonitor && up.status === 200) {
    if (!firstMonitor) firstMonitor = body;
    if (m === 'freeze') {
      body = firstMonitor;
      headers.etag = `"${JSON.parse(body).timestamp}"`;
    } else if (m === 'drop_entry') {
      const cs = JSON.parse(body);
      cs.changes = cs.changes.filter((c) => `${c.bucket}/${c.collection}` !== arg);
      body = Buffer.from(JSON.stringify(cs));
    } else if (m === 'forge') {
      body = forge(body, arg);
    }
  }
  if (isCollection && up.status === 200) {
    const key = req.url.split('?')[0];
    if (!/_since=/.test(req.url) && !firstFull.has(key)) firstFull.set(key, body);
    if (m === 'replay_collection' && firstFull.has(key)) {
      body = firstFull.get(key);
      headers.etag = `"${JSON.parse(body).timestamp}"`;
      status = 200;
    }
  }
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}).listen(Number(port), '127.0.0.1');
