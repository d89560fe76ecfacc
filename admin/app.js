// app.js -- Herald's admin page: routes (location.hash), screens, and the review
// workflow over the publisher's Kinto API (api.js). Every value from the server is shown
// as text (dom.js); every write is conditional (If-Match with the object's
// last_modified, If-None-Match: * for a creation), and a 412 is shown, never retried.
// History (history.js), permissions and group members (perms.js) and accounts
// (accounts.js) are screens of their own modules; ui.js holds what all screens share.
import { call, listAll, signIn, signOut, signedIn, upload, ApiError } from "./api.js";
import { diffRecords } from "./diff.js";
import { h, clear, jsonText } from "./dom.js";
import { enc, fail, guarded, pagedTable, createForm, confirmButton, status, flash, takeFlash, setOnUnauthorized } from "./ui.js";
import { historyScreen } from "./history.js";
import { permissionsEditor, membersEditor } from "./perms.js";
import { accountsScreen, accountScreen } from "./accounts.js";

const view = document.getElementById("view");
let server = null; // GET /v1/ of the signed-in user
setOnUnauthorized(() => { signOut(); server = null; });

const esc = (s) => String(s);

// ---- routes ---------------------------------------------------------------------
const routes = [
  [/^#\/login$/, loginScreen],
  [/^#\/?$/, bucketsScreen],
  [/^#\/b\/([^/]+)$/, bucketScreen],
  [/^#\/b\/([^/]+)\/history$/, (bid) => historyScreen(view, { bid })],
  [/^#\/b\/([^/]+)\/g\/([^/]+)$/, groupScreen],
  [/^#\/b\/([^/]+)\/g\/([^/]+)\/history$/, (bid, gid) => historyScreen(view, { bid, gid })],
  [/^#\/b\/([^/]+)\/c\/([^/]+)\/history$/, (bid, cid) => historyScreen(view, { bid, cid })],
  [/^#\/b\/([^/]+)\/c\/([^/]+)\/r\/([^/]+)\/history$/, (bid, cid, rid) => historyScreen(view, { bid, cid, rid })],
  [/^#\/accounts$/, () => accountsScreen(view, server)],
  [/^#\/accounts\/([^/]+)$/, (id) => accountScreen(view, server, id)],
  [/^#\/b\/([^/]+)\/c\/([^/]+)$/, collectionScreen],
  [/^#\/b\/([^/]+)\/c\/([^/]+)\/review$/, reviewScreen],
  [/^#\/b\/([^/]+)\/c\/([^/]+)\/r\/([^/]+)$/, recordScreen],
];

async function route() {
  const hash = location.hash || "#/";
  fail(null);
  status(takeFlash());
  if (!signedIn() && hash !== "#/login") { location.hash = "#/login"; return; }
  if (signedIn() && !server) {
    const ok = await guarded(async () => { server = (await call("GET", "/")).body; });
    if (!ok && !server) { signOut(); location.hash = "#/login"; return; }
  }
  renderWho();
  for (const [re, screen] of routes) {
    const m = hash.match(re);
    if (m) {
      clear(view);
      crumbs(m.slice(1).map(decodeURIComponent), hash);
      await guarded(() => screen(...m.slice(1).map(decodeURIComponent)));
      const h1 = view.querySelector("h1");
      (h1 || view).setAttribute("tabindex", "-1");
      (h1 || view).focus();
      return;
    }
  }
  clear(view).append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the buckets")));
}

function renderWho() {
  const who = clear(document.getElementById("who"));
  if (!server || !server.user) return;
  who.append(h("span", { id: "user-id" }, `Signed in as ${server.user.id}`),
    server.capabilities.accounts ? h("a", { href: "#/accounts", id: "accounts-link" }, "Accounts") : null,
    h("button", { type: "button", class: "secondary", onclick: () => { signOut(); server = null; location.hash = "#/login"; route(); } }, "Sign out"));
}

function crumbs(ids, hash) {
  const ol = clear(document.getElementById("crumbs"));
  if (hash === "#/login") return;
  ol.append(h("li", {}, h("a", { href: "#/" }, "Buckets")));
  if (ids[0] && hash.startsWith("#/b/")) ol.append(h("li", {}, h("a", { href: `#/b/${enc(ids[0])}` }, ids[0])));
  if (ids[1] && /\/c\//.test(hash)) ol.append(h("li", {}, h("a", { href: `#/b/${enc(ids[0])}/c/${enc(ids[1])}` }, ids[1])));
  if (ids[1] && /\/g\//.test(hash)) ol.append(h("li", {}, h("a", { href: `#/b/${enc(ids[0])}/g/${enc(ids[1])}` }, `group ${ids[1]}`)));
  if (ids[2] && /\/r\//.test(hash)) ol.append(h("li", {}, h("a", { href: `#/b/${enc(ids[0])}/c/${enc(ids[1])}/r/${enc(ids[2])}` }, ids[2])));
  if (hash.startsWith("#/accounts")) ol.append(h("li", {}, h("a", { href: "#/accounts" }, "Accounts")));
}

// ---- sign in --------------------------------------------------------------------
async function loginScreen() {
  const user = h("input", { id: "login-user", name: "user", autocomplete: "username", required: true });
  const pw = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "stack", id: "login-form" },
    h("label", { for: "login-user" }, "Account"), user,
    h("label", { for: "login-password" }, "Password"), pw,
    h("p", {}, h("button", { type: "submit" }, "Sign in")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(async () => {
      signIn(user.value, pw.value);
      pw.value = "";
      const r = await call("GET", "/");
      if (!r.body.user) { signOut(); throw new Error("Wrong account or password"); }
      server = r.body;
      location.hash = "#/";
    });
  });
  view.append(h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "With a Herald account (Basic auth). The password stays in this tab's session storage."), form);
}

// ---- buckets, bucket ------------------------------------------------------------
async function bucketsScreen() {
  const t = pagedTable("buckets", "/buckets?_sort=id", [
    ["Bucket", (b) => h("a", { href: `#/b/${enc(b.id)}` }, b.id)],
    ["Last modified", (b) => new Date(b.last_modified).toISOString()],
  ]);
  // What the user may reach without reading a whole bucket (a reviewer through a
  // group): the collections of GET /v1/permissions, as Kinto Admin's sidebar shows.
  const mine = (await call("GET", "/permissions?resource_name=collection&_sort=bucket_id,collection_id")).data;
  const yours = mine.length ? h("ul", { id: "your-collections" }, mine.map((e) =>
    h("li", {}, h("a", { href: `#/b/${enc(e.bucket_id)}/c/${enc(e.collection_id)}` }, `${e.bucket_id}/${e.collection_id}`),
      " ", h("span", { class: "muted" }, e.permissions.slice().sort().join(", "))))) : h("p", { class: "muted" }, "None.");
  view.append(h("h1", {}, "Buckets"), t.box, h("h2", {}, "Your collections"), yours, h("h2", {}, "New bucket"),
    createForm("new-bucket", "Bucket id", "Create bucket", async (id) => {
      await call("PUT", `/buckets/${enc(id)}`, { body: { data: {} }, ifNoneMatch: true });
      location.hash = `#/b/${enc(id)}`;
    }));
  await t.load();
}

async function bucketScreen(bid) {
  const doc = { obj: await call("GET", `/buckets/${enc(bid)}`) };
  const cols = pagedTable("collections", `/buckets/${enc(bid)}/collections?_sort=id`, [
    ["Collection", (c) => h("a", { href: `#/b/${enc(bid)}/c/${enc(c.id)}` }, c.id)],
    ["Status", (c) => c.status || ""],
  ]);
  const groups = pagedTable("groups", `/buckets/${enc(bid)}/groups?_sort=id`, [
    ["Group", (g) => h("a", { href: `#/b/${enc(bid)}/g/${enc(g.id)}` }, g.id)],
    ["Members", (g) => (g.members || []).join(", ")],
  ]);
  view.append(h("h1", {}, `Bucket ${esc(bid)}`),
    h("p", {}, h("a", { href: `#/b/${enc(bid)}/history` }, "History of this bucket")),
    h("h2", {}, "Collections"), cols.box,
    createForm("new-collection", "Collection id", "Create collection", async (id) => {
      await call("PUT", `/buckets/${enc(bid)}/collections/${enc(id)}`, { body: { data: {} }, ifNoneMatch: true });
      location.hash = `#/b/${enc(bid)}/c/${enc(id)}`;
    }),
    h("h2", {}, "Groups"), groups.box,
    createForm("new-group", "Group id", "Create group", async (id) => {
      await call("PUT", `/buckets/${enc(bid)}/groups/${enc(id)}`, { body: { data: { members: [] } }, ifNoneMatch: true });
      location.hash = `#/b/${enc(bid)}/g/${enc(id)}`;
    }),
    permissionsEditor("bucket", `/buckets/${enc(bid)}`, doc, { bid, me: server.user.id }));
  await cols.load();
  await groups.load();
}

// ---- review workflow ------------------------------------------------------------
// The resource (capabilities.signer) whose source is bucket 'bid', collection 'cid':
// {source, preview, destination} as {bucket, collection}, or null.
function resourceOf(bid, cid) {
  const rs = (server && server.capabilities.signer && server.capabilities.signer.resources) || [];
  const r = rs.find((x) => x.source.bucket === bid && x.source.collection === cid) ||
    rs.find((x) => x.source.bucket === bid && x.source.collection === null);
  if (!r) return null;
  const at = (s) => (s ? { bucket: s.bucket, collection: s.collection || cid } : null);
  return { source: at(r.source), preview: at(r.preview), destination: at(r.destination) };
}

function reviewPanel(bid, cid, coll, reload) {
  const res = resourceOf(bid, cid);
  if (!res) return null;
  const d = coll.data;
  const comment = h("textarea", { id: "review-comment", rows: 2 });
  const act = (label, id, cls, patch) => h("button", { type: "button", id, class: cls, onclick: () => guarded(async () => {
    const body = { data: patch(comment.value) };
    try {
      await call("PATCH", `/buckets/${enc(bid)}/collections/${enc(cid)}`, { body, ifMatch: d.last_modified });
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) throw new Error("Conflict: the collection changed since this page was loaded; nothing was changed. Reload to see its current state.");
      throw e;
    }
    status(`${label}: done.`);
    await reload();
  }) }, label);
  const buttons = [];
  if (d.status === "work-in-progress") buttons.push(act("Request review", "request-review", "", (c) => ({ status: "to-review", last_editor_comment: c })));
  if (d.status === "to-review") {
    buttons.push(act("Approve", "approve", "", () => ({ status: "to-sign" })));
    buttons.push(act("Decline", "decline", "danger", (c) => ({ status: "work-in-progress", last_reviewer_comment: c })));
  }
  if (d.status === "work-in-progress" || d.status === "to-review") buttons.push(act("Roll back changes", "rollback", "secondary", () => ({ status: "to-rollback" })));
  const link = (s, text) => h("a", { href: `#/b/${enc(s.bucket)}/c/${enc(s.collection)}` }, text);
  return h("section", { class: "review", "aria-labelledby": "review-h" },
    h("h2", { id: "review-h" }, "Review"),
    h("p", {}, "Status: ", h("strong", { id: "review-status" }, d.status || "unknown")),
    d.last_review_request_by ? h("p", {}, `Review requested by ${d.last_review_request_by}: `, h("q", { id: "editor-comment" }, d.last_editor_comment || "")) : null,
    d.last_reviewer_comment ? h("p", {}, "Reviewer comment: ", h("q", { id: "reviewer-comment" }, d.last_reviewer_comment)) : null,
    h("p", {}, h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}/review`, id: "diff-link" }, "Changes against the published collection"),
      res.preview ? [" · ", link(res.preview, "Preview")] : null, " · ", link(res.destination, "Published")),
    buttons.length ? [h("label", { for: "review-comment" }, "Comment"), comment, h("p", { class: "pager" }, buttons)] : null);
}

// ---- what clients get: the read server's view of a collection -------------------
let pageConfig = null;
async function config() {
  if (!pageConfig) pageConfig = await (await fetch("config.json", { cache: "no-store" })).json();
  return pageConfig;
}

// Version, record count, signature expiry and key ids as a read server serves the
// collection, and whether that is the publisher's current version.
async function servedPanel(bid, cid, base, destination) {
  const rs = (await config()).read_server_url;
  const box = h("section", { "aria-labelledby": "served-h", id: "served" }, h("h2", { id: "served-h" }, "What clients get"));
  if (destination) box.append(h("p", {}, "This collection is published as ", h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}`, id: "served-destination" }, `${bid}/${cid}`), " once approved:"));
  if (!rs) { box.append(h("p", { class: "muted" }, "No read server configured (admin_read_server_url).")); return box; }
  let current = null;
  try {
    const head = await call("GET", `${base}/records?_limit=1`);
    current = Number((head.headers.get("ETag") || "").replace(/"/g, ""));
  } catch (e) {
    box.append(h("p", { class: "muted" }, `The publisher's version of ${bid}/${cid} is unknown (${e.status || ""} ${e.kintoMessage || e.message}).`));
  }
  let res;
  try {
    res = await fetch(`${rs.replace(/\/$/, "")}/v1/buckets/${enc(bid)}/collections/${enc(cid)}/changeset`, { cache: "no-store", credentials: "omit" });
  } catch (e) {
    box.append(h("p", {}, `The read server ${rs} did not answer: ${e.message}`));
    return box;
  }
  if (res.status !== 200) {
    box.append(h("p", { id: "served-none" }, `${rs} does not serve this collection (HTTP ${res.status}): it is not published, or not yet signed.`));
    return box;
  }
  const cs = await res.json();
  const sig = cs.metadata && cs.metadata.signature;
  const headInfo = (sig && sig.head) || {};
  const dl = h("dl", { id: "served-info" },
    h("dt", {}, "Served version"), h("dd", { id: "served-version" }, `${cs.timestamp} (${new Date(cs.timestamp).toISOString()})`),
    h("dt", {}, "Records"), h("dd", {}, String(cs.changes.length)),
    h("dt", {}, "Signature expires"), h("dd", { id: "served-expires" }, headInfo.expires ? new Date(headInfo.expires).toISOString() : "unknown"),
    h("dt", {}, "Key ids"), h("dd", { id: "served-keys" }, ((cs.metadata && cs.metadata.signatures) || (sig ? [sig] : [])).map((x) => x.key_id).join(", ")),
    h("dt", {}, "Publisher's version"), h("dd", {}, current === null ? "unknown" : String(current)),
    h("dt", {}, "Up to date"), h("dd", { id: "served-current" }, current === null ? "unknown" : cs.timestamp === current ? "yes: the read server serves the current version" : "not yet: the read server serves an older version"));
  box.append(dl);
  return box;
}

// ---- collection: records --------------------------------------------------------
async function collectionScreen(bid, cid) {
  const base = `/buckets/${enc(bid)}/collections/${enc(cid)}`;
  const doc = { obj: await call("GET", base) };
  const coll = doc.obj;
  const filter = h("input", { id: "records-filter", name: "filter", placeholder: "e.g. has_enabled=true&like_id=a*", size: 40 });
  const recordsBox = h("div");
  async function loadRecords() {
    const q = filter.value.trim().replace(/^\?/, "");
    const t = pagedTable("records", `${base}/records?_sort=id${q ? "&" + q : ""}`, [
      ["Id", (r) => h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}/r/${enc(r.id)}` }, r.id)],
      ["Content", (r) => { const { id, last_modified, ...rest } = r; const s = JSON.stringify(rest); return h("span", { class: "json record-content" }, s.length > 300 ? s.slice(0, 300) + "…" : s); }],
    ]);
    clear(recordsBox).append(t.box);
    await t.load();
  }
  const filterForm = h("form", { class: "inline", id: "records-filter-form" },
    h("div", {}, h("label", { for: "records-filter" }, "Filter (Kinto query)"), h("br"), filter),
    h("button", { type: "submit", class: "secondary" }, "Apply"));
  filterForm.addEventListener("submit", (ev) => { ev.preventDefault(); guarded(loadRecords); });
  const reload = () => route();
  view.append(h("h1", {}, `Collection ${esc(cid)}`),
    reviewPanel(bid, cid, coll, reload) || "",
    h("p", {}, h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}/history`, id: "collection-history" }, "History of this collection")),
    h("h2", {}, "Records"),
    h("p", {}, h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}/r/_new`, id: "new-record" }, "New record")),
    filterForm, recordsBox,
    // A permissions change moves the collection's last_modified, which the review
    // panel's If-Match uses: the screen is drawn again.
    permissionsEditor("collection", base, doc, { bid, me: server.user.id }, async () => { flash("Permissions saved."); await reload(); }));
  await loadRecords();
  const res = resourceOf(bid, cid);
  const pub = res && (res.destination.bucket !== bid || res.destination.collection !== cid) ? res.destination : null;
  view.append(pub ? await servedPanel(pub.bucket, pub.collection, `/buckets/${enc(pub.bucket)}/collections/${enc(pub.collection)}`, true)
    : await servedPanel(bid, cid, base, false));
}

// ---- one record (or a group): the JSON editor -----------------------------------
// 'path' the object's URL, 'isNew' for a creation, 'back' the hash route to return to.
async function jsonEditor(title, path, isNew, back, idLabel, doc = { obj: null }) {
  if (!isNew) doc.obj = await call("GET", path);
  const ta = h("textarea", { id: "editor", spellcheck: "false", "aria-describedby": "editor-errors" });
  const errors = h("div", { id: "editor-errors", class: "field-error", "aria-live": "polite" });
  const idInput = isNew ? h("input", { id: "editor-id", name: "id", pattern: "[a-zA-Z0-9][a-zA-Z0-9_\\-]*", placeholder: "empty: a new UUID" }) : null;
  // The attachment is the attachment panel's: not in the text, kept on save.
  if (doc.obj) { const { id, last_modified, attachment, ...rest } = doc.obj.data; ta.value = jsonText(rest); } else ta.value = "{\n}";
  const shown = h("pre", { id: "editor-current" });

  function showErrors(e) {
    clear(errors);
    if (e instanceof SyntaxError) { errors.textContent = `Not JSON: ${e.message}`; return; }
    if (e instanceof ApiError && e.status === 412) {
      const now = e.body.details && e.body.details.existing;
      errors.append(h("strong", {}, "Conflict: someone changed this since you opened it. Your edit was NOT saved."),
        h("br"), now ? `Current version (last_modified ${now.last_modified}):` : "It was deleted.");
      shown.textContent = now ? jsonText(now) : "";
      return;
    }
    if (e instanceof ApiError) {
      errors.append(`${e.status}: ${e.kintoMessage}`);
      for (const d of e.body.details || []) errors.append(h("br"), `${[d.location, d.name].filter(Boolean).join(" ")}: ${d.description || ""}`);
      const at = locate(`${e.kintoMessage} ${(e.body.details || []).map((d) => d.description).join(" ")}`);
      if (at) {
        errors.append(h("br"), h("span", { id: "editor-error-at" }, at.where));
        ta.focus();
        ta.setSelectionRange(at.start, at.end);
      }
      return;
    }
    errors.textContent = String(e.message || e);
  }
  // Where in the editor a server error points: Herald's I-JSON errors name a JSON
  // Pointer ("at '/data/a/0'") or a line and column of the body we sent ('{"data":'
  // and the editor's text). Returns {where, start, end} or null.
  function locate(message) {
    const text = ta.value;
    const ptr = message.match(/at '\/data((?:\/[^']*)?)'/);
    if (ptr) {
      const path = ptr[1].split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
      const key = path.filter((p) => !/^\d+$/.test(p)).pop();
      const i = key === undefined ? -1 : text.indexOf(JSON.stringify(key));
      return { where: `At field ${path.length ? path.join(".") : "(the data)"}`, start: Math.max(i, 0), end: i < 0 ? 0 : i + JSON.stringify(key).length };
    }
    const lc = message.match(/line (\d+) column (\d+)/);
    if (lc) {
      const line = Number(lc[1]), col = Number(lc[2]) - (Number(lc[1]) === 1 ? 8 : 0);
      const lines = text.split("\n");
      let start = 0;
      for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
      start = Math.min(start + Math.max(col - 1, 0), text.length);
      return { where: `At line ${line}, column ${Math.max(col, 1)} of the editor`, start, end: Math.min(start + 1, text.length) };
    }
    return null;
  }
  // A record with an attachment is saved as a JSON Patch of its other fields: the
  // publisher refuses a PUT that echoes the attachment unchanged (400 "Attachment
  // metadata cannot be modified", a publisher bug), and a PUT without it would drop
  // it. Values are then re-serialized, so a number JSON.parse made infinite is refused
  // here (duplicate keys cannot be seen after parsing: the last one wins).
  function attachmentPatch(data) {
    const bad = nonFinite(data, "");
    if (bad !== null) throw new Error(`Number out of range at field ${bad.slice(1) || "(the data)"}`);
    const esc = (k) => k.replace(/~/g, "~0").replace(/\//g, "~1");
    const ops = [];
    for (const k of Object.keys(doc.obj.data)) {
      if (["id", "last_modified", "attachment"].includes(k) || k in data) continue;
      ops.push({ op: "remove", path: `/data/${esc(k)}` });
    }
    for (const [k, v] of Object.entries(data)) ops.push({ op: "add", path: `/data/${esc(k)}`, value: v });
    return ops;
  }
  function nonFinite(v, at) {
    if (typeof v === "number" && !Number.isFinite(v)) return at;
    if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) { const r = nonFinite(x, `${at}.${k}`); if (r !== null) return r; }
    return null;
  }
  async function save() {
    clear(errors); shown.textContent = "";
    let data;
    try { data = JSON.parse(ta.value); } catch (e) { showErrors(e); return; }
    if (data === null || typeof data !== "object" || Array.isArray(data)) { errors.textContent = "The data must be a JSON object."; return; }
    try {
      if (isNew) {
        const id = (idInput.value || crypto.randomUUID()).trim();
        await call("PUT", `${path}/${enc(id)}`, { raw: `{"data":${ta.value}}`, ifNoneMatch: true });
        status(`Created ${id}.`);
        location.hash = `${back}/${idLabel}/${enc(id)}`;
      } else {
        if (doc.obj.data.attachment) doc.obj = await call("PATCH", path, { body: attachmentPatch(data), type: "application/json-patch+json", ifMatch: doc.obj.data.last_modified });
        else doc.obj = await call("PUT", path, { raw: `{"data":${ta.value}}`, ifMatch: doc.obj.data.last_modified });
        view.querySelector("#editor-lm").textContent = String(doc.obj.data.last_modified);
        status(`Saved (last_modified ${doc.obj.data.last_modified}).`);
      }
    } catch (e) { showErrors(e); }
  }
  let armed = false;
  const del = isNew ? null : h("button", { type: "button", class: "danger", id: "delete", onclick: async () => {
    if (!armed) { armed = true; del.textContent = "Really delete?"; return; }
    try { await call("DELETE", path, { ifMatch: doc.obj.data.last_modified }); status("Deleted."); location.hash = back; } catch (e) { showErrors(e); }
  } }, "Delete");
  const form = h("form", { class: "stack", id: "editor-form" },
    isNew ? [h("label", { for: "editor-id" }, "Id"), idInput] : h("p", {}, "Id: ", h("code", { id: "editor-record-id" }, doc.obj.data.id), " · last modified ", h("span", { id: "editor-lm" }, String(doc.obj.data.last_modified))),
    h("label", { for: "editor" }, "Data (JSON)"), ta, errors,
    h("p", { class: "pager" }, h("button", { type: "submit" }, "Save"), del, h("a", { href: back }, "Back")), shown);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); save(); });
  view.append(h("h1", {}, title), form);
  if (!isNew && idLabel === "r" && server.capabilities.attachments) view.append(attachmentPanel(path, () => doc.obj, showErrors));
}

// The download URL of an attachment: the capability's base_url and the location the
// publisher wrote ("<h0h1>/<sha256>"); anything else is not made a link.
function attachmentUrl(att) {
  const base = server.capabilities.attachments.base_url || "";
  if (!/^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(att.location || "") || !/^https?:\/\/[^\s"'<>]+$/.test(base)) return null;
  return base + att.location;
}

// A record's attachment: what it is, a download link, upload with a progress bar,
// removal. Writes use the record's last_modified (If-Match).
function attachmentPanel(path, current, showErrors) {
  const att = current().data.attachment;
  const file = h("input", { id: "attachment-file", type: "file" });
  const bar = h("progress", { id: "attachment-progress", max: 100, value: 0, "aria-label": "Upload progress" });
  const box = h("section", { "aria-labelledby": "attachment-h", id: "attachment" }, h("h2", { id: "attachment-h" }, "Attachment"));
  if (att) {
    const url = attachmentUrl(att);
    const link = h("a", { id: "attachment-link", download: att.filename }, att.filename);
    if (url) link.setAttribute("href", url); // set directly: dom.js links only routes
    box.append(h("p", {}, link, ` · ${att.size} bytes · ${att.mimetype} · sha256 `, h("code", { id: "attachment-hash" }, att.hash)));
  } else box.append(h("p", { class: "muted" }, "No attachment."));
  const send = h("button", { type: "button", id: "attachment-upload", onclick: () => guarded(async () => {
    if (!file.files.length) throw new Error("Choose a file first.");
    try {
      await upload(path, file.files[0], current().data.last_modified, (sent, total) => { bar.max = total || 1; bar.value = sent; });
    } catch (e) { showErrors(e); return; }
    const name = file.files[0].name, shown = `${bar.value} of ${bar.max} bytes sent`;
    await route();
    status(`Uploaded ${name} (${shown}).`);
  }) }, att ? "Replace" : "Upload");
  const del = att ? h("button", { type: "button", class: "danger", id: "attachment-delete", onclick: () => guarded(async () => {
    try { await call("DELETE", `${path}/attachment`, { ifMatch: current().data.last_modified }); } catch (e) { showErrors(e); return; }
    status("Attachment removed.");
    await route();
  }) }, "Remove attachment") : null;
  box.append(h("p", { class: "pager" }, h("label", { for: "attachment-file" }, "File"), file, send, del), bar);
  return box;
}

async function recordScreen(bid, cid, rid) {
  const base = `/buckets/${enc(bid)}/collections/${enc(cid)}/records`;
  const back = `#/b/${enc(bid)}/c/${enc(cid)}`;
  if (rid === "_new") return jsonEditor("New record", base, true, back, "r");
  // One copy of the record for the JSON editor, the attachment panel and the
  // permissions editor: each write starts from the version the last one left.
  const doc = { obj: null };
  await jsonEditor(`Record ${esc(rid)}`, `${base}/${enc(rid)}`, false, back, "r", doc);
  view.querySelector("#editor-form").after(h("p", {}, h("a", { href: `${back}/r/${enc(rid)}/history`, id: "record-history" }, "History of this record")));
  view.append(permissionsEditor("record", `${base}/${enc(rid)}`, doc, { bid, me: server.user.id }, () => {
    view.querySelector("#editor-lm").textContent = String(doc.obj.data.last_modified);
  }));
}

// A group: its members and permissions, each saved with If-Match; deletion.
async function groupScreen(bid, gid) {
  const path = `/buckets/${enc(bid)}/groups/${enc(gid)}`;
  const doc = { obj: await call("GET", path) };
  const ctx = { bid, me: server.user.id };
  view.append(h("h1", {}, `Group ${esc(gid)}`),
    h("p", {}, "Principal ", h("code", { id: "group-principal" }, `/buckets/${bid}/groups/${gid}`), " · ",
      h("a", { href: `#/b/${enc(bid)}/g/${enc(gid)}/history`, id: "group-history" }, "History of this group")),
    membersEditor(path, doc, ctx),
    permissionsEditor("group", path, doc, ctx),
    h("h2", {}, "Delete"),
    h("p", {}, confirmButton("Delete group", "group-delete", async () => {
      try {
        await call("DELETE", path, { ifMatch: doc.obj.data.last_modified });
      } catch (e) {
        if (e instanceof ApiError && e.status === 412) throw new Error("Conflict: the group changed since this page was loaded; it was not deleted. Reload to see it.");
        throw e;
      }
      flash(`Group ${gid} deleted.`);
      location.hash = `#/b/${enc(bid)}`;
    })));
}

// ---- review: the diff -----------------------------------------------------------
async function reviewScreen(bid, cid) {
  const res = resourceOf(bid, cid);
  if (!res) throw new Error(`${bid}/${cid} is not under review (capabilities.signer)`);
  const recs = (b, c) => listAll(`/buckets/${enc(b)}/collections/${enc(c)}/records?_sort=id`);
  view.append(h("h1", {}, `Changes in ${esc(cid)}`), h("p", { class: "muted", id: "diff-loading" }, "Comparing…"));
  const [src, dst] = await Promise.all([recs(bid, cid), recs(res.destination.bucket, res.destination.collection)]);
  const d = diffRecords(src, dst);
  view.querySelector("#diff-loading").remove();
  view.append(h("p", { class: "counts", id: "diff-counts" },
    h("span", {}, `${d.added} added`), h("span", {}, `${d.changed} changed`), h("span", {}, `${d.removed} removed`),
    h("span", { class: "muted" }, `(${src.length} records in the workspace, ${dst.length} published)`)));
  const list = h("div", { id: "diff" }, d.records.length ? h("div", { class: "diff-field muted", "aria-hidden": "true" }, h("span", {}, "field"), h("span", {}, "published"), h("span", {}, "workspace")) : null);
  view.append(list);
  let shownCount = 0;
  const more = h("button", { type: "button", class: "secondary", id: "diff-more", onclick: () => page() }, "Show more");
  // Renders 100 changed records at a time: a review of thousands stays responsive.
  function page() {
    for (const r of d.records.slice(shownCount, shownCount + 100)) {
      list.append(h("article", { class: `diff-rec ${r.kind}`, "data-id": r.id },
        h("h3", {}, `${r.kind}: `, h("code", {}, r.id)),
        r.fields.map((f) => h("div", { class: "diff-field" },
          h("code", {}, f.field),
          h("pre", { class: "before", "aria-label": `${f.field} before` }, f.before === undefined ? "—" : jsonText(f.before)),
          h("pre", { class: "after", "aria-label": `${f.field} after` }, f.after === undefined ? "—" : jsonText(f.after))))));
    }
    shownCount += 100;
    if (shownCount >= d.records.length) more.remove();
  }
  page();
  if (shownCount < d.records.length) view.append(more);
  if (!d.records.length) list.append(h("p", {}, "No changes."));
  view.append(h("p", {}, h("a", { href: `#/b/${enc(bid)}/c/${enc(cid)}` }, "Back to the collection")));
}

window.addEventListener("hashchange", route);
route();
