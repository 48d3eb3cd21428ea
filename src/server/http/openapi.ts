// The OpenAPI 3.1 document, generated from the route schemas by @fastify/swagger, and the
// interactive docs page (Swagger UI, with Authorize and "Try it out" that shows the curl
// command). Each operation's required permission is added as `x-required-permission` from the
// route table, so the document cannot disagree with what the server enforces. The error
// statuses every operation can answer because of the shared layers (credentials, permissions,
// rate limits, body parsing, the router, the database) are added here from the route's
// properties, each referring to one problem+json schema, so no operation can forget one.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { DOCS_CSS, docsRequestInterceptor, STEWARD_ICON_SVG, STEWARD_LOGO_SVG } from './docs-branding.js';
import type { RouteTable } from './route-table.js';
import { ERROR_DESCRIPTIONS, ProblemSchema } from './schemas.js';

export const OPENAPI_TAGS = [
  { name: 'auth', description: 'Log in, log out, and find out who a credential belongs to' },
  { name: 'users', description: 'User accounts, roles and groups' },
  { name: 'tokens', description: 'API tokens: named, scoped, expiring, rotatable credentials for scripts' },
  { name: 'audit', description: 'Who did what, when, with which credential' },
  {
    name: 'summary',
    description: 'The fleet at a glance: counts, what needs attention, alerts and work under way',
  },
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

/** The problem document schema as plain JSON Schema (TypeBox adds non-enumerable symbols only). */
function problemSchemaDocument() {
  return {
    ...JSON.parse(JSON.stringify(ProblemSchema)),
    description: 'An RFC 9457 problem document; `errors[]` names each bad field',
  };
}

const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** What the shared layers make an operation able to answer, whatever its handler does. */
export function sharedErrorStatuses(op: {
  method: string;
  permission: string;
  hasPathParams: boolean;
}): number[] {
  // 400: two credentials in one request, a bad query or body; 429: the per-IP budget (and the
  // token's own); 431: headers too large (the HTTP server); 503: database away or shutting down.
  const statuses = [400, 429, 431, 503];
  if (op.permission !== 'public') statuses.push(401, 403);
  // 404: no such object; 414: a path segment over the router's 200 characters.
  if (op.hasPathParams) statuses.push(404, 414);
  // Fastify parses a body on these methods whatever the route declares: too large, or a type
  // no parser takes.
  if (BODY_METHODS.has(op.method)) statuses.push(413, 415);
  return statuses;
}

type Operation = Record<string, unknown> & {
  parameters?: { in: string }[];
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: unknown; example?: unknown }> }
  >;
};

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

function problemExample(status: number, example?: unknown) {
  if (example !== undefined) return example;
  const d = ERROR_DESCRIPTIONS[status];
  return {
    type: `https://steward.invalid/problems/${d?.code ?? 'bad_request'}`,
    title: 'Error',
    status,
    detail: d?.detail ?? '',
    code: d?.code ?? 'bad_request',
    request_id: 'b7f1c2d4-5e6f-4a1b-9c8d-0e1f2a3b4c5d',
  };
}

/**
 * Adds the shared error statuses to one operation and makes every error response an
 * `application/problem+json` document referring to the shared Problem schema.
 */
export function documentErrors(method: string, permission: string, op: Operation) {
  op.responses ??= {};
  const hasPathParams = (op.parameters ?? []).some((p) => p.in === 'path');
  for (const status of sharedErrorStatuses({ method, permission, hasPathParams })) {
    op.responses[String(status)] ??= { description: ERROR_DESCRIPTIONS[status]?.description ?? 'Error' };
  }
  for (const [status, response] of Object.entries(op.responses)) {
    const code = Number(status);
    if (!(code >= 400)) continue;
    if (code === 431) {
      // Node's HTTP parser answers it before the application: no body.
      delete response.content;
      continue;
    }
    const example = Object.values(response.content ?? {})[0]?.example;
    response.content = {
      'application/problem+json': { schema: PROBLEM_REF, example: problemExample(code, example) },
    };
  }
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
          '**Trying it out on this page:** signed in to the console in this browser, "Try it out" acts with your console session and its permissions, with nothing to enter.',
          'Otherwise click **Authorize** and paste a token, alone, into `TokenAuth`.',
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
        // The recommended scheme first: Swagger UI's Authorize dialog lists them in this order.
        securitySchemes: {
          TokenAuth: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description:
              'Recommended. Scripts send `Authorization: Token <token>`. On this page, paste the token alone (an API token, `stws…`, or a session token): the page adds the word `Token`.',
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
        { TokenAuth: [] },
        { BearerAuth: [] },
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
          documentErrors(method, permission, op as Operation);
        }
      }
      openapiObject.components ??= {};
      const components = openapiObject.components as { schemas?: Record<string, unknown> };
      components.schemas = { ...(components.schemas ?? {}), Problem: problemSchemaDocument() };
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
    // Steward's name, logo and icon; no "Explore" bar (docs-branding.ts).
    logo: { type: 'image/svg+xml', content: Buffer.from(STEWARD_LOGO_SVG), href: '/', target: '_self' },
    theme: {
      title: 'Steward API',
      css: [{ filename: 'steward.css', content: DOCS_CSS }],
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          sizes: 'any',
          type: 'image/svg+xml',
          content: Buffer.from(STEWARD_ICON_SVG),
        },
      ],
    },
    uiConfig: {
      url: '/api/v1/openapi.json',
      persistAuthorization: false,
      displayRequestDuration: true,
      tryItOutEnabled: false,
      // The console's session and CSRF header on this manager, a bare token completed (docs-branding.ts).
      // Passed as itself, not wrapped: Swagger UI's page gets this function's source text.
      requestInterceptor: docsRequestInterceptor as unknown as (r: object) => object,
    },
  });
}
