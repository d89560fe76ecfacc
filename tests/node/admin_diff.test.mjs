// The admin page's review diff (admin/diff.js), in Node: only changed records are
// listed, per field; additions, removals and changes are counted; a 10,000-record
// collection and a large record give exact answers (differential check against a
// naive comparison). Run by tests/integration/test_admin_api.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { diffRecords, fieldChanges, canonical } from "../../admin/diff.js";

test("canonical ignores key order, not values", () => {
  assert.equal(canonical({ b: 1, a: [1, { y: 2, x: 1 }] }), canonical({ a: [1, { x: 1, y: 2 }], b: 1 }));
  assert.notEqual(canonical({ a: 1 }), canonical({ a: "1" }));
  assert.notEqual(canonical([1, 2]), canonical([2, 1]));
});

test("per-field changes; id and last_modified are not content", () => {
  assert.deepEqual(fieldChanges({ id: "a", last_modified: 1, x: 1, y: 2 }, { id: "a", last_modified: 2, x: 1, y: 3, z: null }),
    [{ field: "y", before: 2, after: 3 }, { field: "z", before: undefined, after: null }]);
});

test("only changed records, counted, sorted by id", () => {
  const dst = [{ id: "a", v: 1 }, { id: "b", v: 2 }, { id: "c", v: 3 }];
  const src = [{ id: "d", v: 4 }, { id: "b", v: 2, last_modified: 9 }, { id: "a", v: 10 }];
  const d = diffRecords(src, dst);
  assert.deepEqual([d.added, d.changed, d.removed], [1, 1, 1]);
  assert.deepEqual(d.records.map((r) => `${r.kind}:${r.id}`), ["changed:a", "removed:c", "added:d"]);
});

test("10,000 records with a large record: exact against a naive comparison", () => {
  let seed = 17;
  const rnd = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const dst = [];
  for (let i = 0; i < 10000; i++) dst.push({ id: `r${String(i).padStart(5, "0")}`, serial: i, tags: [i % 7, "x"], meta: { k: i % 3 } });
  dst[42].blob = "z".repeat(200000);
  const src = dst.map((r) => structuredClone(r));
  for (let n = 0; n < 300; n++) {
    const i = rnd(src.length);
    const op = rnd(4);
    if (!src[i]) continue;
    if (op === 0) src[i] = null;
    else if (op === 1) src[i].meta = { k: rnd(4) }; // sometimes the same value: unchanged
    else if (op === 2) src[i].tags = [...src[i].tags].reverse();
    else src.push({ id: `n${n}`, serial: -n });
  }
  src[42] = { ...dst[42], blob: "z".repeat(199999) + "y" };
  const live = src.filter(Boolean);
  // The naive reference: fields in the same order on both sides, so JSON text compares.
  const byId = new Map(dst.map((r) => [r.id, r]));
  const liveIds = new Set(live.map((r) => r.id));
  const want = [];
  for (const r of live) {
    const o = byId.get(r.id);
    if (!o) want.push(`added:${r.id}`);
    else if (JSON.stringify(o) !== JSON.stringify(r)) want.push(`changed:${r.id}`);
  }
  for (const r of dst) if (!liveIds.has(r.id)) want.push(`removed:${r.id}`);
  want.sort((a, b) => (a.split(":")[1] < b.split(":")[1] ? -1 : 1));
  const d = diffRecords(live, dst);
  assert.ok(want.length > 100, "the mutations changed something");
  assert.deepEqual(d.records.map((r) => `${r.kind}:${r.id}`), want, "only and exactly the changed records");
  assert.equal(d.added + d.changed + d.removed, want.length);
  assert.equal(d.added, want.filter((w) => w.startsWith("added:")).length);
  assert.equal(d.removed, want.filter((w) => w.startsWith("removed:")).length);
  const big = d.records.find((r) => r.id === "r00042");
  assert.deepEqual(big.fields.map((f) => f.field), ["blob"], "a large record: only the changed field");
});
