// batch_fairness.cjs HOST PORT AUTH BATCHES SIZE -- for test_publisher_fairness.sh.
//
// Opens BATCHES + 1 keep-alive connections to the publisher (each warmed up with one GET,
// so no accept or login is pending later), writes one POST /v1/batch of SIZE record PUTs
// on each of the first BATCHES connections, then one single-record PUT (the "urgent" edit)
// on the last, all into the collection /buckets/fair/collections/c, without waiting in
// between. Prints one JSON object: the order in which the responses completed, every
// status, and the last_modified of every write (they strictly increase within the
// collection in the order Redis applied the writes), from which the test counts, and the
// publisher's herald_publisher_batches_queued read on the urgent connection just after
// its answer.
"use strict";
const net = require("net");

const [host, port, auth, nb, size] = [
    process.argv[2],
    Number(process.argv[3]),
    process.argv[4],
    Number(process.argv[5]),
    Number(process.argv[6]),
];
const basic = "Basic " + Buffer.from(auth).toString("base64");
const coll = "/v1/buckets/fair/collections/c";

function request(method, path, body) {
    const b = body === undefined ? "" : JSON.stringify(body);
    return (
        `${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAuthorization: ${basic}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`
    );
}

// One connection: send() writes a request, the promise resolves with {status, body} once
// the whole response (Content-Length framed) has arrived.
function connect() {
    return new Promise((resolve, reject) => {
        const s = net.connect({ host, port }, () => resolve(conn));
        s.setNoDelay(true);
        let buf = Buffer.alloc(0);
        let waiter = null;
        const conn = {
            send(text) {
                return new Promise((res) => {
                    waiter = res;
                    s.write(text);
                });
            },
            close() {
                s.end();
            },
        };
        s.on("error", reject);
        s.on("data", (d) => {
            buf = Buffer.concat([buf, d]);
            const end = buf.indexOf("\r\n\r\n");
            if (end < 0 || !waiter) return;
            const head = buf.subarray(0, end).toString();
            const m = head.match(/content-length:\s*(\d+)/i);
            const len = m ? Number(m[1]) : 0;
            if (buf.length < end + 4 + len) return;
            const body = buf.subarray(end + 4, end + 4 + len).toString();
            buf = buf.subarray(end + 4 + len);
            const w = waiter;
            waiter = null;
            w({ status: Number(head.split(" ")[1]), body });
        });
    });
}

(async () => {
    const conns = [];
    for (let i = 0; i <= nb; i++) conns.push(await connect());
    for (const c of conns) {
        const r = await c.send(request("GET", "/v1/"));
        if (r.status !== 200) throw new Error(`warm-up GET: ${r.status}`);
    }
    const done = []; // labels in the order the responses completed
    const pending = [];
    for (let i = 0; i < nb; i++) {
        const requests = [];
        for (let j = 0; j < size; j++)
            requests.push({ method: "PUT", path: `${coll}/records/b${i}-${j}`, body: { data: { i, j } } });
        pending.push(
            conns[i].send(request("POST", "/v1/batch", { requests })).then((r) => {
                done.push(`batch${i}`);
                return r;
            })
        );
    }
    let queued = null; // herald_publisher_batches_queued right after the urgent answer
    pending.push(
        conns[nb].send(request("PUT", `${coll}/records/urgent`, { data: { urgent: true } })).then(async (r) => {
            done.push("urgent");
            const m = await conns[nb].send(request("GET", "/metrics"));
            const line = m.body.split("\n").find((l) => l.startsWith("herald_publisher_batches_queued "));
            queued = line ? Number(line.split(" ")[1]) : null;
            return r;
        })
    );
    const res = await Promise.all(pending);
    conns.forEach((c) => c.close());
    const out = { order: done, statuses: [], batches: [], urgent: null, queued };
    for (let i = 0; i < nb; i++) {
        out.statuses.push(res[i].status);
        const subs = JSON.parse(res[i].body).responses;
        out.batches.push(subs.map((s) => ({ status: s.status, lm: s.body.data ? s.body.data.last_modified : null })));
    }
    out.statuses.push(res[nb].status);
    out.urgent = JSON.parse(res[nb].body).data.last_modified;
    console.log(JSON.stringify(out));
})().catch((e) => {
    console.error(String(e && e.stack ? e.stack : e));
    process.exit(1);
});
