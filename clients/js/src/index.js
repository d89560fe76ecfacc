// @herald/client: sync and verify Herald signed collections (docs/clients.md).
export { HeraldClient } from './client.js';
export { HeraldError, Codes } from './errors.js';
export { canonicalize } from './jcs.js';
export { verifyChangeset, importKeys } from './verify.js';
export { verifyMonitor, isSignedMonitor, matchesMonitor } from './monitor.js';
export { MemoryStore } from './stores/memory.js';
export { IndexedDBStore } from './stores/indexeddb.js';
// NodeDirStore needs node:fs: import it from '@herald/client/stores/node-dir'.
