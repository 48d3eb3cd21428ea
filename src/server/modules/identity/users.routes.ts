// The seed's user API (paths exactly as in the Spectra Detect Manager guide), groups, and the
// per-user API key (InsightCloudSec).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
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
import { ErrorResponses, Id, IdParams, MessageResponse, Nullable, StrictObject } from '../../http/schemas.js';
import { TokenWithSecret } from '../tokens/tokens.schemas.js';
import {
  CreateGroupBody,
  CreateUserBody,
  Group,
  PasswordBody,
  RoleSchema,
  UpdateUserBody,
  User,
} from './identity.schemas.js';
import type { IdentityServices } from './identity.services.js';
import { LOCKOUT_ACCOUNT_FAILURES, LOCKOUT_SOURCE_FAILURES } from './lockout.js';
import { userOut } from './user-output.js';

const USER_ORDERING = ['id', 'username', 'email', 'date_joined', 'last_login', 'role'] as const;

export const usersRoutes: FastifyPluginAsync<IdentityServices> = async (app, { users, tokens, sessions }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/authentication/users/',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['users'],
        summary: 'List users',
        description:
          'All users of the manager, paginated. Filter by `role`, `is_active`, `api_only`, `group_id`; `search` matches name and email.',
        querystring: StrictObject({
          ...PageQuery,
          ...SearchQuery,
          ...OrderingQuery(USER_ORDERING),
          role: Type.Optional(RoleSchema),
          is_active: Type.Optional(Type.Boolean()),
          api_only: Type.Optional(Type.Boolean()),
          group_id: Type.Optional(Id()),
        }),
        response: { 200: PageOf(User), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = parsePage(q);
      const order = parseOrdering(q.ordering, USER_ORDERING, [{ field: 'id', direction: 'asc' }]);
      const filter = {
        search: q.search,
        role: q.role,
        is_active: q.is_active,
        api_only: q.api_only,
        group_id: q.group_id,
      };
      const { rows, count } = await users.list(filter, order, page.limit, page.offset);
      return sendPage(request, reply, page, count, rows.map(userOut));
    },
  );

  r.post(
    '/api/v1/authentication/users/add/',
    {
      config: { permission: 'users:write', credential: 'change' },
      schema: {
        tags: ['users'],
        summary: 'Add a user',
        description:
          'Creates a user. `password` is required unless `api_only` is true (API-only users use tokens only). New users are viewers unless `role` says otherwise.',
        body: CreateUserBody,
        response: { 201: User, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await users.create(actorOf(request), request.body)),
  );

  r.get(
    '/api/v1/authentication/users/:id/',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['users'],
        summary: 'Get a user',
        description: 'One user by id.',
        params: IdParams,
        response: { 200: User, ...ErrorResponses(401, 403, 404) },
      },
    },
    async (request) => userOut(await users.mustGet(request.params.id)),
  );

  r.patch(
    '/api/v1/authentication/users/:id/',
    {
      config: { permission: 'users:write', credential: 'change' },
      schema: {
        tags: ['users'],
        summary: 'Change a user',
        description:
          'Changes the given fields. `is_active: false` disables the user: their sessions end at once and their tokens are suspended until the user is enabled again. ' +
          "Giving a role, or enabling a user again, grants the role's permissions: the caller must hold all of them (403 naming what it lacks).",
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: User, ...ErrorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => users.update(actorOf(request), request.params.id, request.body),
  );

  const deleteSchema = {
    tags: ['users'],
    summary: 'Delete a user',
    description:
      'Deletes the user: their sessions end and their tokens are revoked. The built-in admin cannot be left without an active admin.',
    params: IdParams,
    response: { 204: Type.Null({ description: 'Deleted' }), ...ErrorResponses(401, 403, 404, 409) },
  };
  for (const path of ['/api/v1/authentication/users/:id/delete/', '/api/v1/authentication/users/:id/']) {
    r.delete(
      path,
      { config: { permission: 'users:write' }, schema: deleteSchema },
      async (request, reply) => {
        await users.remove(actorOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );
  }

  r.put(
    '/api/v1/authentication/users/:id/password/',
    {
      config: { permission: 'authenticated', credential: 'change' },
      schema: {
        tags: ['users'],
        summary: "Set a user's password",
        description:
          'Your own password: give `current_password`, unless this session was opened by a password login in the last 15 minutes. ' +
          "An API token can never change its owner's password. Another user's password needs `users:write`. " +
          "The user's other sessions end.",
        params: IdParams,
        body: PasswordBody,
        response: { 200: MessageResponse, ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await users.setPassword(
        actorOf(request),
        principalOf(request),
        request.params.id,
        request.body.password,
        request.body.current_password,
      );
      return { detail: 'password changed' };
    },
  );

  r.post(
    '/api/v1/authentication/users/:id/unlock/',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary: "Unlock a user's logins",
        description:
          "Forgets the user's failed logins, which ends both the lock of a single source (after " +
          `${LOCKOUT_SOURCE_FAILURES} failures from one address in 15 minutes) and the lock of the account for everyone ` +
          `(after ${LOCKOUT_ACCOUNT_FAILURES} failures from all addresses). The failures stay in the audit log; the unlock is audited too.`,
        params: IdParams,
        response: {
          200: Type.Object(
            {
              detail: Type.String(),
              cleared_failures: Type.Integer({ description: 'How many failed logins were forgotten' }),
            },
            { examples: [{ detail: 'logins of "alice" unlocked', cleared_failures: 7 }] },
          ),
          ...ErrorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => sessions.unlock(actorOf(request), request.params.id),
  );

  r.post(
    '/api/v1/authentication/users/:id/api-key/',
    {
      config: { permission: 'tokens:write', credential: 'issue' },
      schema: {
        tags: ['users'],
        summary: "Generate the user's API key",
        description:
          "Generates the user's one API key (all of the user's permissions) and deactivates the previous one, as InsightCloudSec does. " +
          "The caller must hold every permission of the user's role (403 naming what it lacks): a narrowly scoped token cannot mint a full key. " +
          'Send it as `Api-Key: <key>` (or any other token header). Shown once.',
        params: IdParams,
        body: StrictObject({
          expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
        }),
        response: { 201: TokenWithSecret, ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const user = await users.mustGet(request.params.id);
      const out = await tokens.create(
        actorOf(request),
        p,
        { name: 'API key', owner_id: user.id, expires_at: request.body.expires_at },
        'api_key',
      );
      return reply.code(201).send(out);
    },
  );

  r.get(
    '/api/v1/authentication/groups/',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['users'],
        summary: 'List user groups',
        description:
          'Groups a user or token can belong to (CloudShark groups: files uploaded with a token carry its group).',
        response: { 200: Type.Array(Group), ...ErrorResponses(401, 403) },
      },
    },
    async () => (await users.listGroups()).map((g) => ({ ...g, created_at: g.created_at.toISOString() })),
  );

  r.post(
    '/api/v1/authentication/groups/',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary: 'Create a user group',
        description: 'Creates a group. Names are unique, case-insensitively.',
        body: CreateGroupBody,
        response: { 201: Group, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const g = await users.createGroup(actorOf(request), request.body.name, request.body.description ?? '');
      return reply.code(201).send({ ...g, created_at: g.created_at.toISOString() });
    },
  );

  r.delete(
    '/api/v1/authentication/groups/:id/',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary: 'Delete a user group',
        description: 'Deletes the group; its users and tokens keep working without a group.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...ErrorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await users.deleteGroup(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
