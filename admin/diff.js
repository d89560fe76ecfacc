// diff.js -- what a review changes: the source (workspace) records against the
// destination's (published). Pure functions, no DOM, so they are tested in Node
// (tests/node/admin_diff.test.mjs) and stay linear: records are matched through a Map
// by id and compared field by field with a canonical encoding, so 10,000 records or a
// large record cost one pass, and only changed records are kept.

// Fields every record has that say nothing about its content (records are matched by id).
const IGNORED = new Set(["id", "last_modified", "schema"]);

// A canonical text of a JSON value (sorted keys), for equality.
export function canonical(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
}

// The fields of 'before' and 'after' that differ: [{field, before, after}] (a missing
// side is undefined), sorted by field name.
export function fieldChanges(before, after) {
  const names = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  const out = [];
  for (const f of [...names].sort()) {
    if (IGNORED.has(f)) continue;
    const b = before ? before[f] : undefined;
    const a = after ? after[f] : undefined;
    if (b === undefined && a === undefined) continue;
    if (b === undefined || a === undefined || canonical(a) !== canonical(b)) out.push({ field: f, before: b, after: a });
  }
  return out;
}

// {added, removed, changed, records: [{id, kind, fields}]}: 'kind' is "added",
// "removed" or "changed"; records sorted by id; unchanged records are not listed.
export function diffRecords(source, destination) {
  const dest = new Map(destination.map((r) => [r.id, r]));
  const seen = new Set();
  const records = [];
  let added = 0, removed = 0, changed = 0;
  for (const r of source) {
    seen.add(r.id);
    const d = dest.get(r.id);
    const fields = fieldChanges(d, r);
    if (!d) { added++; records.push({ id: r.id, kind: "added", fields }); }
    else if (fields.length) { changed++; records.push({ id: r.id, kind: "changed", fields }); }
  }
  for (const d of destination) {
    if (seen.has(d.id)) continue;
    removed++;
    records.push({ id: d.id, kind: "removed", fields: fieldChanges(d, undefined) });
  }
  records.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { added, removed, changed, records };
}
