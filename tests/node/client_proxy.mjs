// A misbehaving HTTP proxy, or an attacker, in front of a real read server, for the client
// tests (tests/integration/test_client_*.sh): a real process on a real socket that
// forwards each GET upstream and, depending on the mode read from MODE_FILE at each
// request, alters what the client gets. Every request's path goes to LOG_FILE, one line
// each.
//
// usage: node client_proxy.mjs PORT UPSTREAM_BASE MODE_FILE LOG_FILE [ATTACHMENTS_BASE_URL]
// With ATTACHMENTS_BASE_URL, GET /v1/ also advertises capabilities.attachments.base_url
// (what a server with attachments does, issue 12), so the client's downloads can be
// tested against a plain file server before the read server serves attachments itself.
// Modes (the file's first word, then an argument):
//   pass               forward everything (and remember the first monitor and the first
//                      full changeset of each collection)
//   tamper             changes one field of the first record of every collection changeset
//   tamper_once        as tamper, for the next collection changeset only (then pass)
//   replay             serves, for a collection changeset, the first full one it forwarded
//   replay_collection  as replay, with that changeset's own ETag (an older, validly
//                      signed version whatever version is asked for)
//   truncate           cuts collection changeset bodies in half
//   stall              never answers collection changesets
//   backoff N          forwards, adding "Backoff: N" to every response
//   retry_after N      answers every request 503 with "Retry-After: N"
//   status500          answers every request 500
// and for the signed monitor (forwarded untouched in every other mode):
//   freeze             serve the first monitor it forwarded instead of the current one
//                      (a frozen or rolled-back index: expired, or older than verified)
//   drop_entry B/C     remove the entry of B/C from the monitor (signature kept)
//   forge KEYFILE      re-sign the monitor with the key in KEYFILE (an Ed25519 seed,
//                      base64url, as keygen writes it): a fresh expiry, but by a key the
//                      client does not pin
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { canonicalize } from '../../clients/js/src/jcs.js';

const [port, upstream, modeFile, logFile, attachBase] = process.argv.slice(2);
const firstFull = new Map();
let firstMonitor = null;

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

function alterMonitor(m, arg, body, headers) {
  if (!firstMonitor) firstMonitor = body;
  if (m === 'freeze') {
    headers.etag = `"${JSON.parse(firstMonitor).timestamp}"`;
    return firstMonitor;
  }
  if (m === 'drop_entry') {
    const cs = JSON.parse(body);
    cs.changes = cs.changes.filter((c) => `${c.bucket}/${c.collection}` !== arg);
    return Buffer.from(JSON.stringify(cs));
  }
  if (m === 'forge') return forge(body, arg);
  return body;
}

function alterCollection(m, url, body, headers) {
  const key = url.split('?')[0];
  if (!/_since=/.test(url) && !firstFull.has(key)) firstFull.set(key, body);
  if (m === 'tamper' || m === 'tamper_once') {
    const cs = JSON.parse(body);
    if (cs.changes.length > 0) cs.changes[0].tampered = true;
    else cs.changes.push({ id: 'injected', last_modified: cs.timestamp });
    if (m === 'tamper_once') fs.writeFileSync(modeFile, 'pass\n');
    return Buffer.from(JSON.stringify(cs));
  }
  if ((m === 'replay' || m === 'replay_collection') && firstFull.has(key)) {
    const first = firstFull.get(key);
    if (m === 'replay_collection') headers.etag = `"${JSON.parse(first).timestamp}"`;
    return first;
  }
  if (m === 'truncate') return body.subarray(0, body.length >> 1);
  return body;
}

http.createServer(async (req, res) => {
  fs.appendFileSync(logFile, req.url + '\n');
  const [m, arg] = mode();
  const isMonitor = /\/buckets\/monitor\/collections\/changes\/changeset/.test(req.url);
  const isCollection = !isMonitor && /\/collections\/[^/]+\/changeset/.test(req.url);
  const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Backoff, Retry-After' };
  if (m === 'retry_after') { res.writeHead(503, { 'Retry-After': arg, 'Content-Type': 'application/json', ...cors }); return res.end('{}'); }
  if (m === 'status500') { res.writeHead(500, { 'Content-Type': 'application/json', ...cors }); return res.end('{}'); }
  if (m === 'stall' && isCollection) return; // the client's timeout must end it
  let up;
  try { up = await fetchUpstream(req.url.replace(/^\/v1/, '')); } catch (e) { res.writeHead(502); return res.end(); }
  let body = up.body;
  const headers = { 'content-type': up.headers['content-type'] || 'application/json' };
  if (up.headers.etag) headers.etag = up.headers.etag;
  // The read server's CORS headers, so a page in a browser can use the proxy as it uses
  // the server (test_client_browser.sh).
  for (const [k, v] of Object.entries(up.headers)) if (k.startsWith('access-control-')) headers[k] = v;
  if (isMonitor && up.status === 200) body = alterMonitor(m, arg, body, headers);
  if (isCollection && up.status === 200) body = alterCollection(m, req.url, body, headers);
  if (attachBase && req.url === '/v1/' && up.status === 200) {
    const root = JSON.parse(body);
    root.capabilities = { ...(root.capabilities || {}), attachments: { base_url: attachBase } };
    body = Buffer.from(JSON.stringify(root));
  }
  if (m === 'backoff') headers.backoff = arg;
  headers['content-length'] = body.length;
  res.writeHead(up.status, headers);
  res.end(body);
}).listen(Number(port), '127.0.0.1');
