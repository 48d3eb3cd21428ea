// Credentials and permissions, on every route. The credential is read from any of the schemes
// in DESIGN.md; the identity module turns it into a Principal (or refuses it with a reason).
// Then the route's declared permission is checked. Routes that declare nothing are refused
// at registration: deny by default.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteAccess } from '../../contract/permissions.js';
import { AppError } from '../shared/app-error.js';
import type { CredentialSource, Principal } from '../shared/principal.js';
import './actor.js';
import { routeOf } from './conventions.js';
import type { RateLimiter } from './rate-limit.js';

export interface Credential {
  source: CredentialSource;
  value: string;
}

export interface RequestInfo {
  ip: string;
  userAgent: string | undefined;
  requestId: string;
}

export interface Authenticator {
  /**
   * Resolves a credential or throws (or rejects with) AppError('invalid_token' | ...). A known
   * credential answers synchronously, without a promise, from the cache.
   */
  authenticate(credential: Credential, info: RequestInfo): Principal | Promise<Principal>;
}

export const SESSION_COOKIE = 'steward_session';
/** Cookie-authenticated writes must carry this header (CSRF protection for the console). */
export const CSRF_HEADER = 'x-requested-with';
export const CSRF_VALUE = 'steward-console';
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission this route requires (see contract/permissions.ts). Mandatory on /api routes. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
    credential: Credential | null;
    /** Why the credential was refused, for the audit record (never the secret). */
    authFailure?: string;
  }
}

/** Every value of the named cookie (a browser may send two, say after cookie tossing). */
function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      values.push(decodeURIComponent(raw));
    } catch {
      // Malformed percent-encoding: kept as sent, so it is refused as an unknown session.
      values.push(raw);
    }
  }
  return values;
}

/** Which credential header a raw header name is (a bit of its own), or 0. Lengths first: hot path. */
function credentialHeaderBit(name: string): number {
  switch (name.length) {
    case 13:
      // The usual spellings without a new string; any other case through toLowerCase.
      return name === 'Authorization' || name === 'authorization' || name.toLowerCase() === 'authorization'
        ? 1
        : 0;
    case 7:
      return name.toLowerCase() === 'api-key' ? 2 : 0;
    case 10:
      return name.toLowerCase() === 'x-token-id' ? 4 : 0;
    case 12:
      return name.toLowerCase() === 'x-auth-token' ? 8 : 0;
    default:
      return 0;
  }
}

/**
 * Credential headers sent more than once. Node keeps only the first `Authorization` in
 * `request.headers` and folds repeated custom headers into one comma-separated value, so only
 * the raw header list shows them.
 */
function repeatedCredentialHeaders(rawHeaders: string[]): string[] {
  let seen = 0;
  let repeated: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const bit = credentialHeaderBit(name);
    if (bit === 0) continue;
    if ((seen & bit) === 0) seen |= bit;
    else if (repeated === undefined) repeated = [name.toLowerCase()];
    else repeated.push(name.toLowerCase());
  }
  return repeated ?? [];
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

const twoCredentials = (what: string) =>
  new AppError({
    code: 'bad_request',
    message: `more than one credential in one request (${what}); send exactly one`,
  });

/**
 * Finds the credential of a request. Two different ones are a client error, and so is any
 * credential header, session cookie or `token` parameter sent twice, whatever the values: the
 * server must never pick one of two credentials on the client's behalf.
 */
export function extractCredential(request: FastifyRequest): Credential | null {
  const found: Credential[] = [];
  const headers = request.headers;
  if (
    headers.authorization !== undefined ||
    headers['api-key'] !== undefined ||
    headers['x-token-id'] !== undefined ||
    headers['x-auth-token'] !== undefined
  ) {
    const repeated = repeatedCredentialHeaders(request.raw.rawHeaders);
    if (repeated.length > 0) throw twoCredentials(`${repeated.join(', ')} sent more than once`);
  }
  const authz = first(headers.authorization);
  if (authz !== undefined) {
    const m = /^(Token|Bearer)\s+(\S+)\s*$/i.exec(authz);
    if (!m) {
      throw new AppError({
        code: 'invalid_token',
        message: 'Authorization header must be "Token <token>" or "Bearer <token>"',
      });
    }
    found.push({
      source: m[1]?.toLowerCase() === 'token' ? 'authorization_token' : 'authorization_bearer',
      value: m[2] as string,
    });
  }
  const apiKey = first(headers['api-key']);
  if (apiKey !== undefined) found.push({ source: 'api_key_header', value: apiKey.trim() });
  const tokenId = first(headers['x-token-id']);
  if (tokenId !== undefined) found.push({ source: 'x_token_id', value: tokenId.trim() });
  const authToken = first(headers['x-auth-token']);
  if (authToken !== undefined) found.push({ source: 'x_auth_token', value: authToken.trim() });
  const cookies = cookieValues(
    Array.isArray(headers.cookie) ? headers.cookie.join('; ') : headers.cookie,
    SESSION_COOKIE,
  );
  if (cookies.length > 1) throw twoCredentials(`${SESSION_COOKIE} cookie sent more than once`);
  const cookie = cookies[0];
  if (cookie !== undefined && cookie !== '') found.push({ source: 'cookie', value: cookie });
  const query = request.query as Record<string, unknown> | undefined;
  if (query && 'token' in query) {
    const token = query.token;
    // The token parameter belongs to authentication, not to the route's own query schema.
    delete query.token;
    if (Array.isArray(token)) throw twoCredentials('token parameter sent more than once');
    if (typeof token === 'string') found.push({ source: 'query', value: token });
  }
  if (found.length === 0) return null;
  if (found.length === 1) return found[0] as Credential;
  const distinct = new Set(found.map((c) => c.value));
  if (distinct.size > 1) throw twoCredentials(found.map((c) => c.source).join(', '));
  // The same secret sent twice (say, as a cookie and a header) counts once; prefer the header.
  return found.find((c) => c.source !== 'cookie') ?? (found[0] as Credential);
}

/**
 * Why a browser sent this request from another site, or null when it did not (or when no
 * browser sent it: curl and scripts send neither header). Browsers send `Sec-Fetch-Site` on
 * every request and `Origin` on every cross-origin POST, so a page elsewhere cannot hide where
 * it posts from. Used where a request may set the session cookie (login CSRF: a cross-site form
 * would sign the victim's browser into the attacker's account).
 */
export function crossSiteReason(request: FastifyRequest): string | null {
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site')
    return `the browser says the request came from a ${site} page`;
  const origin = request.headers.origin;
  if (origin === undefined || site === 'same-origin' || site === 'none') return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return 'the Origin header is not an origin';
  }
  return host === request.headers.host ? null : `the request came from ${origin}`;
}

export function requestInfo(request: FastifyRequest): RequestInfo {
  return { ip: request.ip, userAgent: first(request.headers['user-agent']), requestId: String(request.id) };
}

export interface AuthPluginOptions {
  authenticator: Authenticator;
  limiter: RateLimiter;
  /** Budget per minute per client IP for requests without a valid credential. */
  ipLimitPerMinute: number;
}

export function registerAuth(app: FastifyInstance, opts: AuthPluginOptions) {
  app.decorateRequest('principal', null);
  app.decorateRequest('credential', null);
  app.decorateRequest('actor', null);

  app.addHook('onRoute', (route) => {
    const url = route.url;
    const access = (route.config as { permission?: RouteAccess } | undefined)?.permission;
    if (url.startsWith('/api/') && !url.startsWith('/api/docs') && access === undefined) {
      throw new Error(`route ${String(route.method)} ${url} declares no permission (config.permission)`);
    }
  });

  /** After a refused credential: counts against the client's IP; throws unless the route is public. */
  function refused(err: unknown, request: FastifyRequest, reply: FastifyReply, access: RouteAccess) {
    // Refused credentials count against the client's IP, which bounds guessing.
    if (err instanceof AppError) request.authFailure = err.message;
    opts.limiter.hit(`ip:${request.ip}`, opts.ipLimitPerMinute, 'ip', reply);
    // A stale cookie must not stop anyone from reaching the login route.
    if (access !== 'public') throw err;
  }

  /** The CSRF rule, the rate limit of the principal (or the IP) and the route's permission. */
  function authorize(request: FastifyRequest, reply: FastifyReply, access: RouteAccess, counted: boolean) {
    const p = request.principal;
    if (
      p?.credentialSource === 'cookie' &&
      MUTATING.has(request.method) &&
      request.headers[CSRF_HEADER] !== CSRF_VALUE
    ) {
      // A cookie is sent by the browser on its own; a custom header is not (cross-site requests
      // cannot set it without a CORS preflight, which this server never grants).
      throw new AppError({
        code: 'forbidden',
        message: `requests authenticated by the session cookie that change something must send ${CSRF_HEADER}: ${CSRF_VALUE}`,
      });
    }
    if (p) {
      if (p.rateLimitPerMinute != null) {
        const key = p.tokenId !== undefined ? `token:${p.tokenId}` : `user:${p.userId}`;
        opts.limiter.hit(key, p.rateLimitPerMinute, p.tokenId !== undefined ? 'token' : 'session', reply);
      }
    } else if (!counted) {
      opts.limiter.hit(`ip:${request.ip}`, opts.ipLimitPerMinute, 'ip', reply);
    }
    if (access === 'public') return;
    if (!p) {
      throw new AppError({
        code: 'unauthenticated',
        message: 'authentication required: send "Authorization: Token <token>" (see /api/docs)',
      });
    }
    if (access === 'authenticated') return;
    if (!p.permissions.has(access)) {
      throw new AppError({
        code: p.method === 'session' ? 'forbidden' : 'insufficient_scope',
        message: `permission ${access} is required for this operation`,
        details: { required_permission: access },
      });
    }
  }

  // Callback style, so that a cached credential is checked without a promise: `done` is called
  // outside the try blocks, since it runs the rest of the request synchronously.
  app.addHook('onRequest', (request, reply, done) => {
    const access = routeOf(request).config?.permission;
    if (access === undefined) return done(); // not an API route (health, docs, console files)
    let pending: Promise<Principal> | undefined;
    let counted = false;
    try {
      const credential = extractCredential(request);
      request.credential = credential;
      if (credential) {
        const p = opts.authenticator.authenticate(credential, requestInfo(request));
        if (p instanceof Promise) pending = p;
        else request.principal = p;
      }
    } catch (err) {
      counted = true;
      try {
        refused(err, request, reply, access);
      } catch (e) {
        return done(e as Error);
      }
    }
    const settle = () => {
      try {
        authorize(request, reply, access, counted);
      } catch (e) {
        return done(e as Error);
      }
      done();
    };
    if (pending === undefined) return settle();
    pending.then(
      (p) => {
        request.principal = p;
        settle();
      },
      (err: unknown) => {
        counted = true;
        try {
          refused(err, request, reply, access);
        } catch (e) {
          return done(e as Error);
        }
        settle();
      },
    );
  });
}

/** The principal of a route that requires authentication (throws if called on a public route). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError({ code: 'unauthenticated', message: 'authentication required' });
  return request.principal;
}
