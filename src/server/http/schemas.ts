// Schema pieces shared by every module: the problem document and the error responses an
// operation can give, a strict object helper that rejects unknown fields, and the nullable and
// enumerated types written so that responses serialize fast.

import { type Static, type TObject, type TProperties, type TSchema, type TUnsafe, Type } from 'typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What went wrong, for a person to read' }),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    request_id: Type.String({ description: 'Quote this when reporting a problem' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: 'Where: `body.name`, `query.page_size`, `path.id`' }),
          message: Type.String(),
        }),
      ),
    ),
    required_permission: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const ERROR_DESCRIPTIONS: Record<number, { description: string; code: string; detail: string }> = {
  400: {
    description: 'Bad input: invalid JSON, unknown or invalid fields',
    code: 'validation_failed',
    detail: 'unknown field(s): body.colour',
  },
  401: {
    description: 'No credential, or a malformed, unknown, expired, revoked or disabled one',
    code: 'invalid_token',
    detail: 'token has expired',
  },
  403: {
    description: 'The credential lacks the permission this operation requires',
    code: 'insufficient_scope',
    detail: 'permission users:write is required for this operation',
  },
  404: { description: 'No such object', code: 'not_found', detail: 'user not found' },
  409: {
    description: 'Conflicts with the current state',
    code: 'conflict',
    detail: 'a user named "alice" already exists',
  },
  405: {
    description: 'The path exists but not with this method; see Allow',
    code: 'method_not_allowed',
    detail: 'DELETE is not allowed on /api/v1/audit/; allowed: GET, HEAD',
  },
  413: {
    description: 'Body too large',
    code: 'payload_too_large',
    detail: 'request body is larger than this route accepts',
  },
  414: {
    description: 'A path segment is longer than 200 characters',
    code: 'uri_too_long',
    detail: 'a path segment is longer than this API accepts (200 characters)',
  },
  415: {
    description: 'Unsupported Content-Type',
    code: 'unsupported_media_type',
    detail: 'unsupported Content-Type',
  },
  423: {
    description: 'Account temporarily locked after failed logins',
    code: 'locked',
    detail: 'too many failed logins; try again in 15 minutes',
  },
  429: {
    description: 'Rate limit exceeded; see Retry-After',
    code: 'rate_limited',
    detail: 'rate limit of 60 requests per minute exceeded',
  },
  431: {
    description:
      'Request headers (or the request line) larger than the server accepts; answered by the HTTP server itself, without a body',
    code: 'bad_request',
    detail: '',
  },
  503: {
    description: 'Temporarily unavailable (database unreachable, or the manager is shutting down)',
    code: 'unavailable',
    detail: 'the database is unavailable; try again shortly',
  },
};

/** Response schemas for the given error statuses, each a problem document with an example. */
export function ErrorResponses(...statuses: number[]) {
  const out: Record<number, unknown> = {};
  for (const s of statuses) {
    const d = ERROR_DESCRIPTIONS[s] ?? { description: 'Error', code: 'bad_request', detail: '' };
    out[s] = Type.Object(ProblemSchema.properties, {
      additionalProperties: true,
      description: d.description,
      examples: [
        {
          type: `https://steward.invalid/problems/${d.code}`,
          title: 'Error',
          status: s,
          detail: d.detail,
          code: d.code,
          request_id: 'b7f1c2d4-5e6f-4a1b-9c8d-0e1f2a3b4c5d',
        },
      ],
    });
  }
  return out;
}

/** A request body object that rejects fields it does not name. */
export function StrictObject<T extends TProperties>(
  properties: T,
  options: Record<string, unknown> = {},
): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/**
 * The largest id a client may send: ids are PostgreSQL `integer` columns (serial). A larger
 * number (`99999999999999999999`, `1e309`) is a 400 naming the field, not a database error.
 */
export const MAX_ID = 2_147_483_647;

/** An object id in a path, query or body: a positive integer within the column's range. */
export function Id(options: Record<string, unknown> = {}) {
  return Type.Integer({ minimum: 1, maximum: MAX_ID, ...options });
}

export const IdParams = StrictObject({ id: Id({ description: 'Numeric id' }) });

export const MessageResponse = Type.Object({ detail: Type.String() });

const PRIMITIVE_TYPES = new Set(['string', 'integer', 'number', 'boolean']);

/**
 * `schema` or null. A primitive type becomes a type list (`"type": ["string", "null"]`, keeping
 * its format, bounds and description): fast-json-stringify serializes that with a typeof check,
 * while for an `anyOf` it runs an Ajv validation of each alternative for every value of every
 * response. Anything else (objects, enums) stays an `anyOf` with null.
 */
export function Nullable<T extends TSchema>(
  schema: T,
  options: Record<string, unknown> = {},
): TUnsafe<Static<T> | null> {
  const s = schema as { type?: unknown; enum?: unknown; const?: unknown };
  if (
    typeof s.type === 'string' &&
    PRIMITIVE_TYPES.has(s.type) &&
    s.enum === undefined &&
    s.const === undefined
  ) {
    return Type.Unsafe<Static<T> | null>({ ...schema, ...options, type: [s.type, 'null'] });
  }
  return Type.Unsafe<Static<T> | null>(Type.Union([schema, Type.Null()], options));
}

/**
 * A string that is one of `values`: `{"type": "string", "enum": [...]}`, which serializes as a
 * plain string (a union of literals would be an `anyOf` validated by Ajv on every response).
 */
export function StringEnum<const V extends readonly [string, ...string[]]>(
  values: V,
  options: Record<string, unknown> = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}
