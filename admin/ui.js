// ui.js -- what every screen shares: the status and error lines, running an action with
// its failure shown, paged tables, small forms. No state of its own beyond a hook for
// "the server no longer knows us" (app.js signs out).
import { call, ApiError } from "./api.js";
import { h, clear } from "./dom.js";

export const PAGE = 50;
export const enc = encodeURIComponent;

let onUnauthorized = () => {};
export function setOnUnauthorized(fn) {
  onUnauthorized = fn;
}

export function status(text) {
  document.getElementById("status").textContent = text || "";
}

// A status line for the next screen (the route change clears the current one).
let flashed = "";
export function flash(text) {
  flashed = text;
}
export function takeFlash() {
  const t = flashed;
  flashed = "";
  return t;
}

// An error as text: a Kinto error names its status, message and details.
export function errorText(e) {
  let text = e instanceof ApiError ? `${e.status}: ${e.kintoMessage}` : String(e.message || e);
  if (e instanceof ApiError && Array.isArray(e.body.details)) {
    for (const d of e.body.details) text += `\n${d.location || ""} ${d.name || ""}: ${d.description || ""}`;
  }
  return text;
}

export function fail(e) {
  const box = document.getElementById("error");
  if (!e) { box.textContent = ""; return; }
  box.textContent = errorText(e);
  if (e instanceof ApiError && e.status === 401) onUnauthorized();
}

// Runs an action with its failure shown (and logged for the browser test).
export async function guarded(fn) {
  fail(null);
  try { return await fn(); } catch (e) { console.error(String(e.message || e)); fail(e); return undefined; }
}

// A paged table of 'path' (query string included): 'cols' [header, cell(obj)].
export function pagedTable(id, path, cols) {
  const box = h("div", { id });
  const first = path + (path.includes("?") ? "&" : "?") + `_limit=${PAGE}`;
  const stack = [];
  async function load(url) {
    const r = await call("GET", url);
    const table = h("table", {},
      h("thead", {}, h("tr", {}, cols.map(([t]) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, r.data.map((o) => h("tr", {}, cols.map(([, cell]) => h("td", {}, cell(o)))))));
    const next = r.headers.get("Next-Page");
    const total = r.headers.get("Total-Objects") || r.headers.get("Total-Records");
    const pager = h("div", { class: "pager" },
      h("span", { class: "muted", id: `${id}-count` }, `${r.data.length} shown${total ? ` of ${total}` : ""}, page ${stack.length + 1}`),
      stack.length ? h("button", { type: "button", class: "secondary", id: `${id}-prev`, onclick: () => guarded(() => { stack.pop(); return load(stack.length ? stack[stack.length - 1] : first); }) }, "Previous page") : null,
      next ? h("button", { type: "button", class: "secondary", id: `${id}-next`, onclick: () => guarded(() => { stack.push(next); return load(next); }) }, "Next page") : null);
    clear(box).append(r.data.length ? table : h("p", { class: "muted" }, "Nothing here yet."), pager);
  }
  return { box, load: () => load(first) };
}

// A one-field form creating an object named by the user.
export function createForm(id, label, button, onCreate) {
  const input = h("input", { id: `${id}-id`, name: "id", pattern: "[a-zA-Z0-9][a-zA-Z0-9_\\-]*", required: true });
  const form = h("form", { class: "inline", id },
    h("div", {}, h("label", { for: `${id}-id` }, label), h("br"), input),
    h("button", { type: "submit" }, button));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); guarded(() => onCreate(input.value)); });
  return form;
}

// A button that asks once more before acting ("Really delete?").
export function confirmButton(label, id, action) {
  let armed = false;
  const b = h("button", { type: "button", class: "danger", id, onclick: () => {
    if (!armed) { armed = true; b.textContent = `Really ${label.toLowerCase()}?`; return; }
    guarded(action);
  } }, label);
  return b;
}
