// A misbehaving HTTP proxy in front of a real read server, for the client tests
// (tests/integration/test_client_*.sh): a real process on a real socket that forwards
// each GET upstream and, depending on the mode read from MODE_FILE at each request,
// alters what the client gets. Every request's path goes to LOG_FILE, one line each.
//
// usage: node client_proxy.mjs PORT UPSTREAM_BASE MODE_FILE LOG_FILE [ATTACHMENTS_BASE_URL]
// With ATTACHMENTS_BASE_URL, GET /v1/ also advertises capabilities.attachments.base_url
// (what a server with attachments does, issue 12), so the client's downloads can be
// tested against a plain file server before the read server serves attachments itself.
// Modes (the file's first word; the monitor is always forwarded untouched unless said):
//   pass            forward everything
//   tamper          changes one field of the first record of every collection changeset
//   tamper_once     as tamper, for the next collection changeset only (then pass)
//   replay          serves, for a collection changeset, the first full one it forwarded
//   truncate        cuts collection changeset bodies in half
//   stall           never answers collection changesets
//   backoff N       forwards, adding "Backoff: N" to every response
//   retry_after N   answers every request 503 with "Retry-After: N"
//   status500       answers every request 500
import http from 'node:http';
import fs from 'node:fs';

const [port, upstream, modeFile, logFile, attachBase] = process.argv.slice(2);
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

http.createServer(async (req, res) => {
  fs.appendFileSync(logFile, req.url + '\n');
  const [m, arg] = mode();
  const isCollection = /\/collections\/[^/]+\/changeset/.test(req.url) && !/\/buckets\/monitor\//.test(req.url);
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
  if (isCollection && up.status === 200) {
    const key = req.url.split('?')[0];
    if (!/_since=/.test(req.url) && !firstFull.has(key)) firstFull.set(key, body);
    if (m === 'tamper' || m === 'tamper_once') {
      const cs = JSON.parse(body);
      if (cs.changes.length > 0) cs.changes[0].tampered = true;
      else cs.changes.push({ id: 'injected', last_modified: cs.timestamp });
      body = Buffer.from(JSON.stringify(cs));
      if (m === 'tamper_once') fs.writeFileSync(modeFile, 'pass\n');
    } else if (m === 'replay' && firstFull.has(key)) {
      body = firstFull.get(key);
    } else if (m === 'truncate') {
      body = body.subarray(0, body.length >> 1);
    }
  }
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
