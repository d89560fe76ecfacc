// loop_probe.cjs PORT USER N: is the publisher's event loop free while its password
// workers are busy? Sends N requests at once as USER, each with a password no cache
// has seen (one argon2id check each, on the worker threads); once the first of them is
// answered -- the workers are then at work on the rest -- sends GET /v1/__lbheartbeat__.
// Prints "pending=P latency_ms=L": P verifications still unanswered when the heartbeat
// was answered, L the heartbeat's round trip.
//
// Each request comes from its own address (X-Forwarded-For 10.77.0.I: run the publisher
// with trusted_forwarded_for_depth 1), so the login throttle (throttle.c) lets every one
// through to argon2id; an answer other than 200 fails the probe.
//
// The integration test asserts P > 0, an order of events that holds on any machine (a
// slower one slows the argon2id checks as much as the heartbeat); the benchmark
// (benchmarks/bench_event_loop.sh) reports L.
"use strict";
const http = require("http");

const [port, user, n] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4] || 16)];
let pending = n;
let probed = false;

function get(path, auth, done, from) {
  const headers = auth ? { Authorization: "Basic " + Buffer.from(auth).toString("base64") } : {};
  if (from) headers["X-Forwarded-For"] = from;
  const req = http.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
    res.resume();
    res.on("end", () => done(res.statusCode));
  });
  req.on("error", (e) => {
    console.error(`${path}: ${e.message}`);
    process.exit(1);
  });
}

function probe() {
  const t0 = process.hrtime.bigint();
  get("/v1/__lbheartbeat__", null, (status) => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (status !== 200) {
      console.error(`__lbheartbeat__: status ${status}`);
      process.exit(1);
    }
    console.log(`pending=${pending} latency_ms=${ms.toFixed(1)}`);
  });
}

for (let i = 0; i < n; i++) {
  get("/v1/", `${user}:probe-${process.pid}-${i}`, (status) => {
    // GET /v1/ is public: a wrong password is answered as anonymous (200) -- after its
    // argon2id check --, never throttled (429) or refused for capacity (503).
    if (status !== 200) {
      console.error(`wrong password ${i}: status ${status}, expected 200`);
      process.exit(1);
    }
    pending--;
    if (!probed) {
      probed = true;
      probe();
    }
  }, `10.77.0.${i + 1}`);
}
