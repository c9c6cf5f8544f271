/**
 * Stable error codes shared by every component. The HTTP status for each code
 * lives here, in one table, so every service answers the same way.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  MALFORMED_PLAYLIST: 502,
  BAD_SIGNATURE: 403,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  HASH_MISMATCH: 400,
  /** An attestation for another stream or object than the one asked for. */
  ATTESTATION_MISMATCH: 400,
  NOT_FOUND: 404,
  STREAM_NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  SEGMENT_NOT_FOUND: 404,
  CONFLICT: 409,
  /** A segment names an init the receiver does not hold: send the init first. */
  INIT_NOT_HELD: 409,
  NOT_MONOTONIC: 409,
  FOREIGN_RECEIPT: 403,
  TICKET_EXPIRED: 401,
  RATE_LIMITED: 429,

  STREAM_ENDED: 410,
  PAYLOAD_TOO_LARGE: 413,
  /** A request's header list over the server's cap (HTTP/2; HTTP/1.1's parser answers 431 itself). */
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPSTREAM_FAILED: 502,
  /** The upstream answers but announces nothing new while the stream is live. */
  UPSTREAM_STALE: 504,
  /** The upstream is alive but more than UPSTREAM_LAG_SEGMENTS behind the stream's live edge. */
  UPSTREAM_LAGGING: 504,
  NO_UPSTREAM: 503,
  /** A blocking playlist reload (LL-HLS `_HLS_msn`) whose segment or part did not appear in 3 target durations. */
  RELOAD_TIMEOUT: 503,
  UNAVAILABLE: 503,
  /** The node is leaving: go to another one now. */
  DRAINING: 503,
  TIMEOUT: 504,
  /** A certificate on disk that is unreadable, expired, for another name, or not for its key. */
  CERTIFICATE_INVALID: 500,
  /** The ACME CA refused, failed or answered nonsense; the relay retries with backoff. */
  ACME_FAILED: 502,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface SrpErrorOptions {
  cause?: unknown;
  /** Extra structured detail for logs and error bodies; never secrets. */
  details?: Record<string, unknown>;
}

/** The one error class of the project: a stable `code`, a message, and a cause chain. */
export class SrpError extends Error {
  override readonly name = "SrpError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: SrpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function isSrpError(value: unknown, code?: ErrorCode): value is SrpError {
  return value instanceof SrpError && (code === undefined || value.code === code);
}
