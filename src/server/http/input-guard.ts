// One guard for text the database cannot store. PostgreSQL refuses U+0000 in `text` and `jsonb`
// ("invalid byte sequence", "unsupported Unicode escape sequence") and a lone UTF-16 surrogate
// in `jsonb`; reaching the database with either was a 500 on any route that stores or searches
// a string. Every route with a path, query or body schema gets this check before validation, so
// a new route cannot forget it: the answer is a 400 naming each offending field.
//
// A second check runs after validation: Ajv coerces a query or path value such as `1e309` to
// Infinity and then skips `minimum`/`maximum` for it (its range checks only look at finite
// numbers), so `/users/1e309/` reached the database as an id. Any non-finite number left after
// coercion is a 400 too.

import type { FastifyInstance, preHandlerHookHandler, preValidationHookHandler } from 'fastify';
import { AppError, type FieldError } from '../shared/app-error.js';

const MAX_REPORTED = 10;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL characters (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (no lone surrogate)';
  return undefined;
}

/** Appends a field error for every string (value or key) in `value` that the database refuses. */
export function findUnstorableText(value: unknown, where: string, out: FieldError[], depth = 0): void {
  walk(value, where, out, depth, textProblem);
}

/** Appends a field error for every NaN or infinite number in `value` (after Ajv's coercion). */
export function findNonFiniteNumbers(value: unknown, where: string, out: FieldError[]): void {
  walk(value, where, out, 0, (v) =>
    typeof v === 'number' && !Number.isFinite(v) ? 'must be a finite number' : undefined,
  );
}

const textProblem = (v: unknown) => (typeof v === 'string' ? problemOf(v) : undefined);

function walk(
  value: unknown,
  where: string,
  out: FieldError[],
  depth: number,
  check: (v: unknown) => string | undefined,
): void {
  if (out.length >= MAX_REPORTED || depth > 64) return;
  const message = check(value);
  if (message) {
    out.push({ field: where, message });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walk(v, `${where}.${i}`, out, depth + 1, check);
    return;
  }
  // Buffers and streams (uploads) are the handler's business; only parsed data is walked. (A
  // parsed query string is an object whose prototype is itself prototype-less, so no
  // prototype test here.)
  if (ArrayBuffer.isView(value) || typeof (value as { pipe?: unknown }).pipe === 'function') return;
  for (const [k, v] of Object.entries(value)) {
    const keyProblem = check === textProblem ? problemOf(k) : undefined;
    const safeKey = keyProblem ? JSON.stringify(k).slice(1, -1) : k;
    if (keyProblem) out.push({ field: `${where}.${safeKey}`, message: `field name ${keyProblem}` });
    walk(v, `${where}.${safeKey}`, out, depth + 1, check);
  }
}

const invalid = (errors: FieldError[]) =>
  new AppError({
    code: 'validation_failed',
    message: `invalid request: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
    errors,
  });

const guard: preValidationHookHandler = (request, _reply, done) => {
  const errors: FieldError[] = [];
  findUnstorableText(request.params, 'path', errors);
  findUnstorableText(request.query, 'query', errors);
  findUnstorableText(request.body, 'body', errors);
  done(errors.length === 0 ? undefined : invalid(errors));
};

const finiteNumbers: preHandlerHookHandler = (request, _reply, done) => {
  const errors: FieldError[] = [];
  findNonFiniteNumbers(request.params, 'path', errors);
  findNonFiniteNumbers(request.query, 'query', errors);
  findNonFiniteNumbers(request.body, 'body', errors);
  done(errors.length === 0 ? undefined : invalid(errors));
};

const prepend = <H>(hook: H, own: H | H[] | undefined): H[] =>
  own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])];

/** Adds the guard to every route that takes a path, query or body. */
export function registerInputGuard(app: FastifyInstance) {
  app.addHook('onRoute', (route) => {
    const s = route.schema;
    if (!s?.body && !s?.querystring && !s?.params) return;
    route.preValidation = prepend(guard, route.preValidation);
    route.preHandler = prepend(finiteNumbers, route.preHandler);
  });
}

/**
 * The same rule for a text value a handler reads itself (a multipart form field, which no
 * schema sees): the value, or a 400 naming `field`.
 */
export function storableText(value: unknown, field: string): string {
  const text = String(value);
  const errors: FieldError[] = [];
  findUnstorableText(text, field, errors);
  if (errors.length > 0) throw invalid(errors);
  return text;
}
