// Cross-cutting HTTP behaviour every route gets: request ids, security headers, compression,
// `Cache-Control: no-store` on the API, urlencoded forms, and the log redaction rules.

import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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

export async function registerConventions(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(helmet, {
    // The console and the docs page load only their own files; Swagger UI sets its own CSP.
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'img-src': ["'self'", 'data:'],
        'upgrade-insecure-requests': null,
      },
    },
    hsts: { maxAge: 31536000, includeSubDomains: false },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip', 'deflate'] });
  await app.register(formbody);
  // A POST without a body validates as an empty object, so optional-only bodies need no `{}`
  // and a missing required field is named ("body.name is required") instead of "body must be object".
  app.addHook('preValidation', async (request) => {
    if ((request.body === undefined || request.body === null) && request.routeOptions.schema?.body) {
      request.body = {};
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs')) {
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
    }
    return payload;
  });
}
