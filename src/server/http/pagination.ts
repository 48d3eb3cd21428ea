// List conventions shared by every module: two pagination styles (page/page_size, alias size,
// and limit/offset; default 20, at most 100), keyset cursors for large append-only tables,
// `ordering=field,-field` and `search=`. The body is {count, next, previous, results}; the same
// facts go in headers for clients that prefer them. Links are absolute when the manager knows its
// own address (base_url, or a Host the admin listed in allowed_hosts) and path-only otherwise:
// never built from a Host header nobody vouched for.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../shared/app-error.js';
import { Nullable } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The request's origin when its Host is listed in allowed_hosts (system/network.ts). */
    linkOrigin?: (request: FastifyRequest) => string | undefined;
  }
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/**
 * Deepest offset a list accepts. Beyond it an offset (or page * page_size) would overflow the
 * database's OFFSET, and no list is that long: walk further with a cursor or a narrower filter.
 */
export const MAX_OFFSET = 100_000_000;
export const MAX_PAGE = MAX_OFFSET / MAX_PAGE_SIZE;

const pageSizeSchema = (description: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, description });

/** Query parameters every list accepts. Spread into a route's querystring schema. */
export const PageQuery = {
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: `Page number, from 1 to ${MAX_PAGE}` }),
  ),
  page_size: Type.Optional(
    pageSizeSchema(`Items per page (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`),
  ),
  size: Type.Optional(pageSizeSchema('Alias of page_size')),
  limit: Type.Optional(
    pageSizeSchema(`Items to return (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`),
  ),
  offset: Type.Optional(
    Type.Integer({ minimum: 0, maximum: MAX_OFFSET, description: `Items to skip (at most ${MAX_OFFSET})` }),
  ),
};

export const OrderingQuery = (fields: readonly string[]) => ({
  ordering: Type.Optional(
    Type.String({
      maxLength: 200,
      description: `Comma-separated fields to sort by, \`-\` prefix for descending. Fields: ${fields.join(', ')}`,
      examples: [`-${fields[0] ?? 'id'}`],
    }),
  ),
});

export const SearchQuery = {
  search: Type.Optional(Type.String({ maxLength: 200, description: 'Case-insensitive substring search' })),
};

export const CursorQuery = {
  cursor: Type.Optional(
    Type.String({
      maxLength: 200,
      description: "Opaque cursor from a previous page's `next` link (keyset pagination)",
    }),
  ),
};

/** The list envelope's schema for a given item schema. */
export function PageOf<T extends import('typebox').TSchema>(item: T) {
  return Type.Object({
    count: Type.Integer({ description: 'Total number of items matching the filters' }),
    next: Nullable(Type.String(), {
      description:
        'URL of the next page: absolute from base_url (or a Host listed in allowed_hosts), else path-only',
    }),
    previous: Nullable(Type.String(), {
      description:
        'URL of the previous page: absolute from base_url (or a Host listed in allowed_hosts), else path-only',
    }),
    results: Type.Array(item),
  });
}

export interface PageRequest {
  limit: number;
  offset: number;
  style: 'page' | 'offset';
}

type PageParams = { page?: number; page_size?: number; size?: number; limit?: number; offset?: number };

export function parsePage(query: PageParams): PageRequest {
  const usesPage = query.page !== undefined || query.page_size !== undefined || query.size !== undefined;
  const usesOffset = query.limit !== undefined || query.offset !== undefined;
  if (usesPage && usesOffset) {
    throw new AppError({
      code: 'validation_failed',
      message: 'use either page/page_size or limit/offset, not both',
      errors: [{ field: 'query', message: 'page/page_size and limit/offset cannot be combined' }],
    });
  }
  if (query.page_size !== undefined && query.size !== undefined && query.page_size !== query.size) {
    throw new AppError({
      code: 'validation_failed',
      message: 'page_size and size disagree',
      errors: [{ field: 'query.size', message: 'alias of page_size; give one of them' }],
    });
  }
  if (usesOffset) {
    return { limit: query.limit ?? DEFAULT_PAGE_SIZE, offset: query.offset ?? 0, style: 'offset' };
  }
  const size = query.page_size ?? query.size ?? DEFAULT_PAGE_SIZE;
  const page = query.page ?? 1;
  return { limit: size, offset: (page - 1) * size, style: 'page' };
}

/**
 * The URL of this request with some query parameters replaced: under `baseUrl` when set, else
 * under the request's origin when its Host is listed in allowed_hosts, else path-only.
 */
export function linkTo(
  request: FastifyRequest,
  baseUrl: string | undefined,
  changes: Record<string, string | null>,
) {
  const origin = baseUrl ?? request.server.linkOrigin?.(request);
  // Path and query are set on the origin, never resolved against it: a request path such as
  // `//evil.example/api/v1/...` (the router ignores duplicate slashes) must not become the host.
  const q = request.url.indexOf('?');
  const path = (q < 0 ? request.url : request.url.slice(0, q)).replace(/^\/+/, '/');
  const url = new URL(origin ?? 'http://relative.invalid');
  // A configured base URL may carry a path prefix (behind a proxy); keep the request's path under it.
  url.pathname = `${url.pathname.replace(/\/$/, '')}${path}`;
  url.search = q < 0 ? '' : request.url.slice(q);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  // A token given in the URL must never be echoed into links that end up in logs or histories.
  url.searchParams.delete('token');
  return origin ? url.toString() : `${url.pathname}${url.search}`;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Builds the list body and sets pagination headers. */
export function sendPage<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  page: PageRequest,
  count: number,
  results: T[],
): Page<T> {
  const baseUrl = request.server.baseUrl?.();
  const hasNext = page.offset + results.length < count;
  const hasPrev = page.offset > 0;
  let next: string | null = null;
  let previous: string | null = null;
  if (page.style === 'offset') {
    if (hasNext)
      next = linkTo(request, baseUrl, {
        offset: String(page.offset + page.limit),
        limit: String(page.limit),
      });
    if (hasPrev)
      previous = linkTo(request, baseUrl, {
        offset: String(Math.max(0, page.offset - page.limit)),
        limit: String(page.limit),
      });
  } else {
    const pageNo = Math.floor(page.offset / page.limit) + 1;
    if (hasNext) next = linkTo(request, baseUrl, { page: String(pageNo + 1) });
    if (hasPrev) previous = linkTo(request, baseUrl, { page: String(pageNo - 1) });
  }
  const pageNumber = Math.floor(page.offset / page.limit) + 1;
  reply.header('pagination_page_number', String(pageNumber));
  reply.header('pagination_page_size', String(page.limit));
  reply.header('x-total-count', String(count));
  const links: string[] = [];
  if (next) links.push(`<${next}>; rel="next"`);
  if (previous) links.push(`<${previous}>; rel="prev"`);
  if (links.length > 0) reply.header('link', links.join(', '));
  return { count, next, previous, results };
}

/** Keyset cursors: an opaque, url-safe encoding of the last item's sort key. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** What each key of a cursor holds: a positive id (a `bigint` column) or a string. */
export type CursorShape = Record<string, 'id' | 'string'>;

const validCursorValue = (kind: 'id' | 'string', v: unknown) =>
  kind === 'id'
    ? typeof v === 'number' && Number.isSafeInteger(v) && v >= 1
    : typeof v === 'string' && v.length <= 200 && !v.includes('\u0000');

/**
 * Decodes a cursor this list issued. Anything else (not base64url JSON, a key missing, a value
 * of the wrong type or out of range) is a 400 naming `query.cursor`, never a database error.
 */
export function decodeCursor<S extends CursorShape>(
  cursor: string,
  shape: S,
): { [K in keyof S]: S[K] extends 'id' ? number : string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    parsed &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.keys(parsed).length === Object.keys(shape).length &&
    Object.entries(shape).every(([k, kind]) => validCursorValue(kind, (parsed as Record<string, unknown>)[k]))
  ) {
    return parsed as { [K in keyof S]: S[K] extends 'id' ? number : string };
  }
  throw new AppError({
    code: 'validation_failed',
    message: 'cursor is not valid; use the `next` link of a previous page',
    errors: [{ field: 'query.cursor', message: 'is not a cursor this list issued' }],
  });
}

export interface OrderTerm {
  field: string;
  direction: 'asc' | 'desc';
}

/** Parses `ordering=name,-created` against the fields a list allows; unknown fields are a 400. */
export function parseOrdering(
  ordering: string | undefined,
  allowed: readonly string[],
  fallback: OrderTerm[],
): OrderTerm[] {
  if (!ordering) return fallback;
  const terms: OrderTerm[] = [];
  const bad: string[] = [];
  for (const raw of ordering.split(',')) {
    const t = raw.trim();
    if (!t) continue;
    const field = t.replace(/^[-+]/, '');
    if (!allowed.includes(field)) bad.push(field);
    else terms.push({ field, direction: t.startsWith('-') ? 'desc' : 'asc' });
  }
  if (bad.length > 0) {
    throw new AppError({
      code: 'validation_failed',
      message: `cannot order by ${bad.join(', ')}; allowed: ${allowed.join(', ')}`,
      errors: [{ field: 'query.ordering', message: `unknown field(s): ${bad.join(', ')}` }],
    });
  }
  return terms.length > 0 ? terms : fallback;
}

/** A LIKE pattern matching the search text anywhere, with LIKE's wildcards escaped. */
export function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
