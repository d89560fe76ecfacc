// Kinto's own JavaScript client (kinto-http 5.3.0, unchanged) against herald-publisher.
// Run by tests/integration/test_kinto_http.sh, which starts Redis and a publisher with
// paginate_by 3 and account_create_principals system.Everyone, and sets HERALD_PUB
// (".../v1") and HERALD_ADMIN_PASSWORD.
// The client is loaded as kinto_client.mjs says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KintoClient, basic } from "./kinto_client.mjs";

const REMOTE = process.env.HERALD_PUB;
const client = (user = "admin", pw = process.env.HERALD_ADMIN_PASSWORD) =>
  new KintoClient(REMOTE, user ? { headers: { Authorization: basic(user, pw) } } : {});
const admin = client();
const anonymous = client(null);
const unique = (() => { let n = 0; return (p) => `${p}${process.pid}x${n++}`; })();

async function status(promise) {
  try {
    await promise;
    return 0;
  } catch (e) {
    return e.response?.status ?? e.status ?? -1;
  }
}

test("server info: Kinto API 1.23 with accounts, history and Herald's signatures", async () => {
  const info = await admin.fetchServerInfo();
  assert.equal(info.http_api_version, "1.23");
  assert.equal(info.project_name, "herald");
  assert.ok(info.capabilities.accounts);
  assert.ok(info.capabilities.permissions_endpoint);
  assert.equal(info.capabilities.herald_signatures.mode, "ed25519");
  assert.ok(info.capabilities.history);
  assert.equal(info.user.id, "account:admin");
  assert.equal(await admin.fetchHTTPApiVersion(), "1.23");
});

test("create, list, update, delete records", async () => {
  const bid = unique("b");
  await admin.createBucket(bid);
  const bucket = admin.bucket(bid);
  await bucket.createCollection("articles", { data: { title: "Articles" } });
  const coll = bucket.collection("articles");
  const { data: r1 } = await coll.createRecord({ title: "first" });
  assert.match(r1.id, /^[0-9a-f-]{36}$/);
  const { data: r2 } = await coll.createRecord({ id: "second", title: "second" });
  assert.equal(r2.id, "second");
  assert.ok(r2.last_modified > r1.last_modified);

  const got = await coll.getRecord("second");
  assert.equal(got.data.title, "second");

  const { data: upd } = await coll.updateRecord({ id: "second", title: "2nd" });
  assert.equal(upd.title, "2nd");
  const { data: patched } = await coll.updateRecord({ id: "second", extra: true }, { patch: true });
  assert.equal(patched.title, "2nd");
  assert.equal(patched.extra, true);

  const list = await coll.listRecords({ pages: Infinity });
  assert.deepEqual(list.data.map((r) => r.id).sort(), [r1.id, "second"].sort());
  assert.equal(list.data[0].id, "second"); // default sort: -last_modified
  assert.equal(await coll.getTotalRecords(), 2);

  await coll.deleteRecord(r1.id);
  assert.equal(await status(coll.getRecord(r1.id)), 404);
  const cdata = await coll.getData();
  assert.equal(cdata.title, "Articles");
  await bucket.deleteCollection("articles");
  assert.equal(await status(coll.listRecords()), 404);
  await admin.deleteBucket(bid);
});

test("batch requests (bucket, collection and client level)", async () => {
  const bid = unique("batch");
  await admin.createBucket(bid);
  const coll = admin.bucket(bid).collection("c");
  await admin.bucket(bid).createCollection("c");
  const results = await coll.batch((batch) => {
    for (let i = 0; i < 5; i++) batch.createRecord({ id: `r${i}`, i });
  });
  assert.deepEqual(results.map((r) => r.status), [201, 201, 201, 201, 201]);
  const stamps = results.map((r) => r.body.data.last_modified);
  for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i] > stamps[i - 1]);

  const agg = await admin.batch(
    (batch) => {
      batch.bucket(bid).collection("c").updateRecord({ id: "r0", i: 100 });
      batch.bucket(bid).collection("c").deleteRecord("r1");
      batch.bucket(bid).collection("c").deleteRecord("nope");
    },
    { aggregate: true }
  );
  assert.equal(agg.published.length, 2);
  assert.equal(agg.errors.length + agg.skipped.length, 1);
  const { data } = await coll.listRecords({ pages: Infinity, sort: "i" });
  assert.deepEqual(data.map((r) => r.i), [2, 3, 4, 100]);
});

test("permissions and groups", async () => {
  const u1 = unique("alice"), u2 = unique("bob");
  await anonymous.createAccount(u1, "pw-1");
  await anonymous.createAccount(u2, "pw-2");
  const alice = client(u1, "pw-1"), bob = client(u2, "pw-2");
  assert.equal((await alice.fetchUser()).id, `account:${u1}`);

  const bid = unique("perm");
  await alice.createBucket(bid);
  const abucket = alice.bucket(bid);
  const { permissions } = await abucket.getPermissions().then((p) => ({ permissions: p }));
  assert.deepEqual(permissions.write, [`account:${u1}`]);
  await abucket.createCollection("c");
  await abucket.collection("c").createRecord({ id: "secret", v: 1 });

  assert.equal(await status(bob.bucket(bid).collection("c").getRecord("secret")), 403);
  assert.equal(await status(anonymous.bucket(bid).collection("c").getRecord("secret")), 401);

  await abucket.createGroup("readers", [`account:${u2}`]);
  const { data: group } = await abucket.getGroup("readers");
  assert.deepEqual(group.members, [`account:${u2}`]);
  await abucket.collection("c").addPermissions({ read: [`/buckets/${bid}/groups/readers`] });
  const { data: rec } = await bob.bucket(bid).collection("c").getRecord("secret");
  assert.equal(rec.v, 1);
  assert.ok((await bob.fetchUser()).principals.includes(`/buckets/${bid}/groups/readers`));
  // Read does not give write.
  assert.equal(await status(bob.bucket(bid).collection("c").createRecord({ v: 2 })), 403);

  await abucket.updateGroup({ id: "readers", members: [] });
  assert.equal(await status(bob.bucket(bid).collection("c").getRecord("secret")), 403);
  await abucket.collection("c").removePermissions({ read: [`/buckets/${bid}/groups/readers`] });
  const perms = await abucket.collection("c").getPermissions();
  assert.equal(perms.read, undefined);

  const { data: groups } = await abucket.listGroups();
  assert.deepEqual(groups.map((g) => g.id), ["readers"]);
  await abucket.deleteGroup("readers");

  const listed = await alice.listPermissions();
  assert.ok(listed.data.some((e) => e.uri === `/buckets/${bid}` && e.permissions.includes("write")));
  const buckets = await bob.listBuckets();
  assert.ok(!buckets.data.some((b) => b.id === bid));
});

test("pagination with a small paginate_by", async () => {
  const bid = unique("page");
  await admin.createBucket(bid);
  await admin.bucket(bid).createCollection("c");
  const coll = admin.bucket(bid).collection("c");
  await coll.batch((b) => { for (let i = 0; i < 10; i++) b.createRecord({ id: `r${i}`, n: i }); });
  const first = await coll.listRecords({ sort: "n" });
  assert.deepEqual(first.data.map((r) => r.n), [0, 1, 2]);
  assert.equal(first.hasNextPage, true);
  const second = await first.next();
  assert.deepEqual(second.data.map((r) => r.n), [3, 4, 5]);
  const all = await coll.listRecords({ sort: "-n", pages: Infinity });
  assert.deepEqual(all.data.map((r) => r.n), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.equal(all.hasNextPage, false);
  const filtered = await coll.listRecords({ filters: { min_n: 4, max_n: 6 }, pages: Infinity, sort: "n" });
  assert.deepEqual(filtered.data.map((r) => r.n), [4, 5, 6]);
  const fields = await coll.listRecords({ fields: ["id"], limit: 1 });
  assert.deepEqual(Object.keys(fields.data[0]).sort(), ["id", "last_modified"]);
});

test("412 conflicts with safe writes", async () => {
  const bid = unique("safe");
  await admin.createBucket(bid);
  await admin.bucket(bid).createCollection("c");
  const coll = admin.bucket(bid).collection("c");
  const { data: rec } = await coll.createRecord({ id: "r", v: 1 });
  await coll.updateRecord({ ...rec, v: 2 }); // someone else wrote
  let err;
  try {
    await coll.updateRecord({ ...rec, v: 3 }, { safe: true, last_modified: rec.last_modified });
  } catch (e) {
    err = e;
  }
  assert.equal(err?.response?.status, 412);
  assert.equal(err.data.errno, 114);
  assert.equal(err.data.details.existing.v, 2);
  // Safe creation of an existing id.
  assert.equal(await status(coll.createRecord({ id: "r", v: 4 }, { safe: true })), 412);
  assert.equal(await status(admin.createBucket(bid, { safe: true })), 412);
  // Safe delete with a stale timestamp.
  assert.equal(await status(coll.deleteRecord("r", { safe: true, last_modified: rec.last_modified })), 412);
  const { data } = await coll.getRecord("r");
  assert.equal(data.v, 2);
});

test("_since returns changes and tombstones", async () => {
  const bid = unique("since");
  await admin.createBucket(bid);
  await admin.bucket(bid).createCollection("c");
  const coll = admin.bucket(bid).collection("c");
  await coll.batch((b) => { for (const id of ["a", "b", "c"]) b.createRecord({ id }); });
  const etag = await coll.getRecordsTimestamp();
  assert.match(etag, /^"\d+"$/);
  await coll.deleteRecord("a");
  await coll.updateRecord({ id: "b", changed: true });
  const { data, last_modified } = await coll.listRecords({ since: etag, pages: Infinity });
  const byId = Object.fromEntries(data.map((r) => [r.id, r]));
  assert.deepEqual(Object.keys(byId).sort(), ["a", "b"]);
  assert.equal(byId.a.deleted, true);
  assert.equal(byId.b.changed, true);
  assert.equal(`"${last_modified}"`, await coll.getRecordsTimestamp());
  const none = await coll.listRecords({ since: `"${last_modified}"` });
  assert.deepEqual(none.data, []);
});

test("accounts: create, authenticate, change password, delete", async () => {
  const id = unique("carol");
  const { data } = await anonymous.createAccount(id, "first");
  assert.equal(data.id, id);
  assert.equal(data.password, undefined);
  const carol = client(id, "first");
  assert.equal((await carol.fetchUser()).id, `account:${id}`);
  assert.equal(await status(client(id, "wrong").listBuckets()), 401);
  await carol.execute({
    path: `/accounts/${id}`,
    method: "PATCH",
    // execute() sends only the request's own headers.
    headers: { "Content-Type": "application/json", Authorization: basic(id, "first") },
    body: { data: { password: "second" } },
  });
  assert.equal(await client(id, "first").fetchUser(), undefined);
  assert.equal((await client(id, "second").fetchUser()).id, `account:${id}`);
  await client(id, "second").execute({
    path: `/accounts/${id}`,
    method: "DELETE",
    headers: { Authorization: basic(id, "second") },
  });
  assert.equal(await client(id, "second").fetchUser(), undefined);
});

test("plural delete with filters", async () => {
  const bid = unique("del");
  await admin.createBucket(bid);
  await admin.bucket(bid).createCollection("c");
  const coll = admin.bucket(bid).collection("c");
  await coll.batch((b) => { for (let i = 0; i < 6; i++) b.createRecord({ id: `r${i}`, odd: i % 2 === 1 }); });
  const { data: deleted } = await coll.deleteRecords({ filters: { odd: true } });
  assert.deepEqual(deleted.map((r) => r.id).sort(), ["r1", "r3", "r5"]);
  assert.ok(deleted.every((r) => r.deleted));
  const { data } = await coll.listRecords({ pages: Infinity });
  assert.deepEqual(data.map((r) => r.id).sort(), ["r0", "r2", "r4"]);
  await admin.bucket(bid).deleteCollections();
  const { data: colls } = await admin.bucket(bid).listCollections();
  assert.deepEqual(colls, []);
});
