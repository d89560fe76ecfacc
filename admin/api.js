// api.js -- the Kinto HTTP API of the publisher this page is served by (same origin,
// so the Content-Security-Policy's connect-src 'self' covers it). Credentials live in
// sessionStorage only (gone when the tab closes; never in a URL or a log).
const KEY = "herald.admin.auth";
export const API = new URL("../", location.href).pathname.replace(/\/$/, ""); // "/v1"

export function signedIn() {
  return sessionStorage.getItem(KEY) !== null;
}
export function signIn(user, password) {
  sessionStorage.setItem(KEY, btoa(unescape(encodeURIComponent(`${user}:${password}`))));
}
export function signOut() {
  sessionStorage.removeItem(KEY);
}

// A Kinto error answer as an Error: status, errno, message, details.
export class ApiError extends Error {
  constructor(status, body, method, path) {
    const msg = body && body.message ? body.message : `HTTP ${status}`;
    super(`${method} ${path}: ${status} ${msg}`);
    this.status = status;
    this.body = body || {};
    this.kintoMessage = msg;
  }
}

// One request, never from the browser's HTTP cache: the publisher sends ETag and
// Last-Modified without Cache-Control, which a browser may take as heuristic freshness
// and answer a GET after a write with the object as it was. 'path' is below /v1 ("/buckets") or an absolute Next-Page URL.
// Returns {status, data, body, headers}; throws ApiError on a non-2xx answer.
// 'raw' is a body sent as given (the JSON editor's text, so that what JSON.parse would
// quietly change, 1e400 or a duplicate key, reaches the server and its I-JSON error).
export async function call(method, path, { body, raw, type, ifMatch, ifNoneMatch, anonymous } = {}) {
  const headers = { Accept: "application/json" };
  const auth = sessionStorage.getItem(KEY);
  if (auth && !anonymous) headers.Authorization = `Basic ${auth}`;
  if (raw !== undefined) body = undefined;
  if (body !== undefined || raw !== undefined) headers["Content-Type"] = type || "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
  if (ifNoneMatch) headers["If-None-Match"] = "*";
  const url = /^https?:/.test(path) ? path : API + path;
  const res = await fetch(url, { method, headers, body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" });
  let json = null;
  const text = await res.text();
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) throw new ApiError(res.status, json, method, url.replace(location.origin, ""));
  return { status: res.status, data: json && json.data, body: json, headers: res.headers };
}

// Every object of a list, following Next-Page (for the diff: all records).
export async function listAll(path) {
  const out = [];
  let next = path;
  while (next) {
    const r = await call("GET", next);
    out.push(...r.data);
    next = r.headers.get("Next-Page");
  }
  return out;
}

// Uploads 'file' as the attachment of the record at 'path' (kinto-attachment's
// multipart POST), with If-Match. XMLHttpRequest rather than fetch: fetch reports no
// upload progress. 'onProgress(sent, total)'. Resolves with the attachment object;
// rejects with an ApiError.
export function upload(path, file, lastModified, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}/attachment`);
    const auth = sessionStorage.getItem(KEY);
    if (auth) xhr.setRequestHeader("Authorization", `Basic ${auth}`);
    xhr.setRequestHeader("Accept", "application/json");
    if (lastModified !== undefined) xhr.setRequestHeader("If-Match", `"${lastModified}"`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { json = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json);
      else reject(new ApiError(xhr.status, json, "POST", `${path}/attachment`));
    };
    xhr.onerror = () => reject(new Error(`POST ${path}/attachment: the connection failed`));
    const form = new FormData();
    form.append("attachment", file, file.name);
    xhr.send(form);
  });
}
