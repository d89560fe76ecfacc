// A full review cycle driven by Kinto's own JavaScript client (kinto-http, unchanged),
// as Kinto Admin does it: create a source collection, edit, request review, approve as
// another account; then the destination is read from a read server and its signature
// verified with verify_snapshot.js (Node's Ed25519 and RFC 8785 canonicalization).
// Run by tests/integration/test_review_kinto_http.sh (HERALD_PUB, HERALD_SRV,
// HERALD_PUBKEY, HERALD_ADMIN_PASSWORD).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { KintoClient, basic } from "./kinto_client.mjs";

const PUB = process.env.HERALD_PUB;
const SRV = process.env.HERALD_SRV;
const client = (user, pw) => new KintoClient(PUB, { headers: { Authorization: basic(user, pw) } });
const admin = client("admin", process.env.HERALD_ADMIN_PASSWORD);

async function status(promise) {
  try {
    await promise;
    return 0;
  } catch (e) {
    return e.response?.status ?? e.status ?? -1;
  }
}

test("a full review cycle with kinto-http, verified on a read server", async () => {
  for (const u of ["alice", "bob"]) {
    const r = await fetch(`${PUB}/accounts/${u}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ data: { password: `pw-${u}` } }) });
    assert.equal(r.status, 201);
  }
  const alice = client("alice", "pw-alice");
  const bob = client("bob", "pw-bob");
  const info = await alice.fetchServerInfo();
  assert.equal(info.capabilities.signer.resources[0].source.bucket, "main-workspace");
  assert.equal(info.capabilities.signer.to_review_enabled, true);

  await admin.createBucket("main-workspace", { permissions: { write: ["account:alice"] } });
  const ws = alice.bucket("main-workspace");
  await ws.createCollection("crl");
  const coll = ws.collection("crl");
  await coll.createRecord({ id: "a", serial: 1 });
  await coll.createRecord({ id: "b", serial: 2 });
  await coll.deleteRecord("b");
  await coll.createRecord({ id: "c", serial: 3 });
  let meta = (await coll.getData());
  assert.equal(meta.status, "work-in-progress");

  await coll.setData({ ...meta, status: "to-review", last_editor_comment: "new serials" }, { patch: true });
  // The requester cannot approve; bob, once a reviewer, can.
  const g = await ws.getGroup("crl-reviewers");
  assert.deepEqual(g.data.members, []);
  await ws.updateGroup({ ...g.data, members: ["account:bob"] }, { patch: true });
  assert.equal(await status(coll.setData({ status: "to-sign" }, { patch: true })), 403);
  const bcoll = bob.bucket("main-workspace").collection("crl");
  await bcoll.setData({ status: "to-sign", last_reviewer_comment: "" }, { patch: true });
  meta = await bcoll.getData();
  assert.equal(meta.status, "signed");
  assert.equal(meta.last_review_by, "account:bob");

  // Editors cannot bypass the workflow.
  assert.equal(await status(alice.bucket("main").collection("crl").createRecord({ id: "z" })), 403);

  // The read server serves the destination, signed.
  const source = (await coll.listRecords({ sort: "id" })).data.map(({ id, serial }) => ({ id, serial }));
  const url = `${SRV}/buckets/main/collections/crl/changeset`;
  let served = null;
  for (let i = 0; i < 200; i++) {
    const r = await fetch(url);
    if (r.status === 200) {
      const body = await r.json();
      if (body.changes.length === source.length) { served = body; break; }
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(served, "the destination is served");
  assert.deepEqual(served.changes.map(({ id, serial }) => ({ id, serial })).sort((x, y) => x.id.localeCompare(y.id)), source);
  const verify = spawnSync(process.execPath, [fileURLToPath(new URL("./verify_snapshot.js", import.meta.url)), "--url", url, "--public-key", process.env.HERALD_PUBKEY], { encoding: "utf8" });
  assert.match(verify.stdout, /^OK bucket=main collection=crl /, verify.stdout + verify.stderr);
});
