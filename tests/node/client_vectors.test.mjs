// The shared client test vectors (tests/vectors/) through the JavaScript client's
// verifyChangeset and canonicalize: the same verdicts as the C library
// (tests/unit/test_client_vectors.c), and the same canonical bytes as lib/jcs.c.
// Also the stores: MemoryStore and NodeDirStore (atomic files, the C library's layout).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalize, verifyChangeset, importKeys, MemoryStore, HeraldError } from '../../clients/js/src/index.js';
import { NodeDirStore } from '../../clients/js/src/stores/node_dir.js';

const dir = new URL('../vectors/', import.meta.url);
const { cases } = JSON.parse(fs.readFileSync(new URL('changesets.json', dir), 'utf8'));
const jcs = JSON.parse(fs.readFileSync(new URL('jcs.json', dir), 'utf8'));

test('there are vectors', () => assert.ok(cases.length >= 20));

for (const c of cases) {
  test(`vector: ${c.name} → ${c.expect}`, async () => {
    const keys = await importKeys(c.public_keys);
    let prev = c.prev, minVersion = 0;
    if (c.prev_is_min_only) { minVersion = prev.timestamp; prev = null; }
    let got, state = null;
    try {
      state = await verifyChangeset(c.changeset, { bucket: c.bucket, collection: c.collection, keys, prev, minVersion, nowMs: c.now_ms });
      got = 'ok';
    } catch (e) {
      assert.ok(e instanceof HeraldError, String(e));
      got = e.code;
    }
    assert.equal(got, c.expect);
    if (got === 'ok') {
      assert.equal(state.timestamp, c.expect_version);
      assert.deepEqual(state.records.map((r) => r.id), c.expect_ids);
    }
  });
}

test('canonical JSON vectors (same bytes as lib/jcs.c)', () => {
  for (const v of jcs) assert.equal(canonicalize(JSON.parse(v.input)), v.canonical, v.input);
});

test('canonicalize refuses what JCS cannot represent', () => {
  assert.throws(() => canonicalize(NaN));
  assert.throws(() => canonicalize({ a: Infinity }));
  assert.throws(() => canonicalize('\ud800'));
  assert.throws(() => canonicalize(undefined));
  assert.equal(canonicalize('\ud83d\ude00'), '"😀"');
});

for (const [name, make] of [['MemoryStore', () => new MemoryStore()], ['NodeDirStore', () => new NodeDirStore(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-js-')))]]) {
  test(`${name}: kv and blobs`, async () => {
    const s = make();
    assert.equal(await s.get('main/certs'), null);
    await s.put('main/certs', { timestamp: 1, records: [{ id: 'a' }] });
    assert.deepEqual(await s.get('main/certs'), { timestamp: 1, records: [{ id: 'a' }] });
    await s.put('main/certs', { timestamp: 2, records: [] });
    assert.equal((await s.get('main/certs')).timestamp, 2);
    await s.putBlob('ab'.repeat(32), new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await s.getBlob('ab'.repeat(32)))], [1, 2, 3]);
    assert.deepEqual(await s.listBlobs(), ['ab'.repeat(32)]);
    await s.deleteBlob('ab'.repeat(32));
    assert.deepEqual(await s.listBlobs(), []);
    if (s.dir) {
      // The C library's layout, and no temporary file left behind.
      assert.ok(fs.existsSync(path.join(s.dir, 'main', 'certs.json')));
      assert.deepEqual(fs.readdirSync(path.join(s.dir, 'main')), ['certs.json']);
    }
  });
}
