// server_load.js -- a closed-loop HTTP/1.1 client that sends an exact number of requests,
// for the deterministic part of benchmarks/bench_server.sh (callgrind and strace count
// per request, so the request count must be exact: wrk runs for a duration) and for
// holding many idle keep-alive connections open.
//
//   node server_load.js --port P --path PATH [--header "K: V"]... [--connections C]
//                       [--requests N] [--pipeline D]
//       keeps C connections busy until N responses came back, D requests in flight per
//       connection (pipelined when D > 1); prints "responses=N status=200:n,304:m
//       seconds=T" and exits 1 on any connection error or unexpected close.
//       --seconds S stops after S seconds at the latest; --check DIR checks every 200:
//       ETag == "<the body's last timestamp>", and one body per ETag (a mixed or torn
//       response would differ); the first body of each ETag is saved in DIR; prints
//       bad=N too (used by tests when wrk is not installed).
//   node server_load.js --port P --path PATH --idle C --hold S
//       opens C connections, sends one request on each, reads the response, keeps
//       them open and idle; prints "ready C" once all answered, exits after S seconds.
"use strict";
const net = require("net");

const fs = require("fs");
const args = { header: [], connections: 10, requests: 10000, pipeline: 1, idle: 0, hold: 10,
  seconds: 0, check: "" };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, ""), v = process.argv[i + 1];
  if (k === "header") args.header.push(v);
  else args[k] = /^[0-9]+$/.test(v) ? Number(v) : v;
}
const req = Buffer.from(`GET ${args.path} HTTP/1.1\r\nHost: bench\r\n` +
  args.header.map((h) => h + "\r\n").join("") + "\r\n");

// Counts complete responses in a byte stream (status line, headers, Content-Length body).
function parser(onResponse) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.toString("latin1", 0, end);
      const status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length: *([0-9]+)/i.exec(head);
      const len = status === 304 || !m ? 0 : Number(m[1]);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len);
      buf = buf.subarray(end + 4 + len);
      onResponse(status, head, body);
    }
  };
}

const statuses = {};
const seen = new Map();
let done = 0, sent = 0, failed = false, bad = 0;

function check(status, head, body) {
  if (status !== 200) { bad++; return; }
  const etag = (/\r\netag: *([^\r]*)/i.exec(head) || [])[1];
  const ts = (/"timestamp":([0-9]+)}$/.exec(body.toString("latin1")) || [])[1];
  if (!etag || etag !== `"${ts}"`) { bad++; return; }
  const prev = seen.get(etag);
  if (!prev) {
    seen.set(etag, Buffer.from(body));
    fs.writeFileSync(`${args.check}/node-${ts}.json`, body);
  } else if (!prev.equals(body)) {
    bad++;
  }
}
const t0 = process.hrtime.bigint();

function finish() {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const st = Object.entries(statuses).map(([k, v]) => `${k}:${v}`).join(",");
  console.log(`responses=${done} status=${st} seconds=${secs.toFixed(3)}` +
    (args.check ? ` bad=${bad}` : ""));
  process.exit(failed ? 1 : 0);
}

if (args.idle) {
  let ready = 0;
  const socks = [];
  for (let i = 0; i < args.idle; i++) {
    const s = net.connect(args.port, "127.0.0.1");
    socks.push(s);
    s.on("connect", () => s.write(req));
    s.on("data", parser(() => { if (++ready === args.idle) console.log(`ready ${ready}`); }));
    s.on("error", (e) => { console.error(`connection ${i}: ${e.message}`); process.exit(1); });
  }
  setTimeout(() => { console.log(`held ${socks.filter((s) => !s.destroyed).length}`); process.exit(0); },
    args.hold * 1000);
} else {
  if (args.seconds) setTimeout(() => { args.requests = done; finish(); }, args.seconds * 1000);
  for (let i = 0; i < args.connections; i++) {
    const s = net.connect(args.port, "127.0.0.1");
    let inflight = 0;
    const fill = () => {
      const parts = [];
      while (inflight < args.pipeline && sent < args.requests) {
        parts.push(req);
        inflight++;
        sent++;
      }
      if (parts.length) s.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    };
    s.setNoDelay(true);
    s.on("connect", fill);
    s.on("data", parser((status, head, body) => {
      statuses[status] = (statuses[status] || 0) + 1;
      if (args.check) check(status, head, body);
      inflight--;
      if (++done === args.requests) finish();
      if (inflight === 0) fill();
    }));
    s.on("error", (e) => { console.error(e.message); failed = true; finish(); });
    s.on("close", () => { if (done < args.requests) { failed = true; finish(); } });
  }
}
