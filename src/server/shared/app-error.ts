// The one error type of the server. Services throw AppError with a code from a closed set; the
// HTTP layer maps each code to a status in a single switch (http/errors.ts). Details are safe to
// show to the client; internals never go into an AppError.

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthenticated'
  | 'invalid_token'
  | 'forbidden'
  | 'insufficient_scope'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'gone'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'locked'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export interface FieldError {
  /** JSON pointer-ish location: `body.name`, `query.page_size`, `path.id`. */
  field: string;
  message: string;
}

export interface AppErrorOptions {
  code: ErrorCode;
  message: string;
  errors?: FieldError[];
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate parameters). */
  headers?: Record<string, string>;
  /** Safe, structured extra members for the problem document. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(opts: AppErrorOptions) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = opts.code;
    this.errors = opts.errors;
    this.headers = opts.headers;
    this.details = opts.details;
  }
}

export const notFound = (what: string) => new AppError({ code: 'not_found', message: `${what} not found` });

export const badField = (field: string, message: string) =>
  new AppError({ code: 'validation_failed', message: `${field}: ${message}`, errors: [{ field, message }] });

export const conflict = (message: string) => new AppError({ code: 'conflict', message });
