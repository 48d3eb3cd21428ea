// Cross-cutting HTTP behaviour every route gets: request ids, security headers, compression,
// `Cache-Control: no-store` on the API, urlencoded forms, and the log redaction rules.

import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: skip the browser security headers (load-balancer probes). */
    securityHeaders?: boolean;
  }
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

// The console and the docs page load only their own files; Swagger UI sets its own CSP.
const SECURITY_HEADERS = securityHeadersOf({
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

export async function registerConventions(app: FastifyInstance) {
  // One synchronous hook sets the request id and helmet's headers. The headers do not depend
  // on the request, so they are computed once at start; @fastify/helmet would rebuild helmet's
  // middleware (and re-parse the CSP) on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (request.routeOptions.config?.securityHeaders !== false) reply.headers(SECURITY_HEADERS);
    done();
  });
  await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip', 'deflate'] });
  await app.register(formbody);
  // A POST without a body validates as an empty object, so optional-only bodies need no `{}`
  // and a missing required field is named ("body.name is required") instead of "body must be object".
  app.addHook('preValidation', (request, _reply, done) => {
    if ((request.body === undefined || request.body === null) && request.routeOptions.schema?.body) {
      request.body = {};
    }
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs')) {
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
    }
    done(null, payload);
  });
}
