// dom.js -- building elements. Data is only ever set as text (textContent, attribute
// values through setAttribute), never parsed as HTML: a record holding markup shows
// the markup. Links are built only from paths this page makes (hash routes), never
// from record content.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "href") el.setAttribute("href", safeHref(v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Only our own hash routes and same-origin API paths are links.
function safeHref(v) {
  const s = String(v);
  return s.startsWith("#/") || s.startsWith("/v1/") ? s : "#/";
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A JSON value as indented text.
export function jsonText(v) {
  return JSON.stringify(v, null, 2);
}
