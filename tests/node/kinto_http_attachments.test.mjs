// kinto-http (5.3.0, unchanged) uploads and removes attachments on herald-publisher,
// as kinto-http.py's add_attachment/remove_attachment and Kinto Admin do (multipart
// POST built by the client from a data URL). Run by
// tests/integration/test_attachments_kinto_http.sh, which starts Redis and a publisher
// with attachments_dir, and sets HERALD_PUB and HERALD_ADMIN_PASSWORD.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import Module, { createRequire } from "node:module";

// As kinto_client.mjs loads the client (Node's fetch, FormData, atob answer its
// node-fetch, form-data and atob requires), with one difference for uploads: the Node
// build of kinto-http makes the file part a Buffer (its own Blob stand-in, written for
// the form-data package), which Node's FormData only takes as a Blob, so append()
// wraps it. The client itself is unchanged.
class BufferFormData extends FormData {
  append(name, value, filename) {
    return Buffer.isBuffer(value) ? super.append(name, new Blob([value]), filename)
                                  : super.append(name, value);
  }
}
const globalFetch = (...args) => fetch(...args);
const shims = {
  "node-fetch": Object.assign(globalFetch, { default: globalFetch, Headers, Request, Response }),
  "form-data": BufferFormData,
  atob,
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.hasOwn(shims, request) ? shims[request] : load.call(this, request, ...rest);
};
const mod = createRequire(import.meta.url)("kinto-http");
const KintoClient = mod.default ?? mod;
const basic = (user, pw) => "Basic " + Buffer.from(`${user}:${pw}`).toString("base64");

const REMOTE = process.env.HERALD_PUB;
const admin = new KintoClient(REMOTE, {
  headers: { Authorization: basic("admin", process.env.HERALD_ADMIN_PASSWORD) },
});

test("addAttachment, then removeAttachment", async () => {
  const bucket = admin.bucket("att");
  await admin.createBucket("att", { safe: false }).catch(() => {});
  await bucket.createCollection("files", { safe: false }).catch(() => {});
  const coll = bucket.collection("files");
  const bytes = Buffer.from("-----BEGIN CERTIFICATE-----\nherald\n-----END CERTIFICATE-----\n");
  const dataURL = "data:text/plain;name=cert.pem;base64," + bytes.toString("base64");
  const { data: rec } = await coll.addAttachment(dataURL, { id: "cert1", type: "intermediate" });
  assert.equal(rec.id, "cert1");
  assert.equal(rec.type, "intermediate");
  assert.equal(rec.attachment.filename, "cert.pem");
  assert.equal(rec.attachment.mimetype, "application/x-pem-file");
  assert.equal(rec.attachment.size, bytes.length);
  const hash = createHash("sha256").update(bytes).digest("hex");
  assert.equal(rec.attachment.hash, hash);
  assert.equal(rec.attachment.location, `${hash.slice(0, 2)}/${hash}`);

  const info = await admin.fetchServerInfo();
  assert.equal(info.capabilities.attachments.base_url, "http://cdn.example/attachments/");

  // Replacing with safe (If-Match on the record's timestamp) works, a stale one is 412.
  const other = "data:application/octet-stream;name=x.bin;base64," + Buffer.from("x").toString("base64");
  const { data: rec2 } = await coll.addAttachment(other, { id: "cert1", last_modified: rec.last_modified }, { safe: true });
  assert.equal(rec2.attachment.size, 1);
  await assert.rejects(
    coll.addAttachment(other, { id: "cert1", last_modified: rec.last_modified }, { safe: true }),
    (e) => e.response?.status === 412 || /412/.test(String(e)),
  );

  await coll.removeAttachment("cert1");
  const { data: after } = await coll.getRecord("cert1");
  assert.equal(after.attachment, null);
  assert.equal(after.type, "intermediate");
});
