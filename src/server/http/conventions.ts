// Cross-cutting HTTP behaviour every route gets: request ids, security headers, compression,
// `Cache-Control: no-store` on the API, urlencoded forms, and the log redaction rules.

import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import formbody from '@fastify/formbody';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { registerInputGuard } from './input-guard.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: skip the browser security headers (load-balancer probes). */
    securityHeaders?: boolean;
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

/** Removes credentials from a URL before it is logged (tokens may travel as ?token=). */
export function redactUrlForLog(url: string): string {
  return url.replace(/([?&](?:token|password|api_key|key)=)[^&#]*/gi, '$1[REDACTED]');
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
    (this.real()[level] as (...a: unknown[]) => void)(...args);
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
  await app.register(formbody);
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
