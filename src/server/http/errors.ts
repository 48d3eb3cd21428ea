// Errors as RFC 9457 problem documents (application/problem+json), mapped from AppError codes in
// one switch. Fastify's own errors (bad JSON, body too large, wrong content type, schema
// validation) are translated here too, so a client's mistake is never a 500. A 5xx body says
// only that something failed and which request id to quote; the details go to the log.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, type FieldError } from '../shared/app-error.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
    case 'validation_failed':
      return 400;
    case 'unauthenticated':
    case 'invalid_token':
      return 401;
    case 'forbidden':
    case 'insufficient_scope':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
      return 409;
    case 'gone':
      return 410;
    case 'payload_too_large':
      return 413;
    case 'uri_too_long':
      return 414;
    case 'unsupported_media_type':
      return 415;
    case 'locked':
      return 423;
    case 'rate_limited':
      return 429;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  423: 'Locked',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const PROBLEM_TYPE_BASE = 'https://steward.invalid/problems/';

/**
 * Translates a Fastify/ajv validation error list into field errors named like `body.name`.
 * A failed union (`anyOf`, as in "a number or null") yields one error per branch; keep the
 * informative one instead of "must be null" and "must match a schema in anyOf".
 */
function validationErrors(err: FastifyError): FieldError[] {
  const all = rawValidationErrors(err);
  const byField = new Map<string, FieldError[]>();
  for (const e of all) byField.set(e.field, [...(byField.get(e.field) ?? []), e]);
  const out: FieldError[] = [];
  for (const list of byField.values()) {
    const useful = list.filter(
      (e) => e.message !== 'must be null' && e.message !== 'is not one of the accepted forms',
    );
    out.push(...(useful.length > 0 ? useful : list.slice(0, 1)));
  }
  return out;
}

function rawValidationErrors(err: FastifyError): FieldError[] {
  const raw = (err as { validationContext?: string }).validationContext ?? 'body';
  const context = raw === 'querystring' ? 'query' : raw === 'params' ? 'path' : raw;
  return (err.validation ?? []).map((v) => {
    const path = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') {
      const extra = String(params.additionalProperty);
      const field = [context, path, extra].filter(Boolean).join('.');
      return { field, message: `unknown field "${extra}"` };
    }
    if (v.keyword === 'required') {
      const missing = String(params.missingProperty);
      return { field: [context, path, missing].filter(Boolean).join('.'), message: 'is required' };
    }
    const field = [context, path].filter(Boolean).join('.');
    return { field, message: readableMessage(v) };
  });
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

const FORMAT_WORDS: Record<string, string> = {
  email: 'an email address',
  'date-time': 'a date and time (ISO 8601, such as 2026-01-31T12:00:00Z)',
  date: 'a date (such as 2026-01-31)',
  uri: 'a URL (such as https://host.example:8443/)',
  url: 'a URL (such as https://host.example:8443/)',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  hostname: 'a host name',
  uuid: 'a UUID',
};

type AjvError = NonNullable<FastifyError['validation']>[number] & { parentSchema?: Record<string, unknown> };

/** The range a number must lie in, from the schema that refused it (Ajv's `verbose`). */
function rangeOf(schema: Record<string, unknown> | undefined, min: unknown, max: unknown): string {
  const lo = schema?.minimum ?? min;
  const hi = schema?.maximum ?? max;
  if (typeof lo === 'number' && typeof hi === 'number') return `must be between ${lo} and ${hi}`;
  if (typeof lo === 'number') return `must be at least ${lo}`;
  return `must be at most ${hi}`;
}

/**
 * Ajv's messages are written for schema authors (`must match pattern "^[A-Za-z0-9]..."`, `must
 * NOT have more than 100 characters`); these are for whoever filled the form. A pattern's rule in
 * words is the schema's `description`: every pattern in a request schema carries one.
 */
function readableMessage(v: AjvError): string {
  const params = v.params as Record<string, unknown>;
  const schema = v.parentSchema;
  switch (v.keyword) {
    case 'type': {
      const types = (Array.isArray(params.type) ? params.type : String(params.type).split(',')).map(
        (t: unknown) => TYPE_WORDS[String(t)] ?? String(t),
      );
      return `must be ${types.join(' or ')}`;
    }
    case 'enum':
      return Array.isArray(params.allowedValues)
        ? `must be one of ${params.allowedValues.map((a) => JSON.stringify(a)).join(', ')}`
        : 'is not one of the allowed values';
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters long`;
    case 'maxLength':
      return `must be at most ${params.limit} characters long`;
    case 'minimum':
    case 'maximum':
      return rangeOf(
        schema,
        v.keyword === 'minimum' ? params.limit : undefined,
        v.keyword === 'maximum' ? params.limit : undefined,
      );
    case 'exclusiveMinimum':
      return `must be greater than ${params.limit}`;
    case 'exclusiveMaximum':
      return `must be less than ${params.limit}`;
    case 'multipleOf':
      return `must be a multiple of ${params.multipleOf}`;
    case 'minItems':
      return params.limit === 1 ? 'must not be empty' : `must have at least ${params.limit} items`;
    case 'maxItems':
      return `must have at most ${params.limit} items`;
    case 'uniqueItems':
      return 'must not list the same item twice';
    case 'minProperties':
      return params.limit === 1 ? 'must not be empty' : `must have at least ${params.limit} fields`;
    case 'maxProperties':
      return `must have at most ${params.limit} fields`;
    case 'format':
      return `must be ${FORMAT_WORDS[String(params.format)] ?? `in the ${String(params.format)} format`}`;
    case 'pattern': {
      const rule = typeof schema?.description === 'string' ? schema.description.trim() : '';
      return rule
        ? `is not in the expected form: ${rule.charAt(0).toLowerCase()}${rule.slice(1).replace(/\.$/, '')}`
        : 'contains characters that are not allowed';
    }
    case 'anyOf':
    case 'oneOf':
      return 'is not one of the accepted forms';
    default:
      return 'is not valid';
  }
}

/** Converts anything thrown in a request into an AppError fit to send. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { code?: string; statusCode?: number };
  if (e?.validation) {
    const errors = validationErrors(e);
    const unknown = errors.filter((x) => x.message.startsWith('unknown field'));
    const message =
      unknown.length > 0
        ? `unknown field(s): ${unknown.map((x) => x.field).join(', ')}`
        : `invalid request: ${errors.map((x) => `${x.field} ${x.message}`).join('; ')}`;
    return new AppError({ code: 'validation_failed', message, errors });
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new AppError({
        code: 'payload_too_large',
        message: 'request body is larger than this route accepts',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError({
        code: 'unsupported_media_type',
        message:
          'unsupported Content-Type; this route accepts application/json (or the form types it documents)',
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError({ code: 'bad_request', message: 'Content-Length does not match the body' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError({
        code: 'bad_request',
        message: 'the body is empty but Content-Type is application/json',
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError({ code: 'bad_request', message: `the body is not valid JSON: ${e.message}` });
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new AppError({
        code: 'unsupported_media_type',
        message: 'this route expects multipart/form-data',
      });
    default:
      break;
  }
  if (e instanceof SyntaxError || e?.name === 'SyntaxError') {
    return new AppError({ code: 'bad_request', message: `the body could not be parsed: ${e.message}` });
  }
  if (e?.code === '23505') {
    // A unique constraint caught a race the service's own check could not see.
    return new AppError({ code: 'conflict', message: 'an object with the same unique name already exists' });
  }
  if (isDatabaseUnavailable(e)) {
    return new AppError({
      code: 'unavailable',
      message: 'the database is unavailable; try again shortly',
      cause: e,
    });
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError({ code: 'bad_request', message: e.message });
  }
  return new AppError({ code: 'internal', message: 'internal error', cause: err });
}

/** Connection-level database failures are a 503 (try again), not a 500 (a bug). */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  if (!err) return false;
  const code = err.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '57014', '53300'].includes(code))
    return true;
  if (code.startsWith('08')) return true;
  const msg = err.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable|PGlite is closed/i.test(
    msg,
  );
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError) {
  const status = statusOf(error.code);
  const internal = status >= 500;
  const body: Problem = {
    type: `${PROBLEM_TYPE_BASE}${error.code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail:
      internal && error.code === 'internal'
        ? `internal error; quote request id ${request.id}`
        : error.message,
    code: error.code,
    request_id: String(request.id),
  };
  if (error.errors && error.errors.length > 0) body.errors = error.errors;
  if (error.details && !internal) Object.assign(body, error.details);
  if (error.headers) reply.headers(error.headers);
  if (status === 401 && !reply.hasHeader('www-authenticate')) {
    const desc = error.message.replace(/["\\]/g, "'");
    reply.header(
      'www-authenticate',
      error.code === 'invalid_token'
        ? `Bearer realm="steward", error="invalid_token", error_description="${desc}"`
        : 'Bearer realm="steward"',
    );
  }
  if (error.code === 'insufficient_scope' && !reply.hasHeader('www-authenticate')) {
    reply.header(
      'www-authenticate',
      `Bearer realm="steward", error="insufficient_scope", scope="${error.details?.required_permission ?? ''}"`,
    );
  }
  return reply.code(status).type('application/problem+json').send(body);
}

/**
 * Fastify's `frameworkErrors`: errors raised while routing, before any route runs (a path
 * segment longer than the router's maxParamLength, a URL that does not decode). Without it they
 * are answered with Fastify's own JSON body instead of a problem document.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const error =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError({
          code: 'uri_too_long',
          message: 'a path segment is longer than this API accepts (200 characters)',
          errors: [{ field: 'path', message: 'segment longer than 200 characters' }],
        })
      : err.code === 'FST_ERR_BAD_URL'
        ? new AppError({
            code: 'bad_request',
            message: 'the URL is not valid (bad percent-encoding)',
            errors: [{ field: 'path', message: 'is not a valid URL component' }],
          })
        : toAppError(err);
  request.log.info({ code: error.code }, error.message);
  return sendProblem(request, reply, error);
}

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err, request, reply) => {
    const appError = toAppError(err);
    const status = statusOf(appError.code);
    if (status >= 500) {
      request.log.error({ err: appError.cause ?? err, code: appError.code }, 'request failed');
    } else {
      request.log.info({ code: appError.code, status }, appError.message);
    }
    return sendProblem(request, reply, appError);
  });
}
