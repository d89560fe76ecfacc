// Kinto's own JavaScript client (kinto-http, unchanged) as the Node tests load it, written
// once for kinto_http.test.mjs and kinto_http_schema.test.mjs.
//
// kinto-http's Node build (dist/kinto-http.node.js, what `require("kinto-http")` loads)
// requires node-fetch, form-data and atob, which Node 20 has built in as globals
// (fetch, Headers, FormData, atob): those three requires are answered with the globals,
// so the client runs on Node's own fetch, unchanged otherwise.
import Module, { createRequire } from "node:module";

const globalFetch = (...args) => fetch(...args);
const shims = {
  "node-fetch": Object.assign(globalFetch, { default: globalFetch, Headers, Request, Response }),
  "form-data": FormData,
  atob,
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.hasOwn(shims, request) ? shims[request] : load.call(this, request, ...rest);
};
const mod = createRequire(import.meta.url)("kinto-http");

export const KintoClient = mod.default ?? mod;

// The Authorization header value of HTTP Basic for user:pw.
export const basic = (user, pw) => "Basic " + Buffer.from(`${user}:${pw}`).toString("base64");
