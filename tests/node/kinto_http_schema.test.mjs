// Collection JSON schemas through Kinto's own JavaScript client (kinto-http, unchanged).
// Run by tests/integration/test_schema_kinto_http.sh, which starts Redis and a publisher
// with experimental_collection_schema_validation on and sets HERALD_PUB (".../v1") and
// HERALD_ADMIN_PASSWORD. The client is loaded as kinto_client.mjs says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KintoClient, basic } from "./kinto_client.mjs";

const admin = new KintoClient(process.env.HERALD_PUB, {
  headers: { Authorization: basic("admin", process.env.HERALD_ADMIN_PASSWORD) },
});

const SCHEMA = {
  type: "object",
  properties: {
    title: { type: "string" },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["title"],
};

// The error kinto-http throws, with the server's JSON in .data.
async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("the request was accepted");
}

test("server info announces the schema capability", async () => {
  const info = await admin.fetchServerInfo();
  assert.deepEqual(info.capabilities.schema, {
    description: "Validates collection records with JSON schemas.",
    url: "https://kinto.readthedocs.io/en/latest/api/1.x/collections.html#collection-json-schema",
  });
});

test("a schema is set, invalid records refused, valid ones carry their schema version", async () => {
  await admin.createBucket("schemas");
  const bucket = admin.bucket("schemas");
  const { data: coll } = await bucket.createCollection("articles", { data: { schema: SCHEMA } });
  assert.deepEqual(coll.schema, SCHEMA);
  const articles = bucket.collection("articles");

  const bad = await refusal(bucket.collection("other").setData({ schema: { type: "Washmachine" } }));
  assert.equal(bad.response.status, 400);
  assert.equal(bad.data.errno, 107);
  assert.match(bad.data.message, /'Washmachine' is not valid under any of the given schemas/);

  const e = await refusal(articles.createRecord({ body: "no title" }));
  assert.equal(e.response.status, 400);
  assert.deepEqual(e.data, {
    code: 400,
    errno: 107,
    error: "Invalid parameters",
    message: "'title' is a required property",
    details: [{ description: "'title' is a required property", location: "body", name: "title" }],
  });
  assert.match(e.message, /HTTP 400 Invalid parameters/);

  const e2 = await refusal(articles.createRecord({ title: "t", tags: ["ok", 7] }));
  assert.deepEqual(e2.data.details, [
    { description: "7 is not of type 'string'", location: "body", name: 1 },
  ]);

  const { data: r1 } = await articles.createRecord({ title: "first" });
  const { data: r2 } = await articles.createRecord({ id: "second", title: "second", tags: ["a"] });
  assert.equal(r1.schema, coll.last_modified);
  assert.equal(r2.schema, coll.last_modified);

  const e3 = await refusal(articles.updateRecord({ id: "second", tags: ["a"] }));
  assert.equal(e3.data.details[0].name, "title");
  const { data: patched } = await articles.updateRecord({ id: "second", tags: ["b"] }, { patch: true });
  assert.deepEqual(patched.tags, ["b"]);

  // A new schema version: only records written since carry it.
  const { data: coll2 } = await articles.setData({ schema: SCHEMA });
  assert.ok(coll2.last_modified > coll.last_modified);
  await articles.createRecord({ title: "third" });
  const { data: recent } = await articles.listRecords({
    filters: { min_schema: coll2.last_modified },
  });
  assert.deepEqual(recent.map((r) => r.title), ["third"]);
});

test("batch: the invalid sub-request is refused, the others are written", async () => {
  await admin.createBucket("schemas-batch", { data: { "record:schema": SCHEMA } });
  await admin.bucket("schemas-batch").createCollection("c");
  const coll = admin.bucket("schemas-batch").collection("c");
  const results = await coll.batch((batch) => {
    batch.createRecord({ id: "a", title: "a" });
    batch.createRecord({ id: "b", tags: ["no title"] });
    batch.createRecord({ id: "c", title: "c" });
  });
  assert.deepEqual(results.map((r) => r.status), [201, 400, 201]);
  assert.equal(results[1].body.errno, 107);
  const { data } = await coll.listRecords({ sort: "id" });
  assert.deepEqual(data.map((r) => r.id), ["a", "c"]);
});
