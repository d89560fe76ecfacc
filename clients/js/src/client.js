// HeraldClient: the JavaScript twin of libherald_client (include/herald/client.h), with
// the same behaviour, state format and error codes:
//   sync(): GET the monitor (?_expected=M); for each followed collection whose version
//   moved, GET its changeset (?_expected=V&_since=L), verify it merged into the verified
//   copy; on failure refetch the full changeset once; on a second failure keep the last
//   verified copy and report the error. Store the new state atomically, then swap it in,
//   then call onChange.
// Network: fetch with a timeout (AbortSignal), jittered retries of transient failures,
// Backoff and Retry-After honoured (persisted), a size cap on bodies. sync() and
// attachment() are serialized per client (one request in flight per collection).
// The monitor: when its unfiltered answer carries metadata.signatures, it is verified
// (monitor.js: pinned key, entries hash, expiry, never below the last verified M, which
// is persisted) before anything in it is believed, and each followed collection is then
// checked against the V and H it names; freshness() reports "every followed collection
// verified against a monitor signed at most T ago". An unsigned monitor is used as an
// index only, as before (freshness "unknown"), unless requireSignedMonitor is set.
// watch(): long-poll on the monitor (Prefer: wait=N with If-None-Match), each 200 fed to
// the same sync as a poll, so a change is applied only once verified.
import { Codes, HeraldError } from './errors.js';
import { importKeys, verifyChangeset, sha256Hex } from './verify.js';
import { isSignedMonitor, verifyMonitor, matchesMonitor, stateHeadSha256 } from './monitor.js';

const ID = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class HeraldClient {
  /**
   * @param {object} o
   * @param {string} [o.serverUrl] ".../v1"; without it the client only reads what it holds
   * @param {string[]} o.publicKeys pinned Ed25519 keys, base64url, in order of preference
   * @param {object} o.store a store (MemoryStore, NodeDirStore, IndexedDBStore)
   * @param {(bucket:string, collection:string) => Promise<object|null>} [o.dump] a packaged full changeset
   * @param {(record:object) => boolean} [o.filter]
   * @param {(bucket:string, collection:string, version:number) => void} [o.onChange]
   * @param {number} [o.timeoutMs] per request (default 60000)
   * @param {number} [o.maxRetries] default 2
   * @param {number} [o.retryBaseMs] default 250
   * @param {number} [o.maxBodyBytes] default 256 MiB
   * @param {typeof fetch} [o.fetch]
   * @param {boolean} [o.requireSignedMonitor] refuse a monitor without signatures (unknown_key)
   * @param {{jexl:{eval:(expr:string, context:object)=>Promise<any>}, env?:object}} [o.targeting]
   *   Remote Settings' targeting: records() keeps a record with a `filter_expression` only
   *   when jexl.eval(filter_expression, {env}) is truthy (an error drops it), as Gecko's
   *   RemoteSettings does. Bring the evaluator (e.g. `new (require('mozjexl').Jexl)()`):
   *   the library itself depends on nothing.
   */
  constructor(o) {
    if (!o || !o.store) throw new HeraldError(Codes.USAGE, 'a store is needed');
    if (o.serverUrl && !/^https?:\/\//.test(o.serverUrl)) throw new HeraldError(Codes.USAGE, 'serverUrl must be http(s)');
    this.url = (o.serverUrl || '').replace(/\/+$/, '');
    this.publicKeys = o.publicKeys;
    this.store = o.store;
    this.dump = o.dump;
    this.filter = o.filter;
    this.onChange = o.onChange;
    this.targeting = o.targeting || null;
    if (this.targeting && typeof this.targeting.jexl?.eval !== 'function') throw new HeraldError(Codes.USAGE, 'targeting.jexl must have eval(expression, context)');
    this.timeoutMs = o.timeoutMs || 60000;
    this.maxRetries = o.maxRetries ?? 2;
    this.retryBaseMs = o.retryBaseMs || 250;
    this.maxBodyBytes = o.maxBodyBytes || 256 << 20;
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.colls = new Map();
    this.monitorTs = 0;
    this.requireSignedMonitor = !!o.requireSignedMonitor;
    this.monitorVerifiedTs = 0; // the last verified signed monitor's M: never go below it
    this.monitor = null; // {timestamp, expires} of the signed monitor of the last sync
    this.monitorError = '';
    this.backoffUntil = 0;
    this.stats = { requests: 0, bytesReceived: 0, verifyFailures: 0 };
    this.queue = Promise.resolve();
    this.ready = (async () => {
      this.keys = await importKeys(o.publicKeys);
      const cs = await this.store.get('client');
      if (cs) {
        if (Number.isInteger(cs.monitor_timestamp)) this.monitorTs = cs.monitor_timestamp;
        if (Number.isInteger(cs.backoff_until)) this.backoffUntil = cs.backoff_until;
        if (Number.isInteger(cs.monitor_verified)) this.monitorVerifiedTs = cs.monitor_verified;
      }
    })();
  }

  // Runs fn after every earlier serialized call (a per-client mutex).
  serial(fn) {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => {});
    return p;
  }

  async saveClient() {
    const v = { backoff_until: this.backoffUntil, monitor_timestamp: this.monitorTs };
    if (this.monitorVerifiedTs) v.monitor_verified = this.monitorVerifiedTs;
    await this.store.put('client', v);
  }

  /** Follows bucket/collection: loads its verified state, else the dump. No request. */
  follow(bucket, collection) {
    if (!ID.test(bucket) || !ID.test(collection)) throw new HeraldError(Codes.USAGE, 'bad collection name');
    return this.serial(async () => {
      await this.ready;
      const key = `${bucket}/${collection}`;
      if (this.colls.has(key)) return;
      const c = { bucket, collection, state: null, fromDump: false, lastStatus: 'ok', lastError: '', monitorTs: 0 };
      // Re-verified on load (not for expiry): a state edited or torn on disk is ignored.
      const saved = await this.store.get(key);
      try {
        if (saved) c.state = await this.check({ metadata: { signatures: saved.signatures }, timestamp: saved.timestamp, changes: saved.records }, c, null, 0, 0);
      } catch (e) { c.lastStatus = Codes.INVALID; c.lastError = 'stored state ignored: ' + e.message; }
      if (!c.state && this.dump) {
        const d = await this.dump(bucket, collection);
        try {
          if (d) { c.state = await this.check(d, c, null, 0, 0); c.fromDump = true; }
        } catch (e) { c.lastStatus = Codes.INVALID; c.lastError = 'dump ignored: ' + e.message; }
      }
      await this.target(c);
      this.colls.set(key, c);
    });
  }

  // Evaluates each record's filter_expression (targeting option) once per new state, so
  // records() stays synchronous. The state itself always keeps every record.
  // 'state' (default: the one held) is evaluated before it is swapped in, so records()
  // never pairs a state with another state's targeting.
  async target(c, state = c.state) {
    if (!this.targeting) return null;
    const env = this.targeting.env ?? {};
    const records = state?.records ?? [];
    const keep = await Promise.all(records.map(async (r) => {
      if (typeof r.filter_expression !== 'string' || r.filter_expression.trim() === '') return true;
      try { return !!(await this.targeting.jexl.eval(r.filter_expression, { env })); } catch { return false; }
    }));
    const targeted = records.filter((r, i) => keep[i]);
    if (state === c.state) c.targeted = targeted;
    return targeted;
  }

  /** Re-evaluates filter_expression for every followed collection (after targeting.env changed). */
  refreshTargeting(env) {
    return this.serial(async () => {
      if (!this.targeting) throw new HeraldError(Codes.USAGE, 'no targeting option');
      if (env !== undefined) this.targeting.env = env;
      for (const c of this.colls.values()) await this.target(c);
    });
  }

  check(changeset, c, prev, minVersion, nowMs) {
    return verifyChangeset(changeset, { bucket: c.bucket, collection: c.collection, keys: this.keys, prev, minVersion, nowMs });
  }

  noteHeaders(res) {
    const backoff = /^\d+$/.test(res.headers.get('Backoff') || '') ? Number(res.headers.get('Backoff')) : -1;
    let retry = -1;
    const ra = res.headers.get('Retry-After');
    if (ra && /^\d+$/.test(ra)) retry = Number(ra);
    else if (ra && !Number.isNaN(Date.parse(ra))) retry = Math.max(0, Math.ceil((Date.parse(ra) - Date.now()) / 1000));
    let secs = backoff;
    if ((res.status === 429 || res.status === 503) && retry > secs) secs = retry;
    if (secs > 0 && Date.now() + secs * 1000 > this.backoffUntil) {
      this.backoffUntil = Date.now() + secs * 1000;
      return true;
    }
    return false;
  }

  async readBounded(res) {
    if (!res.body) return new Uint8Array(await res.arrayBuffer());
    const reader = res.body.getReader();
    const parts = [];
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > this.maxBodyBytes) { await reader.cancel(); throw new HeraldError(Codes.NETWORK, `response larger than ${this.maxBodyBytes} bytes`); }
      parts.push(value);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  // One GET with jittered retries of transient failures; resolves to the body bytes.
  async get(url) {
    for (let attempt = 0; ; attempt++) {
      let transient = false, err;
      try {
        this.stats.requests++;
        const res = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error', cache: 'no-store' });
        const backed = this.noteHeaders(res);
        if (backed) await this.saveClient();
        if (res.status === 200) {
          const body = await this.readBounded(res);
          this.stats.bytesReceived += body.length;
          return body;
        }
        await res.body?.cancel();
        err = new HeraldError(res.status === 404 ? Codes.NOT_FOUND : Codes.NETWORK, `HTTP status ${res.status} from ${url}`);
        transient = (res.status >= 500 || res.status === 429) && !res.headers.get('Retry-After') && !backed;
      } catch (e) {
        err = e instanceof HeraldError ? e : new HeraldError(Codes.NETWORK, String(e?.message || e));
        transient = !(e instanceof HeraldError);
      }
      if (!transient || attempt >= this.maxRetries) throw err;
      const cap = Math.min(30000, this.retryBaseMs * 2 ** Math.min(attempt, 10));
      await sleep(Math.floor(Math.random() * cap));
    }
  }

  async getJson(url) {
    const body = await this.get(url);
    try { return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)); } catch (e) { throw new HeraldError(Codes.PARSE, 'body is not JSON: ' + e.message); }
  }

  monitorUrl() { return `${this.url}/buckets/monitor/collections/changes/changeset?_expected=${this.monitorTs}`; }

  /**
   * One poll. Resolves to 'ok' when every followed collection is verified at the version
   * the monitor announced, else to the first error code (details in info()). Resolves to
   * 'backoff' without any request while a Backoff or Retry-After period runs.
   */
  sync() { return this.serial(() => this.syncUnlocked(null)); }

  // mon: a monitor answer already received (watch), or null to GET it.
  async syncUnlocked(mon) {
    await this.ready;
    if (!this.url) return Codes.USAGE;
    const fail = (e) => {
      for (const c of this.colls.values()) { c.lastStatus = e.code || Codes.NETWORK; c.lastError = e.message; }
      return e.code || Codes.NETWORK;
    };
    let signed = null;
    try {
      if (!mon) {
        if (this.backoffUntil > Date.now()) return Codes.BACKOFF;
        mon = await this.getJson(this.monitorUrl());
      }
      if (!Number.isInteger(mon?.timestamp) || !Array.isArray(mon.changes)) throw new HeraldError(Codes.PARSE, 'monitor answer is not a changeset');
      if (isSignedMonitor(mon)) {
        signed = await verifyMonitor(mon, { keys: this.keys, minVersion: this.monitorVerifiedTs, nowMs: Date.now() });
        this.monitorVerifiedTs = signed.timestamp;
        this.monitor = { timestamp: signed.timestamp, expires: signed.expires };
        this.monitorError = '';
        await this.saveClient().catch(() => {});
      } else if (this.requireSignedMonitor) {
        throw new HeraldError(Codes.KEY, 'the monitor is not signed (requireSignedMonitor)');
      } else {
        this.monitor = null;
        this.monitorError = '';
      }
    } catch (e) {
      if (e instanceof HeraldError && e.code !== Codes.NETWORK && e.code !== Codes.NOT_FOUND) this.monitorError = e.message;
      return fail(e instanceof HeraldError ? e : new HeraldError(Codes.NETWORK, String(e?.message || e)));
    }
    let overall = 'ok', changed = false;
    for (const c of this.colls.values()) {
      const key = `${c.bucket}/${c.collection}`;
      const e = signed ? signed.entries.get(key)
        : mon.changes.find((x) => x && x.bucket === c.bucket && x.collection === c.collection && Number.isInteger(x.last_modified));
      let st;
      if (!e) { st = Codes.NOT_FOUND; c.lastStatus = st; c.lastError = 'collection not in the monitor (not published)'; }
      else if ((c.state?.timestamp ?? 0) >= e.last_modified) { st = 'ok'; c.lastStatus = st; c.lastError = ''; }
      else {
        st = await this.syncCollection(c, e.last_modified, signed ? e.sha256 : null);
        if (st === 'changed') { changed = true; st = 'ok'; }
      }
      if (signed && st === 'ok' && c.state) {
        try {
          if (matchesMonitor(signed, c.state, this.keys)) c.monitorTs = signed.timestamp;
        } catch (err) { st = err.code; c.lastStatus = st; c.lastError = err.message; }
      }
      if (st !== 'ok' && overall === 'ok') overall = st;
      if (this.backoffUntil > Date.now()) break;
    }
    if (overall === 'ok' && mon.timestamp !== this.monitorTs) {
      this.monitorTs = mon.timestamp;
      try { await this.saveClient(); } catch { overall = Codes.STORAGE; }
    }
    if (changed) await this.pruneUnlocked();
    return overall;
  }

  /**
   * What the signed monitor lets the client claim now:
   *   status 'fresh'   every followed collection is verified against the last verified
   *                    signed monitor, whose signature has not expired;
   *   status 'stale'   some followed collection is not (listed in 'unverified'), or the
   *                    monitor's signature has expired;
   *   status 'unknown' no signed monitor was verified by this process (the server does not
   *                    sign it, or no sync yet).
   * signedAt is the monitor version M (its signing time, ms), ageMs = now - M: "every
   * followed collection verified against a monitor signed at most ageMs ago".
   */
  freshness(nowMs = Date.now()) {
    if (!this.monitor) return { status: 'unknown', signedAt: null, expires: null, ageMs: null, unverified: [...this.colls.keys()], error: this.monitorError };
    const unverified = [...this.colls.entries()].filter(([, c]) => c.monitorTs !== this.monitor.timestamp).map(([k]) => k);
    const status = unverified.length || this.monitor.expires <= nowMs ? 'stale' : 'fresh';
    return { status, signedAt: this.monitor.timestamp, expires: this.monitor.expires, ageMs: nowMs - this.monitor.timestamp, unverified, error: this.monitorError };
  }

  /** True when every followed collection is verified against a monitor signed at most maxAgeMs ago. */
  isFresh(maxAgeMs, nowMs = Date.now()) {
    const f = this.freshness(nowMs);
    return f.status === 'fresh' && f.ageMs <= maxAgeMs;
  }

  /**
   * Long-poll: waits on the monitor (If-None-Match with its ETag, Prefer: wait=N) and
   * syncs each new version it is answered, exactly as sync() would (verified, or the last
   * verified copy kept). onSync(status, monitorVersion) is called after each sync; the
   * usual onChange after each verified change. Honours Backoff and Retry-After; after an
   * error it waits a jittered, growing delay. Runs until 'signal' aborts; resolves then.
   * A server (or a proxy) that does not hold requests still works: its immediate 304
   * carries no Preference-Applied, or it answers 200 with the ETag the client sent; the
   * loop then waits pollMs (default 60 s) before the next poll. Once a request was held,
   * an unheld 304 (a server shutting down) is retried after a jittered delay instead.
   * @param {{waitSeconds?:number, signal?:AbortSignal, onSync?:(status:string, version:number)=>void, pollMs?:number}} [o]
   */
  async watch(o = {}) {
    const wait = Math.max(1, Math.floor(o.waitSeconds ?? 60));
    const signal = o.signal;
    const pollMs = o.pollMs ?? 60000;
    await this.ready;
    if (!this.url) throw new HeraldError(Codes.USAGE, 'no server');
    let etag = null, failures = 0, seenHeld = false;
    const pause = (ms) => new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
      signal?.addEventListener('abort', done);
    });
    const jitter = () => Math.floor(Math.random() * Math.min(30000, this.retryBaseMs * 2 ** Math.min(failures, 10)));
    while (!signal?.aborted) {
      if (this.backoffUntil > Date.now()) { await pause(this.backoffUntil - Date.now()); continue; }
      let res;
      const headers = etag ? { 'If-None-Match': etag, Prefer: `wait=${wait}` } : {};
      const timeout = AbortSignal.timeout(wait * 1000 + this.timeoutMs);
      try {
        this.stats.requests++;
        res = await this.fetch(this.monitorUrl(), { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'error', cache: 'no-store' });
      } catch (e) {
        if (signal?.aborted) break;
        // Reported like any other failed answer (as the C client's on_sync does).
        try { o.onSync?.(Codes.NETWORK, 0); } catch { /* the app's error is not the watch's */ }
        failures++;
        await pause(jitter());
        continue;
      }
      if (this.noteHeaders(res)) await this.saveClient().catch(() => {});
      if (res.status === 304) {
        await res.body?.cancel();
        if (res.headers.get('Preference-Applied')) { seenHeld = true; failures = 0; }
        // Held before, not now: a server shutting down answers its held requests at once
        // (docs/server.md, "Shutdown"); ask again soon, jittered and growing, as the C
        // client does. Never held: no long-poll on the way; poll every pollMs.
        else if (seenHeld) { failures++; await pause(jitter()); }
        else await pause(pollMs);
        continue;
      }
      let mon = null;
      if (res.status === 200) {
        try {
          const body = await this.readBounded(res);
          this.stats.bytesReceived += body.length;
          mon = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
        } catch { mon = null; }
      } else await res.body?.cancel().catch(() => {});
      if (signal?.aborted) break;
      const st = mon ? await this.serial(() => this.syncUnlocked(mon))
        : res.status === 200 ? Codes.PARSE : res.status === 404 ? Codes.NOT_FOUND : Codes.NETWORK;
      try { o.onSync?.(st, mon?.timestamp ?? 0); } catch { /* the app's error is not the watch's */ }
      if (st === 'ok') {
        const next = res.headers.get('ETag') || `"${mon.timestamp}"`;
        // The same version again, at once: something in between ignores If-None-Match
        // and Prefer; poll instead of looping.
        if (next === etag) await pause(pollMs);
        etag = next;
        failures = 0;
      } else {
        failures++;
        await pause(jitter());
      }
    }
  }

  // expectSha: the H a verified signed monitor names for 'version' (or null).
  async syncCollection(c, version, expectSha) {
    const prev = c.state;
    const pts = prev?.timestamp ?? 0;
    let state = null, err = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const delta = attempt === 0 && prev;
      const url = `${this.url}/buckets/${c.bucket}/collections/${c.collection}/changeset?_expected=${version}` + (delta ? `&_since=${pts}` : '');
      try {
        const cs = await this.getJson(url);
        state = await this.check(cs, c, delta ? prev : null, pts, Date.now());
        if (expectSha && state.timestamp === version && stateHeadSha256(state, this.keys) !== expectSha)
          throw new HeraldError(Codes.INVALID, `version ${version} is not the content the signed monitor names`);
        err = null;
        break;
      } catch (e) {
        err = e instanceof HeraldError ? e : new HeraldError(Codes.INVALID, String(e));
        if (err.code === Codes.NETWORK || err.code === Codes.NOT_FOUND) break;
        this.stats.verifyFailures++;
      }
    }
    if (!err) {
      try { await this.store.put(`${c.bucket}/${c.collection}`, state); } catch (e) { err = new HeraldError(Codes.STORAGE, e.message); }
    }
    if (err) { c.lastStatus = err.code; c.lastError = err.message; return err.code; }
    const targeted = await this.target(c, state);
    c.state = state;
    c.targeted = targeted;
    c.fromDump = false;
    c.lastStatus = 'ok';
    c.lastError = '';
    if (state.timestamp !== pts) {
      try { this.onChange?.(c.bucket, c.collection, state.timestamp); } catch { /* the app's error is not the sync's */ }
      return 'changed';
    }
    return 'ok';
  }

  /** {version, expires, records, fromDump, lastStatus, lastError}, or null if not followed. */
  info(bucket, collection) {
    const c = this.colls.get(`${bucket}/${collection}`);
    if (!c) return null;
    return { version: c.state?.timestamp ?? 0, expires: c.state?.expires ?? 0, records: c.state?.records.length ?? 0, fromDump: c.fromDump, lastStatus: c.lastStatus, lastError: c.lastError };
  }

  /** The verified records (sorted by id; filtered by filter_expression with the targeting
   * option, then by the filter callback; copies), or null if none yet. */
  records(bucket, collection) {
    const c = this.colls.get(`${bucket}/${collection}`);
    if (!c?.state) return null;
    const out = (this.targeting ? c.targeted ?? [] : c.state.records).filter((r) => !this.filter || this.filter(r));
    return structuredClone(out);
  }

  /** Milliseconds until sync() may make a request again. */
  backoffMs() { return Math.max(0, this.backoffUntil - Date.now()); }

  /**
   * The bytes of record 'id''s attachment, from the cache or downloaded from
   * capabilities.attachments.base_url + location, handed over only when size and SHA-256
   * match the verified record.
   */
  attachment(bucket, collection, id) {
    return this.serial(async () => {
      await this.ready;
      const c = this.colls.get(`${bucket}/${collection}`);
      const r = c?.state?.records.find((x) => x.id === id);
      const a = r?.attachment;
      if (!a || !/^[0-9a-f]{64}$/.test(a.hash) || typeof a.location !== 'string' || !Number.isInteger(a.size) || a.size < 0)
        throw new HeraldError(Codes.NOT_FOUND, 'no such record with an attachment');
      const ok = async (bytes) => bytes && bytes.length === a.size && (await sha256Hex(bytes)) === a.hash;
      const cached = await this.store.getBlob(a.hash);
      if (await ok(cached)) return cached;
      if (!this.baseUrl) {
        if (!this.url) throw new HeraldError(Codes.USAGE, 'no server');
        const root = await this.getJson(`${this.url}/`);
        const base = root?.capabilities?.attachments?.base_url;
        if (typeof base !== 'string' || !base) throw new HeraldError(Codes.NOT_FOUND, 'the server advertises no attachments base_url');
        this.baseUrl = base;
      }
      let url;
      if (/^https?:\/\//.test(a.location)) {
        if (!a.location.startsWith(this.baseUrl)) throw new HeraldError(Codes.ATTACHMENT, 'location outside the base_url');
        url = a.location;
      } else {
        url = this.baseUrl + (this.baseUrl.endsWith('/') ? a.location.replace(/^\/+/, '') : a.location);
      }
      const bytes = await this.get(url);
      if (!(await ok(bytes))) throw new HeraldError(Codes.ATTACHMENT, 'attachment size or SHA-256 mismatch');
      try { await this.store.putBlob(a.hash, bytes); } catch (e) { throw new HeraldError(Codes.STORAGE, e.message); }
      return bytes;
    });
  }

  /** Deletes cached attachments no record of a followed collection references. */
  pruneAttachments() { return this.serial(() => this.pruneUnlocked()); }

  async pruneUnlocked() {
    const keep = new Set();
    for (const c of this.colls.values()) for (const r of c.state?.records ?? []) if (r.attachment?.hash) keep.add(r.attachment.hash);
    let n = 0;
    for (const h of await this.store.listBlobs()) if (!keep.has(h)) { await this.store.deleteBlob(h); n++; }
    return n;
  }
}
