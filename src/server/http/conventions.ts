// Cross-cutting HTTP behaviour every route gets: request ids, security headers, compression,
// `Cache-Control: no-store` on the API, urlencoded forms, JSON sent under another content type,
// and the log redaction rules.

import { randomUUID } from 'node:crypto';
import { parse as parseForm } from 'node:querystring';
import compress from '@fastify/compress';
import type {
  FastifyBaseLogger,
  FastifyBodyParser,
  FastifyInstance,
  FastifyRequest,
  preValidationHookHandler,
} from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { AppError } from '../shared/app-error.js';
import { registerInputGuard } from './input-guard.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: skip the browser security headers (load-balancer probes). */
    securityHeaders?: boolean;
    /**
     * true: a JSON document is read as JSON whatever the declared content type, whoever sends it
     * (the login route). Other routes do so only for requests with a credential other than the
     * session cookie: see registerConventions.
     */
    jsonBodyAnyType?: boolean;
  }
  interface FastifyRequest {
    /** See routeOf. */
    routeInfo: FastifyRequest['routeOptions'] | null;
  }
}

/**
 * `request.routeOptions`, read once per request: Fastify's getter builds a new object on every
 * access, and the shared hooks ask for it several times per request.
 */
export function routeOf(request: FastifyRequest): FastifyRequest['routeOptions'] {
  request.routeInfo ??= request.routeOptions;
  return request.routeInfo;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Honour a caller's X-Request-Id when it is safe to log; otherwise make one. */
export function generateRequestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Parameter names whose values are secrets. A name is compared as the server would read it:
 * percent-decoded (Fastify decodes `?%74oken=` to `token`), lower-cased, without a `[...]`
 * suffix (`token[]=`), so no spelling of the key slips through.
 */
const SECRET_PARAMS = new Set([
  'token',
  'access_token',
  'auth_token',
  'x-auth-token',
  'x-token-id',
  'api_key',
  'api-key',
  'apikey',
  'key',
  'password',
  'passwd',
  'secret',
  'session',
  'steward_session',
]);
/** A Steward secret found by its shape (docs/authentication.md, token formats), under any key. */
const SECRET_SHAPE = /stw[tksa][A-Za-z0-9]{38}/;
const PERCENT = /%([0-9a-f]{2})/gi;
/** Only URLs with one of these can carry a parameter or an encoded secret. */
const MAYBE_SECRET = /[?;=%]|stw/i;

/** Percent-decoding that never throws (byte by byte), repeated so double encoding is seen through. */
function decodeForMatch(s: string): string {
  let out = s.replace(/\+/g, ' ');
  for (let i = 0; i < 3 && out.includes('%'); i++) {
    const next = out.replace(PERCENT, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}

function isSecretParam(rawKey: string): boolean {
  const key = decodeForMatch(rawKey).trim().toLowerCase();
  const bracket = key.indexOf('[');
  return SECRET_PARAMS.has(bracket === -1 ? key : key.slice(0, bracket).trim());
}

/**
 * Removes credentials from a URL before it is logged or audited. The URL is cut at every `/`,
 * `?`, `&`, `;` and `#`, and each piece is judged after decoding: a `name=value` piece with a
 * secret's name (any spelling, see SECRET_PARAMS) loses its value, and any piece that decodes to
 * something shaped like a Steward secret is masked whole. Forms the server refuses (`token[]=`,
 * `;token=`) are masked as well: a refused secret is still a secret.
 */
export function redactUrlForLog(url: string): string {
  if (!MAYBE_SECRET.test(url)) return url;
  return url
    .split(/([/?&;#])/)
    .map((piece, i) => {
      if (i % 2 === 1 || piece === '') return piece; // a separator
      const eq = piece.indexOf('=');
      if (eq !== -1 && isSecretParam(piece.slice(0, eq))) return `${piece.slice(0, eq)}=[REDACTED]`;
      if (!SECRET_SHAPE.test(decodeForMatch(piece))) return piece;
      const key = eq === -1 ? '' : piece.slice(0, eq);
      return eq === -1 || SECRET_SHAPE.test(decodeForMatch(key)) ? '[REDACTED]' : `${key}=[REDACTED]`;
    })
    .join('');
}

const SECRET_SHAPES = new RegExp(SECRET_SHAPE.source, 'g');

/**
 * Masks anything shaped like a Steward secret in a log message (by value, whatever it is
 * named): error messages quote what the client sent, such as an unknown query field.
 */
export function redactSecretsInText(text: string): string {
  return text.includes('stw') ? text.replace(SECRET_SHAPES, '[REDACTED]') : text;
}

/** pino options: no credential of any kind reaches the log. */
export const LOG_REDACTION = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-auth-token"]',
    'req.headers["x-token-id"]',
    'req.headers["api-key"]',
    'res.headers["set-cookie"]',
    '*.password',
    '*.token',
    '*.secret',
  ],
  censor: '[REDACTED]',
};

export const LOG_SERIALIZERS = {
  req(req: FastifyRequest) {
    return {
      method: req.method,
      url: redactUrlForLog(req.url),
      route: req.routeOptions?.url,
      remoteAddress: req.ip,
    };
  },
};

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Bindings = Record<string, unknown>;
/** The pino logger Fastify hands to childLoggerFactory. */
type PinoLogger = FastifyBaseLogger & {
  levels: { values: Record<string, number> };
  bindings(): Bindings;
};

/**
 * The logger of one request (`request.log`). Fastify makes a pino child for every request, and
 * pino serialises (and redacts) its bindings each time, although at the default level nothing
 * a request logs is written. This one makes the pino child only when something is logged at an
 * enabled level, so a request that logs nothing pays for one small object.
 */
class RequestLogger {
  #child: FastifyBaseLogger | undefined;
  constructor(
    private readonly parent: PinoLogger,
    private readonly bound: Bindings,
    /** Route options may set another level (`logLevel`). */
    private readonly options: { level?: string },
  ) {}
  get level() {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }
  set level(level: string) {
    this.real().level = level;
  }
  private real(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bound, this.options);
    return this.#child;
  }
  private write(level: Level, args: unknown[]) {
    if (this.#child === undefined && !this.isLevelEnabled(level)) return;
    const scrubbed = args.map((a) => (typeof a === 'string' ? redactSecretsInText(a) : a));
    (this.real()[level] as (...a: unknown[]) => void)(...scrubbed);
  }
  isLevelEnabled(level: string) {
    const values = this.parent.levels.values;
    return (values[level] ?? 0) >= (values[this.level] ?? 0);
  }
  fatal(...args: unknown[]) {
    this.write('fatal', args);
  }
  error(...args: unknown[]) {
    this.write('error', args);
  }
  warn(...args: unknown[]) {
    this.write('warn', args);
  }
  info(...args: unknown[]) {
    this.write('info', args);
  }
  debug(...args: unknown[]) {
    this.write('debug', args);
  }
  trace(...args: unknown[]) {
    this.write('trace', args);
  }
  silent() {}
  child(bindings: Bindings, options?: object) {
    return this.real().child(bindings, options);
  }
  bindings() {
    return { ...this.parent.bindings(), ...this.bound };
  }
}

/** Fastify's childLoggerFactory: see RequestLogger. */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: { level?: string },
): FastifyBaseLogger {
  return new RequestLogger(logger as PinoLogger, bindings, options) as unknown as FastifyBaseLogger;
}

/** The browser security headers of helmet's middleware for these options, worked out once. */
export function securityHeadersOf(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader() {},
  };
  helmet(options)({} as never, res as never, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

// Pages (the console, the docs page) get helmet's full set. They load only their own files;
// Swagger UI sets its own CSP.
const PAGE_HEADERS = securityHeadersOf({
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      'img-src': ["'self'", 'data:'],
      'upgrade-insecure-requests': null,
    },
  },
  strictTransportSecurity: { maxAge: 31536000, includeSubDomains: false },
  crossOriginEmbedderPolicy: false,
});

// API responses are JSON for scripts, never rendered: the set the OWASP REST Security Cheat
// Sheet recommends for APIs, and never cached.
const API_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': PAGE_HEADERS['strict-transport-security'] as string,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const isApi = (url: string) => url.startsWith('/api/') && !url.startsWith('/api/docs');

export async function registerConventions(app: FastifyInstance) {
  // One synchronous hook sets the request id and the security headers. The headers do not
  // depend on the request, so they are computed once at start (@fastify/helmet would rebuild
  // helmet's middleware and re-parse the CSP on every request). Handlers may still override.
  app.decorateRequest('routeInfo', null);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (isApi(request.url)) reply.headers(API_HEADERS);
    else if (routeOf(request).config?.securityHeaders !== false) reply.headers(PAGE_HEADERS);
    done();
  });
  await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip', 'deflate'] });
  registerLenientJson(app);
  // A POST without a body validates as an empty object, so optional-only bodies need no `{}`
  // and a missing required field is named ("body.name is required") instead of "body must be object".
  // Added to the routes that have a body schema only: the others skip the hook altogether.
  const emptyBody: preValidationHookHandler = (request, _reply, done) => {
    if (request.body === undefined || request.body === null) request.body = {};
    done();
  };
  // Text the database cannot store (NUL, lone surrogates) is a 400 naming the field.
  registerInputGuard(app);
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body) return;
    const own = route.preValidation;
    route.preValidation =
      own === undefined ? [emptyBody] : [emptyBody, ...(Array.isArray(own) ? own : [own])];
  });
}

/**
 * Whether this request's body may be read as JSON under a content type that is not JSON.
 *
 * The seed's commands send JSON as `curl -d` does (application/x-www-form-urlencoded) and as the
 * InsightCloudSec script does (text/plain). Those are exactly the types a cross-site HTML form can
 * send without a CORS preflight, which is why the console's session cookie never gets this
 * leniency: a request authenticated by the cookie keeps the strict rule (and its writes need the
 * CSRF header anyway). A request carrying any other credential (Authorization, Api-Key, x-token-id,
 * x-auth-token, ?token=) cannot come from a page that does not already hold that secret. The login
 * route takes it too: it is public and the seed's script logs in this way; a cross-site form could
 * already post the login form (multipart or urlencoded), so this opens nothing new.
 */
function readsJsonAnyType(request: FastifyRequest): boolean {
  if (routeOf(request).config?.jsonBodyAnyType === true) return true;
  const p = request.principal;
  return p !== null && p !== undefined && p.credentialSource !== 'cookie';
}

const JSON_DOCUMENT = /^\s*[{[]/;

/**
 * Parsers for application/x-www-form-urlencoded and text/plain. A form stays a form; a body
 * that is a JSON object or array is read as JSON (with Fastify's own parser, so prototype
 * poisoning is refused the same way) when readsJsonAnyType allows; text/plain is otherwise a 415.
 */
function registerLenientJson(app: FastifyInstance) {
  const json = app.getDefaultJsonParser('error', 'error');
  const form: FastifyBodyParser<string> = (request, body, done) => {
    if (readsJsonAnyType(request) && JSON_DOCUMENT.test(body)) return json(request, body, done);
    done(null, { ...parseForm(body) });
  };
  const text: FastifyBodyParser<string> = (request, body, done) => {
    if (readsJsonAnyType(request)) {
      if (JSON_DOCUMENT.test(body)) return json(request, body, done);
      if (body.trim() === '') return done(null, undefined);
    }
    done(
      new AppError({
        code: 'unsupported_media_type',
        message:
          'text/plain is read only when it holds a JSON document and the request carries an API token ' +
          '(not the session cookie); send Content-Type: application/json',
      }),
    );
  };
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, form);
  // Fastify's own text/plain parser hands the string to the route, whose schema then says
  // "body must be object": this one replaces it.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, text);
}
