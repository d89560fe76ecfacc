// history.js -- the history of a bucket, a collection, a group or a record (Kinto's
// history plugin: GET /buckets/{bid}/history, docs/history.md), newest first, paged,
// with the filters the API has: resource_name, action, user_id, collection_id,
// record_id, and a time range (_since/_before on last_modified). A collection's history
// is the bucket's filtered by collection_id (the collection and its records), a
// record's by collection_id and record_id, a group's by group_id.
import { h, clear, jsonText } from "./dom.js";
import { enc, guarded, pagedTable } from "./ui.js";

// The page route of the object an entry is about (ids only, never other content).
function objectRoute(e) {
  const b = `#/b/${enc(e.bucket_id || (e.uri || "").split("/")[2] || "")}`;
  if (e.resource_name === "record") return `${b}/c/${enc(e.collection_id)}/r/${enc(e.record_id)}`;
  if (e.resource_name === "collection") return `${b}/c/${enc(e.collection_id)}`;
  if (e.resource_name === "group") return `${b}/g/${enc(e.group_id)}`;
  return b;
}

// A datetime-local value ("2026-12-06T23:05:10", the browser's time zone) as ms.
function localMs(v) {
  const t = new Date(v).getTime();
  if (!Number.isFinite(t)) throw new Error(`Not a date: ${v}`);
  return t;
}

// scope: {bid, cid?, rid?, gid?}.
export async function historyScreen(view, scope) {
  const { bid, cid, rid, gid } = scope;
  const fixed = [];
  let title = `History of bucket ${bid}`;
  let kinds = ["bucket", "collection", "group", "record"];
  let texts = ["user_id", "collection_id", "record_id"];
  if (cid) { fixed.push(["collection_id", cid]); title = `History of collection ${cid}`; kinds = ["collection", "record"]; texts = ["user_id", "record_id"]; }
  if (rid) { fixed.push(["record_id", rid], ["resource_name", "record"]); title = `History of record ${rid}`; kinds = null; texts = ["user_id"]; }
  if (gid) { fixed.push(["group_id", gid], ["resource_name", "group"]); title = `History of group ${gid}`; kinds = null; texts = ["user_id"]; }

  const field = (id, label, input) => h("div", {}, h("label", { for: `history-${id}` }, label), h("br"), input);
  const inputs = {};
  const controls = [];
  if (kinds) {
    inputs.resource_name = h("select", { id: "history-resource_name", name: "resource_name" }, h("option", { value: "" }, "any"), kinds.map((k) => h("option", { value: k }, k)));
    controls.push(field("resource_name", "Object type", inputs.resource_name));
  }
  inputs.action = h("select", { id: "history-action", name: "action" }, h("option", { value: "" }, "any"), ["create", "update", "delete"].map((a) => h("option", { value: a }, a)));
  controls.push(field("action", "Action", inputs.action));
  const textLabels = { user_id: "User", collection_id: "Collection", record_id: "Record" };
  for (const f of texts) {
    inputs[f] = h("input", { id: `history-${f}`, name: f, size: 14 });
    controls.push(field(f, textLabels[f], inputs[f]));
  }
  const since = h("input", { id: "history-since", name: "since", type: "datetime-local", step: 1 });
  const before = h("input", { id: "history-before", name: "before", type: "datetime-local", step: 1 });
  controls.push(field("since", "Changed after (local time)", since), field("before", "Changed before (local time)", before));

  const box = h("div");
  async function load() {
    const q = fixed.map(([k, v]) => `&${k}=${enc(v)}`);
    for (const [f, el] of Object.entries(inputs)) if (el.value.trim()) q.push(`&${f}=${enc(el.value.trim())}`);
    if (since.value) q.push(`&_since=${localMs(since.value)}`);
    if (before.value) q.push(`&_before=${localMs(before.value)}`);
    const t = pagedTable("history", `/buckets/${enc(bid)}/history?_sort=-last_modified${q.join("")}`, [
      ["Date", (e) => h("time", { datetime: e.date }, e.date)],
      ["User", (e) => e.user_id],
      ["Action", (e) => h("span", { class: `action ${e.action}` }, e.action)],
      ["Object", (e) => h("a", { href: objectRoute(e) }, e.uri)],
      ["Content", (e) => h("details", {}, h("summary", {}, "show"), h("pre", {}, jsonText(e.target)))],
    ]);
    clear(box).append(t.box);
    await t.load();
  }
  const form = h("form", { class: "inline", id: "history-filter", "aria-label": "History filters" }, controls,
    h("button", { type: "submit", class: "secondary" }, "Filter"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); guarded(load); });
  const back = rid ? `#/b/${enc(bid)}/c/${enc(cid)}/r/${enc(rid)}` : cid ? `#/b/${enc(bid)}/c/${enc(cid)}` : gid ? `#/b/${enc(bid)}/g/${enc(gid)}` : `#/b/${enc(bid)}`;
  view.append(h("h1", {}, title),
    h("p", { class: "muted" }, "Newest first. ", h("a", { href: back }, rid ? "Back to the record" : cid ? "Back to the collection" : gid ? "Back to the group" : "Back to the bucket"),
      cid || gid ? [" · ", h("a", { href: `#/b/${enc(bid)}/history` }, "History of the whole bucket")] : null),
    form, box);
  await load();
}
