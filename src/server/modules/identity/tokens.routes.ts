// API tokens (Cyber Vision's token table and more) and the token settings.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import {
  OrderingQuery,
  PageOf,
  PageQuery,
  parseOrdering,
  parsePage,
  SearchQuery,
  sendPage,
} from '../../http/pagination.js';
import { ErrorResponses, Id, IdParams, StrictObject } from '../../http/schemas.js';
import { AppError } from '../../shared/app-error.js';
import type { IdentityServices } from './identity.js';
import {
  Activity,
  CreateTokenBody,
  RefreshBody,
  Token,
  TokenSettingsSchema,
  TokenWithSecret,
  UpdateTokenBody,
} from './identity.schemas.js';

const TOKEN_ORDERING = ['id', 'name', 'created_at', 'expires_at', 'last_used_at'] as const;

export const tokensRoutes: FastifyPluginAsync<IdentityServices> = async (app, { tokens, tokenSettings }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/tokens/',
    {
      config: { permission: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: 'List API tokens',
        description:
          "Your tokens; admins see everyone's (filter with `owner_id`). Secrets are never shown: only the prefix and last four characters. Revoked tokens are hidden unless `include_revoked=true`.",
        querystring: StrictObject({
          ...PageQuery,
          ...SearchQuery,
          ...OrderingQuery(TOKEN_ORDERING),
          owner_id: Type.Optional(Id()),
          kind: Type.Optional(Type.Union([Type.Literal('api_token'), Type.Literal('api_key')])),
          include_revoked: Type.Optional(Type.Boolean()),
        }),
        response: { 200: PageOf(Token), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = parsePage(q);
      const order = parseOrdering(q.ordering, TOKEN_ORDERING, [{ field: 'id', direction: 'asc' }]);
      const { count, results } = await tokens.list(
        principalOf(request),
        { owner_id: q.owner_id, kind: q.kind, search: q.search, includeRevoked: q.include_revoked },
        order,
        page.limit,
        page.offset,
      );
      return sendPage(request, reply, page, count, results);
    },
  );

  r.post(
    '/api/v1/tokens/',
    {
      config: { permission: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token',
        description:
          "Creates a token and answers its secret in `token`, once. Scopes must be a subset of the owner's permissions (default: the owner's read permissions). " +
          'Without `expires_at` the default lifetime of the token settings applies. Admins create tokens for anyone (`owner_id`), including API-only users; ' +
          'other users create their own only when user-defined tokens are on.',
        body: CreateTokenBody,
        response: { 201: TokenWithSecret, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await tokens.create(request, principalOf(request), request.body)),
  );

  r.post(
    '/api/v1/tokens/self/refresh/',
    {
      config: { permission: 'authenticated' },
      schema: {
        tags: ['tokens'],
        summary: 'Rotate the token making this request',
        description:
          'A script rotates its own credential without an admin: the answer holds the new secret; the old one keeps working for `grace_period_seconds` (0 to 86,400).',
        body: RefreshBody,
        response: { 200: TokenWithSecret, ...ErrorResponses(400, 401, 409) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      if (p.tokenId === undefined) {
        throw new AppError({
          code: 'bad_request',
          message: 'this request was not made with an API token; use /api/v1/tokens/{id}/refresh/',
        });
      }
      return tokens.refresh(
        request,
        p,
        p.tokenId,
        request.body.grace_period_seconds ?? 0,
        request.body.expires_at,
        true,
      );
    },
  );

  r.get(
    '/api/v1/tokens/:id/',
    {
      config: { permission: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: 'Get an API token',
        description:
          "One token with its status and last use. Other users' tokens are not found unless you are an admin.",
        params: IdParams,
        response: { 200: Token, ...ErrorResponses(401, 403, 404) },
      },
    },
    async (request) => tokens.get(principalOf(request), request.params.id),
  );

  r.patch(
    '/api/v1/tokens/:id/',
    {
      config: { permission: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Change an API token',
        description:
          'Changes name, scopes, expiry, limits, or `enabled` (the enable/disable toggle). A disabled token is refused on the very next request.',
        params: IdParams,
        body: UpdateTokenBody,
        response: { 200: Token, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => tokens.update(request, principalOf(request), request.params.id, request.body),
  );

  r.delete(
    '/api/v1/tokens/:id/',
    {
      config: { permission: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an API token',
        description:
          'Revokes the token for good; it is refused on the very next request. The record stays for the audit trail.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...ErrorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await tokens.revoke(request, principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/v1/tokens/:id/refresh/',
    {
      config: { permission: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Refresh (rotate) an API token',
        description:
          'Issues a new secret, answered once in `token`. The previous secret keeps working for `grace_period_seconds` (default 0), then dies.',
        params: IdParams,
        body: RefreshBody,
        response: { 200: TokenWithSecret, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      tokens.refresh(
        request,
        principalOf(request),
        request.params.id,
        request.body.grace_period_seconds ?? 0,
        request.body.expires_at,
      ),
  );

  r.get(
    '/api/v1/tokens/:id/activity/',
    {
      config: { permission: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: 'Recent requests made with a token',
        description: 'Every request made with the token, reads included, newest first.',
        params: IdParams,
        querystring: StrictObject({ ...PageQuery }),
        response: { 200: PageOf(Activity), ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const page = parsePage(request.query);
      const { count, results } = await tokens.activity(
        principalOf(request),
        request.params.id,
        page.limit,
        page.offset,
      );
      return sendPage(request, reply, page, count, results);
    },
  );

  r.get(
    '/api/v1/config/api_tokens/',
    {
      config: { permission: 'system:read' },
      schema: {
        tags: ['tokens'],
        summary: 'Get the API token settings',
        description: 'Who may create tokens, lifetimes, default rate limit, tokens in URLs.',
        response: { 200: TokenSettingsSchema, ...ErrorResponses(401, 403) },
      },
    },
    async () => tokenSettings(),
  );

  r.post(
    '/api/v1/config/api_tokens/',
    {
      config: { permission: 'system:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Change the API token settings',
        description:
          'Takes effect at once. Existing tokens keep their expiry; the caps apply to tokens created or changed afterwards.',
        body: TokenSettingsSchema,
        response: { 200: TokenSettingsSchema, ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request) => tokens.saveSettings(request, request.body),
  );
};
