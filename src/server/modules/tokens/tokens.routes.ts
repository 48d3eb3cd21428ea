// API tokens (Cyber Vision's token table and more) and the token settings.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { principalOf } from '../../http/auth.js';
import { ExportQuery, ExportResponse, sendExport } from '../../http/export.js';
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
import type { IdentityServices } from '../identity/identity.services.js';
import { DEFAULT_USAGE_WINDOW } from './token-usage.service.js';
import {
  Activity,
  CreateTokenBody,
  NarrowBody,
  NarrowResult,
  RefreshBody,
  Token,
  TokenSettingsSchema,
  TokenUsage,
  TokenWithSecret,
  UpdateTokenBody,
  UsageQuery,
} from './tokens.schemas.js';

const TOKEN_ORDERING = ['id', 'name', 'created_at', 'expires_at', 'last_used_at'] as const;

/** The token list's query (the export takes the same filters and order). */
const TokenListQuery = StrictObject({
  ...PageQuery,
  ...SearchQuery,
  ...OrderingQuery(TOKEN_ORDERING),
  owner_id: Type.Optional(Id()),
  kind: Type.Optional(Type.Union([Type.Literal('api_token'), Type.Literal('api_key')])),
  include_revoked: Type.Optional(Type.Boolean()),
});

export const tokensRoutes: FastifyPluginAsync<IdentityServices> = async (
  app,
  { tokens, tokenSettings, tokenUsage, tokenExport },
) => {
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
        querystring: TokenListQuery,
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

  r.get(
    '/api/v1/tokens/export/',
    {
      config: { permission: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: 'Export API tokens (CSV or JSON)',
        description:
          'The tokens the list (`GET /api/v1/tokens/`) shows you with the same filters and `ordering`: your ' +
          "own, or everyone's for admins; with the list's fields, so never a secret or its digest (only the " +
          'prefix and last four characters). One file (`steward-tokens-<date>.csv` or `.json`), streamed ' +
          'a page at a time; objects and arrays (scopes, restrictions) are JSON cells in CSV. Recorded in ' +
          'the audit log (`token.exported`, with the format and filters). A bad filter is a 400 before ' +
          'any byte is sent.',
        querystring: ExportQuery(TokenListQuery),
        response: { 200: ExportResponse(Token), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { format, ordering, owner_id, kind, search, include_revoked } = request.query;
      const order = parseOrdering(ordering, TOKEN_ORDERING, [{ field: 'id', direction: 'asc' }]);
      const batches = await tokenExport.exportTokens(
        actorOf(request),
        { owner_id, kind, search, includeRevoked: include_revoked },
        order,
        format,
      );
      return sendExport(reply, { name: 'tokens', format, item: Token, batches });
    },
  );

  r.post(
    '/api/v1/tokens/',
    {
      config: { permission: 'tokens:write', credential: 'issue' },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token',
        description:
          "Creates a token and answers its secret in `token`, once. Scopes must be a subset of the owner's permissions and of the caller's (default: the owner's read permissions). " +
          "`group_id` must be the owner's group. The token never outlives the token that creates it (without `expires_at`, it gets the shorter of the default lifetime and the caller's expiry). " +
          'Without `expires_at` the default lifetime of the token settings applies. Admins create tokens for anyone (`owner_id`), including API-only users; ' +
          'other users create their own only when user-defined tokens are on.',
        body: CreateTokenBody,
        response: { 201: TokenWithSecret, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await tokens.create(actorOf(request), principalOf(request), request.body)),
  );

  r.post(
    '/api/v1/tokens/self/refresh/',
    {
      config: { permission: 'authenticated', credential: 'issue' },
      schema: {
        tags: ['tokens'],
        summary: 'Rotate the token making this request',
        description:
          'A script rotates its own credential without an admin: the answer holds the new secret; the old one keeps working for `grace_period_seconds` (0 to 86,400). ' +
          'Only the current secret refreshes: a secret in its grace period is refused (403), so a leaked secret cannot rotate the token away from its holder. ' +
          'A refresh never extends the token: `expires_at` may only keep or shorten it (`null` on an expiring token is a 400), and the lifetime cap applies.',
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
        actorOf(request),
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
      config: { permission: 'tokens:write', credential: 'change' },
      schema: {
        tags: ['tokens'],
        summary: 'Change an API token',
        description:
          'Changes name, scopes, expiry, limits, or `enabled` (the enable/disable toggle). A disabled token is refused on the very next request. ' +
          'Restricting (disable, fewer scopes, earlier expiry, fewer IPs, lower rate limit) is always allowed; a change that widens the token must keep it within the caller (403 naming what exceeds). ' +
          "What an admin set on someone else's token (`restrictions`) only an admin loosens (403 naming the field and the admin).",
        params: IdParams,
        body: UpdateTokenBody,
        response: { 200: Token, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => tokens.update(actorOf(request), principalOf(request), request.params.id, request.body),
  );

  r.delete(
    '/api/v1/tokens/:id/',
    {
      config: { permission: 'tokens:write', credential: 'end' },
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
      await tokens.revoke(actorOf(request), principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/v1/tokens/:id/refresh/',
    {
      config: { permission: 'tokens:write', credential: 'issue' },
      schema: {
        tags: ['tokens'],
        summary: 'Refresh (rotate) an API token',
        description:
          'Issues a new secret, answered once in `token`. The previous secret keeps working for `grace_period_seconds` (default 0), then dies. ' +
          'A refresh never extends the token (`expires_at` may only shorten it; an expired token is a 409: give it a new expiry with PATCH first), ' +
          'and the token must lie within the caller: its permissions, group and expiry (see the credential invariant in docs/authentication.md).',
        params: IdParams,
        body: RefreshBody,
        response: { 200: TokenWithSecret, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      tokens.refresh(
        actorOf(request),
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
    '/api/v1/tokens/:id/usage/',
    {
      config: { permission: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: "Which of a token's scopes its requests used",
        description:
          'For each scope of the token: how many requests in the `window` (default `30d`) needed it, and when it was last used. ' +
          'Every request made with the token counts, on every module, mapped to the permission its route requires. `unused` lists the scopes nothing needed: the candidates for POST /api/v1/tokens/{id}/narrow/. ' +
          'Counts have an hour resolution. Requests are known from the token’s creation (`observed_since`).\n\n' +
          "```\ncurl -H 'Authorization: Token …' 'https://manager:8443/api/v1/tokens/7/usage/?window=90d'\n```",
        params: IdParams,
        querystring: UsageQuery,
        response: { 200: TokenUsage, ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      tokenUsage.report(
        principalOf(request),
        request.params.id,
        request.query.window ?? DEFAULT_USAGE_WINDOW,
      ),
  );

  r.post(
    '/api/v1/tokens/:id/narrow/',
    {
      config: { permission: 'tokens:write', credential: 'change' },
      schema: {
        tags: ['tokens'],
        summary: 'Narrow a token to the scopes it used',
        description:
          'Least privilege after the fact: removes every scope that no request made with the token needed in the `window` (default `30d`), ' +
          'keeping those in `keep`. Audited as `token.narrowed` with the removed scopes. Narrowing to nothing is refused (409): revoke the token instead. ' +
          "API keys (all of the owner's permissions) cannot be narrowed (409). Follows the same rules as PATCH (user-defined tokens, admin restrictions).",
        params: IdParams,
        body: NarrowBody,
        response: { 200: NarrowResult, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      tokenUsage.narrow(
        actorOf(request),
        principalOf(request),
        request.params.id,
        request.body.window ?? DEFAULT_USAGE_WINDOW,
        request.body.keep,
      ),
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
      config: { permission: 'system:write', credential: 'policy' },
      schema: {
        tags: ['tokens'],
        summary: 'Change the API token settings',
        description:
          'Takes effect at once. Existing tokens keep their expiry; the caps apply to tokens created or changed afterwards.',
        body: TokenSettingsSchema,
        response: { 200: TokenSettingsSchema, ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request) => tokens.saveSettings(actorOf(request), request.body),
  );
};
