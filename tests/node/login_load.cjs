// Sends N login attempts at once (HTTP Basic, one connection each) to a publisher and
// prints one JSON line: how many got each status, whether every 429 and 503 carried
// Retry-After, and the elapsed time. Used by the login tests and benchmarks/bench_login.sh.
//
//   node login_load.cjs URL N USER PASSWORD-PREFIX [XFF]
// PASSWORD-PREFIX: each attempt sends PREFIX<i>; USER may contain "%i" (replaced by i).
// XFF: "fresh" for a new X-Forwarded-For address per attempt, an address for that one,
// or nothing for none.
'use strict';
const http = require('http');

const [url, nArg, user, prefix, xff] = process.argv.slice(2);
const n = parseInt(nArg, 10);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const counts = {};
let missingRetryAfter = 0;
let done = 0;
const t0 = process.hrtime.bigint();

function one(i) {
  const name = user.replace('%i', String(i));
  const headers = {
    Authorization: 'Basic ' + Buffer.from(`${name}:${prefix}${i}`).toString('base64'),
  };
  if (xff === 'fresh') headers['X-Forwarded-For'] = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  else if (xff) headers['X-Forwarded-For'] = xff;
  const req = http.get(url, { agent, headers }, (res) => {
    res.resume();
    res.on('end', () => {
      counts[res.statusCode] = (counts[res.statusCode] || 0) + 1;
      if ((res.statusCode === 429 || res.statusCode === 503) && !res.headers['retry-after'])
        missingRetryAfter++;
      finish();
    });
  });
  req.on('error', () => {
    counts.error = (counts.error || 0) + 1;
    finish();
  });
}

function finish() {
  if (++done < n) return;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ counts, missingRetryAfter, ms: Math.round(ms) }) + '\n');
}

for (let i = 0; i < n; i++) one(i);
