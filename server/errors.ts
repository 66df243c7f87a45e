// The one error type. Services throw AppError with a code; HTTP maps the code to a
// status and a problem document, sockets map it to an ack `reason`.
import type { FieldError } from '../shared/ack.ts';
import type { RefusalReason } from '../shared/domain.ts';

export type ErrorCode =
  | RefusalReason
  | 'unauthorized' | 'forbidden' | 'conflict' | 'idempotency_mismatch' | 'missing_idempotency_key'
  | 'unsupported' | 'payload_too_large' | 'unavailable';

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid: 400, missing_idempotency_key: 400, unauthorized: 401, forbidden: 403, not_found: 404,
  conflict: 409, busy: 409, taken: 409, expired: 409, withdrawn: 409, released: 409, invalid_transition: 409,
  payload_too_large: 413, idempotency_mismatch: 422, unsupported: 422, rate_limited: 429,
  internal: 500, unavailable: 503,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly retryAfterS?: number;

  constructor(code: ErrorCode, message: string, opts: { errors?: FieldError[]; retryAfterS?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    if (opts.errors) this.errors = opts.errors;
    if (opts.retryAfterS !== undefined) this.retryAfterS = opts.retryAfterS;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** Ack reasons a socket may see: server-only codes collapse to the nearest contract reason. */
export function toRefusalReason(e: AppError): RefusalReason {
  switch (e.code) {
    case 'conflict': return 'invalid_transition';
    case 'unauthorized': case 'forbidden': return 'not_found';
    case 'idempotency_mismatch': case 'missing_idempotency_key': case 'unsupported': case 'payload_too_large': return 'invalid';
    case 'unavailable': return 'internal';
    default: return e.code;
  }
}
