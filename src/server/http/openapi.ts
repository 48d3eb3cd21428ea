// The OpenAPI 3.1 document, generated from the route schemas by @fastify/swagger, and the
// interactive docs page (Swagger UI, with Authorize and "Try it out" that shows the curl
// command). Each operation's required permission is added as `x-required-permission` from the
// route table, so the document cannot disagree with what the server enforces.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { RouteTable } from './route-table.js';

export const OPENAPI_TAGS = [
  { name: 'auth', description: 'Log in, log out, and find out who a credential belongs to' },
  { name: 'users', description: 'User accounts, roles and groups' },
  { name: 'tokens', description: 'API tokens: named, scoped, expiring, rotatable credentials for scripts' },
  { name: 'audit', description: 'Who did what, when, with which credential' },
  { name: 'appliances', description: 'The appliance registry, authorization, health, licensing' },
  { name: 'configuration', description: 'Configuration groups: save, diff, apply, per-appliance status' },
  { name: 'system', description: 'Manager settings, uploads and files' },
  { name: 'backup', description: 'Backup and restore of the manager' },
  { name: 'license', description: 'Manager licence' },
  { name: 'upgrades', description: 'Packages and appliance upgrades' },
  { name: 'cluster', description: 'Manager replicas sharing one PostgreSQL server' },
  { name: 'meta', description: 'The API description itself' },
];

const toOpenApiPath = (url: string) =>
  (url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/$/, '') || '/').toLowerCase();

/** `GET /api/v1/tokens/{id}/activity/` becomes `getTokensByIdActivity`: stable and unique. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/(v1\/)?/, '')
    .replace(/\{([^}]+)\}/g, (_m, name: string) => `by-${name}`)
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return method.toLowerCase() + words.join('');
}

export async function registerOpenApi(app: FastifyInstance, table: RouteTable, version: string) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Steward management API',
        version,
        description: [
          'REST API of the Steward manager. Every request needs a credential (see the security schemes);',
          'a successful `POST /api/v1/auth/token/` gives a session token, and API tokens are created under `/api/v1/tokens/`.',
          '',
          '**Careful:** operations other than GET change the manager or its appliances. Try them against a test manager first.',
          '',
          'Errors are `application/problem+json` documents with `code`, `detail`, `request_id` and, for bad input, `errors[]`.',
          'Lists take `page`/`page_size` (alias `size`) or `limit`/`offset`; default 20, at most 100.',
        ].join('\n'),
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/', description: 'This manager' }],
      tags: OPENAPI_TAGS,
      components: {
        securitySchemes: {
          TokenAuth: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description:
              'The Spectra style: `Authorization: Token <token>` (type the word Token, a space, and the token)',
          },
          BearerAuth: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <token>`' },
          ApiKeyAuth: {
            type: 'apiKey',
            in: 'header',
            name: 'Api-Key',
            description: 'Any API token or API key',
          },
          TokenIdAuth: {
            type: 'apiKey',
            in: 'header',
            name: 'x-token-id',
            description: 'Any API token (Cyber Vision style)',
          },
          SessionAuth: {
            type: 'apiKey',
            in: 'header',
            name: 'x-auth-token',
            description: 'A session token from POST /api/v1/auth/token/',
          },
        },
      },
      security: [
        { BearerAuth: [] },
        { TokenAuth: [] },
        { ApiKeyAuth: [] },
        { TokenIdAuth: [] },
        { SessionAuth: [] },
      ],
    },
    transformObject: (documentObject) => {
      const openapiObject = (documentObject as unknown as { openapiObject: Record<string, unknown> })
        .openapiObject;
      const doc = openapiObject as {
        paths?: Record<string, Record<string, Record<string, unknown>>>;
      };
      const byKey = new Map(table.routes.map((r) => [`${r.method} ${toOpenApiPath(r.url)}`, r.permission]));
      for (const [path, item] of Object.entries(doc.paths ?? {})) {
        for (const [method, op] of Object.entries(item)) {
          const permission = byKey.get(`${method.toUpperCase()} ${toOpenApiPath(path)}`);
          if (permission === undefined) continue;
          op['x-required-permission'] = permission;
          op.operationId ??= operationIdOf(method, path);
          if (permission === 'public') op.security = [];
        }
      }
      return openapiObject as never;
    },
  });

  app.get(
    '/api/v1/openapi.json',
    {
      config: { permission: 'public' },
      schema: { hide: true },
    },
    async (_req, reply) => reply.type('application/json').send(app.swagger()),
  );
  app.get(
    '/api/v1/openapi.yaml',
    {
      config: { permission: 'public' },
      schema: { hide: true },
    },
    async (_req, reply) => reply.type('application/yaml').send(app.swagger({ yaml: true })),
  );

  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    uiConfig: {
      url: '/api/v1/openapi.json',
      persistAuthorization: false,
      displayRequestDuration: true,
      tryItOutEnabled: false,
    },
  });
}
