// RFC 8785 (JSON Canonicalization Scheme) for JSON values as JSON.parse returns them.
//
// ECMAScript already defines the two hard parts exactly as JCS wants them: numbers are
// serialized by Number.prototype.toString (JSON.stringify uses it; -0 gives "0"), and
// JSON.stringify(string) escapes exactly ", \, \b \f \n \r \t and other controls as
// lowercase \u00xx, leaving everything else raw. Object keys sort by UTF-16 code units,
// which is what Array.prototype.sort compares by default. What is left to refuse:
// non-finite numbers, lone surrogates (not representable in UTF-8; JSON.stringify would
// write an escape that JCS forbids) and anything that is not JSON data.

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function str(s) {
  if (LONE_SURROGATE.test(s)) throw new TypeError('JCS: lone surrogate in a string');
  return JSON.stringify(s);
}

/** @param {unknown} v @returns {string} the canonical JSON text of v */
export function canonicalize(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError('JCS: non-finite number');
      return JSON.stringify(v);
    case 'string':
      return str(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(canonicalize).join(',') + ']';
      const keys = Object.keys(v).sort();
      return '{' + keys.map((k) => str(k) + ':' + canonicalize(v[k])).join(',') + '}';
    }
    default:
      throw new TypeError('JCS: not a JSON value: ' + typeof v);
  }
}
