// perms.js -- the permissions of a bucket, collection, group or record, and a group's
// members, as lists of principals to add to and remove from. Edits stay local until
// saved; a save is one PATCH naming every permission of the object (Kinto replaces each
// named permission), with If-Match on the version the edit started from. A 412 shows
// the server's current version next to the unsaved edit: nothing is overwritten or
// retried.
import { call, ApiError } from "./api.js";
import { h, clear } from "./dom.js";
import { guarded, status } from "./ui.js";

// What each kind of object may grant (publisher/perms.c, Kinto's).
export const PERMISSIONS = {
  bucket: ["read", "write", "collection:create", "group:create"],
  collection: ["read", "write", "record:create"],
  group: ["read", "write"],
  record: ["read", "write"],
};

// A principal as Kinto writes them: system.Everyone, system.Authenticated,
// account:<id>, a group URI /buckets/<bid>/groups/<gid>, or another authentication's
// "<prefix>:<id>". No spaces.
export function validPrincipal(p) {
  return /^(system\.(Everyone|Authenticated)|\/buckets\/[A-Za-z0-9_-]+\/groups\/[A-Za-z0-9_-]+|[a-z][a-z0-9_-]*:[^\s]+)$/.test(p);
}

const INHERIT = {
  bucket: " These apply to every collection, group and record of the bucket.",
  collection: " These apply to every record of the collection (with the bucket's).",
  group: " The bucket's permissions apply too.",
  record: " The collection's and the bucket's permissions apply too.",
};

const slug = (s) => s.replace(/[^a-z0-9]+/gi, "-");

// A list of principals with a remove button each and an add field. 'list' is edited in
// place; 'changed()' is called after each edit. 'label' names the list for screen
// readers ("read", "members").
function principalList(id, label, list, changed, suggestions) {
  const ul = h("ul", { class: "principals", id: `${id}-list`, "aria-label": label });
  const input = h("input", { id: `${id}-add`, name: `${id}-add`, size: 28, list: suggestions ? "principal-suggestions" : null, autocomplete: "off" });
  const note = h("span", { class: "field-error", id: `${id}-note`, "aria-live": "polite" });
  function draw() {
    clear(ul);
    if (!list.length) ul.append(h("li", { class: "muted" }, "nobody"));
    list.forEach((p, i) => ul.append(h("li", {}, h("code", {}, p), " ",
      // The button goes away with the entry: focus moves to the add field.
      h("button", { type: "button", class: "secondary small", "aria-label": `Remove ${p} from ${label}`, onclick: () => { list.splice(i, 1); draw(); changed(); input.focus(); } }, "Remove"))));
  }
  function add() {
    const p = input.value.trim();
    note.textContent = "";
    if (!p) return;
    if (!validPrincipal(p)) { note.textContent = `Not a principal: ${p} (system.Everyone, system.Authenticated, account:<id>, /buckets/<bucket>/groups/<group>)`; return; }
    if (!list.includes(p)) list.push(p);
    input.value = "";
    draw();
    changed();
  }
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); add(); } });
  draw();
  return h("div", { class: "principal-edit" }, ul,
    h("div", { class: "inline" }, h("label", { for: `${id}-add` }, `Add to ${label}`), " ", input, " ",
      h("button", { type: "button", class: "secondary", id: `${id}-add-button`, onclick: add }, "Add")), note);
}

// The principals the page suggests: the well-known ones, the user, the bucket's groups.
async function suggestions(bid, me) {
  const out = ["system.Everyone", "system.Authenticated"];
  if (me && me.startsWith("account:")) out.push(me);
  try {
    const r = await call("GET", `/buckets/${encodeURIComponent(bid)}/groups?_limit=100&_sort=id&_fields=id`);
    for (const g of r.data) out.push(`/buckets/${bid}/groups/${g.id}`);
  } catch { /* a reader of a collection may not list the bucket's groups: no suggestions then */ }
  return h("datalist", { id: "principal-suggestions" }, out.map((p) => h("option", { value: p })));
}

// A conflict: what the server has now, next to the edit that was not saved.
function conflictBox(id, what, mine, current, render, onReload) {
  return h("div", { class: "conflict", id: `${id}-conflict`, role: "alert" },
    h("strong", {}, `Conflict: the ${what} changed since you opened them. Your edit was NOT saved.`),
    h("div", { class: "side-by-side" },
      h("div", {}, h("h3", {}, "Now on the server"), h("div", { id: `${id}-server` }, render(current))),
      h("div", {}, h("h3", {}, "Your unsaved edit"), h("div", { id: `${id}-mine` }, render(mine)))),
    h("p", {}, h("button", { type: "button", id: `${id}-reload`, onclick: onReload }, "Start again from the server's version")));
}

function permsTable(perms, names) {
  return h("dl", { class: "perm-list" }, names.flatMap((n) => [h("dt", {}, n), h("dd", {}, (perms[n] || []).join(", ") || "nobody")]));
}

// The permissions editor of the object at 'path' (kind: bucket, collection, group,
// record). 'doc.obj' is the object as last read or written ({data, body}), shared with
// the other editors of the screen so that each save starts from the latest version;
// 'onSaved()' runs after a save. 'ctx' {bid, me} for the suggestions.
export function permissionsEditor(kind, path, doc, ctx, onSaved) {
  const section = h("section", { id: "permissions", "aria-labelledby": "permissions-h" }, h("h2", { id: "permissions-h" }, "Permissions"));
  if (!doc.obj.body.permissions) {
    section.append(h("p", { class: "muted" }, "Only those who may write this object see and change its permissions."));
    return section;
  }
  const names = PERMISSIONS[kind];
  const body = h("div");
  section.append(body);
  suggestions(ctx.bid, ctx.me).then((dl) => section.append(dl));
  function draw() {
    const base = doc.obj.body.permissions;
    const edit = Object.fromEntries(names.map((n) => [n, (base[n] || []).slice()]));
    const dirty = h("span", { class: "muted", id: "permissions-dirty", "aria-live": "polite" });
    const changed = () => { dirty.textContent = "Unsaved changes."; };
    const save = h("button", { type: "button", id: "permissions-save", onclick: () => guarded(async () => {
      const old = body.querySelector(".conflict");
      if (old) old.remove();
      try {
        const r = await call("PATCH", path, { body: { permissions: edit }, ifMatch: doc.obj.data.last_modified });
        doc.obj = r;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 412)) throw e;
        const now = await call("GET", path);
        const current = now.body.permissions || {};
        body.append(conflictBox("permissions", "permissions", edit, current, (p) => permsTable(p, names), () => { doc.obj = now; draw(); if (onSaved) onSaved(); }));
        return;
      }
      draw();
      status("Permissions saved.");
      if (onSaved) await onSaved();
    }) }, "Save permissions");
    clear(body).append(
      h("table", { class: "perm-table" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Permission"), h("th", { scope: "col" }, "Principals"))),
        h("tbody", {}, names.map((n) => h("tr", { id: `perm-${slug(n)}` }, h("th", { scope: "row" }, n), h("td", {}, principalList(`perm-${slug(n)}`, n, edit[n], changed, true)))))),
      h("p", { class: "muted" }, `The publisher always keeps whoever saves in write. Write implies read.${INHERIT[kind]}`),
      h("p", { class: "pager" }, save, dirty));
  }
  draw();
  return section;
}

// A group's members: the same list editor, saved as PATCH {data: {members}} with
// If-Match. 'doc' as for permissionsEditor.
export function membersEditor(path, doc, ctx, onSaved) {
  const section = h("section", { id: "members", "aria-labelledby": "members-h" }, h("h2", { id: "members-h" }, "Members"));
  const body = h("div");
  section.append(body);
  function draw() {
    const list = (doc.obj.data.members || []).slice();
    const dirty = h("span", { class: "muted", id: "members-dirty", "aria-live": "polite" });
    const save = h("button", { type: "button", id: "members-save", onclick: () => guarded(async () => {
      const old = body.querySelector(".conflict");
      if (old) old.remove();
      try {
        doc.obj = await call("PATCH", path, { body: { data: { members: list } }, ifMatch: doc.obj.data.last_modified });
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 412)) throw e;
        const now = await call("GET", path);
        const render = (m) => h("ul", {}, (m.length ? m : ["nobody"]).map((p) => h("li", {}, p)));
        body.append(conflictBox("members", "members", list, now.data.members || [], render, () => { doc.obj = now; draw(); if (onSaved) onSaved(); }));
        return;
      }
      draw();
      status("Members saved.");
      if (onSaved) await onSaved();
    }) }, "Save members");
    clear(body).append(principalList("members", "members", list, () => { dirty.textContent = "Unsaved changes."; }, false),
      h("p", { class: "muted" }, "Members are principals, usually account:<id>. Membership takes effect on the next request."),
      h("p", { class: "pager" }, save, dirty));
  }
  draw();
  return section;
}
