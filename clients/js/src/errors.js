// The error codes are the same strings as the C library's herald_client_strerror().
export const Codes = Object.freeze({
  USAGE: 'usage', NETWORK: 'network', BACKOFF: 'backoff', PARSE: 'parse',
  KEY: 'unknown_key', EXPIRED: 'expired', ROLLBACK: 'rollback', INVALID: 'invalid',
  NOT_FOUND: 'not_found', STORAGE: 'storage', ATTACHMENT: 'attachment',
});

export class HeraldError extends Error {
  /** @param {string} code one of Codes @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'HeraldError';
    this.code = code;
  }
}
