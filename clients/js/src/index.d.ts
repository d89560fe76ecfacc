// Types for @herald/client (the implementation is plain ES modules in this directory).
export type Code = 'ok' | 'usage' | 'network' | 'backoff' | 'parse' | 'unknown_key' | 'expired' |
  'rollback' | 'invalid' | 'not_found' | 'storage' | 'attachment';
export declare const Codes: Readonly<Record<string, Code>>;
export declare class HeraldError extends Error { code: Code; constructor(code: Code, message: string); }
export interface State { bucket: string; collection: string; timestamp: number; expires: number; records: object[]; signatures: object[]; }
export interface Store {
  get(key: string): Promise<any | null>; put(key: string, value: any): Promise<void>; delete(key: string): Promise<void>;
  getBlob(hash: string): Promise<Uint8Array | null>; putBlob(hash: string, bytes: Uint8Array): Promise<void>;
  deleteBlob(hash: string): Promise<void>; listBlobs(): Promise<string[]>;
}
export declare class MemoryStore implements Store { get(key: string): Promise<any>; put(key: string, value: any): Promise<void>; delete(key: string): Promise<void>; getBlob(hash: string): Promise<Uint8Array | null>; putBlob(hash: string, bytes: Uint8Array): Promise<void>; deleteBlob(hash: string): Promise<void>; listBlobs(): Promise<string[]>; }
export declare class IndexedDBStore extends MemoryStore { constructor(name?: string, idb?: IDBFactory); }
export interface ClientOptions {
  serverUrl?: string; publicKeys: string[]; store: Store;
  dump?: (bucket: string, collection: string) => Promise<object | null>;
  filter?: (record: any) => boolean; onChange?: (bucket: string, collection: string, version: number) => void;
  timeoutMs?: number; maxRetries?: number; retryBaseMs?: number; maxBodyBytes?: number; fetch?: typeof fetch;
  requireSignedMonitor?: boolean;
  targeting?: { jexl: { eval(expression: string, context: object): Promise<unknown> }; env?: object };
}
export interface Info { version: number; expires: number; records: number; fromDump: boolean; lastStatus: Code; lastError: string; }
export declare class HeraldClient {
  constructor(o: ClientOptions);
  ready: Promise<void>;
  stats: { requests: number; bytesReceived: number; verifyFailures: number };
  follow(bucket: string, collection: string): Promise<void>;
  sync(): Promise<Code>;
  info(bucket: string, collection: string): Info | null;
  records(bucket: string, collection: string): any[] | null;
  backoffMs(): number;
  attachment(bucket: string, collection: string, id: string): Promise<Uint8Array>;
  pruneAttachments(): Promise<number>;
  refreshTargeting(env?: object): Promise<void>;
  freshness(nowMs?: number): Freshness;
  isFresh(maxAgeMs: number, nowMs?: number): boolean;
  watch(o?: { waitSeconds?: number; signal?: AbortSignal; pollMs?: number; onSync?: (status: Code, monitorVersion: number) => void }): Promise<void>;
}
export interface Freshness { status: 'fresh' | 'stale' | 'unknown'; signedAt: number | null; expires: number | null; ageMs: number | null; unverified: string[]; error: string; }
export interface MonitorEntry { bucket: string; collection: string; last_modified: number; sha256: string; }
export interface VerifiedMonitor { timestamp: number; expires: number; entries: Map<string, MonitorEntry>; }
export declare function isSignedMonitor(mon: object): boolean;
export declare function verifyMonitor(mon: object, o: { keys: { keyId: string; key: CryptoKey }[]; minVersion?: number; nowMs?: number }): Promise<VerifiedMonitor>;
export declare function matchesMonitor(monitor: VerifiedMonitor, state: State, keys: { keyId: string; key: CryptoKey }[]): boolean;
export declare function canonicalize(v: unknown): string;
export declare function importKeys(keys: string[]): Promise<{ keyId: string; key: CryptoKey }[]>;
export declare function verifyChangeset(changeset: object, o: { bucket: string; collection: string; keys: { keyId: string; key: CryptoKey }[]; prev?: State | null; minVersion?: number; nowMs?: number }): Promise<State>;
