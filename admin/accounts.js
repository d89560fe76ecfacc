// accounts.js -- Kinto accounts (PUT /v1/accounts/{id}, capabilities.accounts): change
// one's own password, list the accounts one may read, create an account, and set the
// password of or delete an account one may write. Every write is conditional
// (If-Match on an existing account, If-None-Match: * for a new one). After a change of
// one's own password the session's credentials are replaced, since the old ones stop
// working.
import { call, signIn, signOut, ApiError } from "./api.js";
import { h } from "./dom.js";
import { enc, guarded, pagedTable, status, flash, confirmButton } from "./ui.js";

// The built-in admin is configured (HERALD_ADMIN_PASSWORD), not an account object.
const isBuiltinAdmin = (userId) => userId === "account:admin";

// A password form: new password twice. 'onSave(password)'.
function passwordForm(id, title, onSave) {
  const pw = h("input", { id: `${id}-password`, type: "password", autocomplete: "new-password", required: true });
  const again = h("input", { id: `${id}-again`, type: "password", autocomplete: "new-password", required: true });
  const form = h("form", { class: "stack", id },
    h("h2", { id: `${id}-h` }, title),
    h("label", { for: `${id}-password` }, "New password"), pw,
    h("label", { for: `${id}-again` }, "New password again"), again,
    h("p", {}, h("button", { type: "submit" }, "Set password")));
  form.setAttribute("aria-labelledby", `${id}-h`);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(async () => {
      if (pw.value !== again.value) throw new Error("The two passwords differ.");
      const p = pw.value;
      pw.value = again.value = "";
      await onSave(p);
    });
  });
  return form;
}

function conflictText(e, what) {
  if (e instanceof ApiError && e.status === 412) return new Error(`Conflict: ${what} changed since this page was loaded; nothing was changed. Reload to see it.`);
  return e;
}

// #/accounts: the signed-in user's account, the accounts they may read, a creation form.
export async function accountsScreen(view, server) {
  const me = server.user.id;
  view.append(h("h1", {}, "Accounts"));
  const mine = h("section", { id: "my-account", "aria-labelledby": "my-account-h" }, h("h2", { id: "my-account-h" }, "Your account"));
  view.append(mine);
  if (isBuiltinAdmin(me)) {
    mine.append(h("p", {}, "You are the built-in ", h("code", {}, "admin"), ": its password is the publisher's HERALD_ADMIN_PASSWORD and cannot be changed here."));
  } else if (me.startsWith("account:")) {
    const id = me.slice("account:".length);
    let acc = await call("GET", `/accounts/${enc(id)}`);
    mine.append(h("p", {}, "Account ", h("code", { id: "my-account-id" }, id), " · last modified ", h("span", { class: "muted", id: "my-account-lm" }, new Date(acc.data.last_modified).toISOString())),
      passwordForm("my-password", "Change your password", async (p) => {
        try {
          acc = await call("PUT", `/accounts/${enc(id)}`, { body: { data: { password: p } }, ifMatch: acc.data.last_modified });
        } catch (e) { throw conflictText(e, "your account"); }
        signIn(id, p); // the old password no longer works
        mine.querySelector("#my-account-lm").textContent = new Date(acc.data.last_modified).toISOString();
        status("Password changed. This tab now uses the new password.");
      }));
  } else {
    mine.append(h("p", {}, `You are signed in as ${me}, which is not an account of this publisher.`));
  }

  const list = pagedTable("accounts", "/accounts?_sort=id", [
    ["Account", (a) => h("a", { href: `#/accounts/${enc(a.id)}` }, a.id)],
    ["Last modified", (a) => new Date(a.last_modified).toISOString()],
  ]);
  view.append(h("h2", {}, "Accounts you may manage"), h("p", { class: "muted" }, "Yours, or every account for accounts administrators (account_write_principals) and admin."), list.box);

  const root = (await call("GET", "/permissions?resource_name=root")).data;
  if (root.some((e) => e.permissions.includes("account:create"))) {
    const uid = h("input", { id: "new-account-id", name: "id", pattern: "[a-zA-Z0-9][a-zA-Z0-9_.@\\-]*", required: true, autocomplete: "off" });
    const pw = h("input", { id: "new-account-password", type: "password", autocomplete: "new-password", required: true });
    const form = h("form", { class: "inline", id: "new-account" },
      h("div", {}, h("label", { for: "new-account-id" }, "Account id"), h("br"), uid),
      h("div", {}, h("label", { for: "new-account-password" }, "Password"), h("br"), pw),
      h("button", { type: "submit" }, "Create account"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      guarded(async () => {
        const p = pw.value;
        pw.value = "";
        await call("PUT", `/accounts/${enc(uid.value)}`, { body: { data: { password: p } }, ifNoneMatch: true });
        status(`Account ${uid.value} created.`);
        uid.value = "";
        await list.load();
      });
    });
    view.append(h("h2", {}, "New account"),
      h("p", { class: "muted" }, "Only accounts administrators and admin may create accounts for others; the publisher says so otherwise."), form);
  }
  await list.load();
}

// #/accounts/{id}: set the password of an account, or delete it.
export async function accountScreen(view, server, id) {
  let acc = await call("GET", `/accounts/${enc(id)}`);
  const own = server.user.id === `account:${id}`;
  view.append(h("h1", {}, `Account ${id}`),
    h("p", {}, "Last modified ", h("span", { id: "account-lm" }, new Date(acc.data.last_modified).toISOString()),
      acc.body.permissions ? [" · may write it: ", h("span", { id: "account-writers" }, (acc.body.permissions.write || []).join(", "))] : null),
    passwordForm("account-password", own ? "Change your password" : "Set its password", async (p) => {
      try {
        acc = await call("PUT", `/accounts/${enc(id)}`, { body: { data: { password: p } }, ifMatch: acc.data.last_modified });
      } catch (e) { throw conflictText(e, "the account"); }
      if (own) signIn(id, p);
      view.querySelector("#account-lm").textContent = new Date(acc.data.last_modified).toISOString();
      status(own ? "Password changed. This tab now uses the new password." : `Password of ${id} set.`);
    }),
    h("h2", {}, "Delete"),
    h("p", {}, confirmButton("Delete account", "account-delete", async () => {
      try {
        await call("DELETE", `/accounts/${enc(id)}`, { ifMatch: acc.data.last_modified });
      } catch (e) { throw conflictText(e, "the account"); }
      if (own) { signOut(); location.hash = "#/login"; return; }
      flash(`Account ${id} deleted.`);
      location.hash = "#/accounts";
    })),
    h("p", {}, h("a", { href: "#/accounts" }, "Back to the accounts")));
}
