// Login, logout, who am I, and login sessions.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { crossSiteReason, principalOf, SESSION_COOKIE } from '../../http/auth.js';
import { withMultipart } from '../../http/multipart.js';
import { ErrorResponses, Id, IdParams, MessageResponse, StrictObject } from '../../http/schemas.js';
import { AppError, notFound } from '../../shared/app-error.js';
import { LoginBody, LoginResponse, Session, WhoAmI } from './identity.schemas.js';
import type { IdentityServices } from './identity.services.js';
import { LOCKOUT_ACCOUNT_FAILURES, LOCKOUT_SOURCE_FAILURES } from './lockout.js';
import { userOut } from './user-output.js';

/**
 * The login route. The seed logs in with a multipart form: small forms are parsed into the body
 * so the schema validates them like JSON (no files are accepted). Only this route parses forms.
 */
const loginRoute: FastifyPluginAsync<IdentityServices> = async (app, { sessions }) => {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/api/v1/auth/token/',
    {
      // A JSON document is read as JSON whatever its declared type (the InsightCloudSec script
      // logs in with Content-Type: text/plain): see readsJsonAnyType in http/conventions.ts.
      config: { permission: 'public', credential: 'issue', jsonBodyAnyType: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in: exchange a username and password for a session token',
        description:
          'Accepts `multipart/form-data` (as `curl --form`), `application/x-www-form-urlencoded` or JSON. ' +
          'Answers a session token that works as `Authorization: Token`, `Authorization: Bearer` or `x-auth-token`. ' +
          `After ${LOCKOUT_SOURCE_FAILURES} failed logins to an account from one address in 15 minutes, that address's logins to the account ` +
          `are refused for 15 minutes (423 with \`Retry-After\`), the correct password too; after ${LOCKOUT_ACCOUNT_FAILURES} from all addresses, ` +
          "the account's logins are refused for everyone. An admin lifts both with `POST /api/v1/authentication/users/{id}/unlock/`. " +
          'A wrong password and an unknown user get the same 401. An API-only user gets 403 only after giving the correct password ' +
          '(one set before the account became API-only); otherwise the same 401 as anyone else. With directory logins on (`/api/v1/config/directory/`), users who are ' +
          'not local log in with their LDAP password (503 when the directory cannot be reached). ' +
          "A browser's login from another site's page (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` other than the manager's host) is a 403, so a hostile page cannot sign a visitor into an account of its choosing.\n\n" +
          "```\ncurl -k -X POST 'https://manager:8443/api/v1/auth/token/' --form 'username=admin' --form 'password=...'\n```",
        consumes: ['multipart/form-data', 'application/x-www-form-urlencoded', 'application/json'],
        body: LoginBody,
        response: { 200: LoginResponse, ...ErrorResponses(400, 401, 403, 415, 423, 429, 503) },
      },
    },
    async (request, reply) => {
      const crossSite = crossSiteReason(request);
      if (crossSite)
        throw new AppError({
          code: 'forbidden',
          message: `login from another site's page is refused (${crossSite}): sign in on the console's own page`,
        });
      const out = await sessions.login(actorOf(request), request.body.username, request.body.password);
      // The console uses the cookie; scripts use the token from the body.
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${out.token}; Path=/; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`,
      );
      return out;
    },
  );
};

export const authRoutes: FastifyPluginAsync<IdentityServices> = async (app, services) => {
  const { sessions, cachedUser } = services;
  await app.register(
    withMultipart(loginRoute, {
      attachFieldsToBody: 'keyValues',
      limits: { files: 0, fields: 4, fieldSize: 2048, parts: 4 },
    }),
    services,
  );
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/api/v1/auth/logout/',
    {
      config: { permission: 'authenticated', credential: 'end' },
      schema: {
        tags: ['auth'],
        summary: 'Log out: end this session',
        description: 'Ends the session that makes the request. Its token stops working at once.',
        response: { 200: MessageResponse, ...ErrorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      await sessions.logout(actorOf(request), principalOf(request));
      reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      return { detail: 'logged out' };
    },
  );

  r.get(
    '/api/v1/auth/whoami/',
    {
      config: { permission: 'authenticated' },
      schema: {
        tags: ['auth'],
        summary: 'Who am I: the user and credential behind this request',
        description:
          'Shows the user, how the request was authenticated, and the effective permissions (role narrowed by token scopes).',
        response: { 200: WhoAmI, ...ErrorResponses(401) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const user = await cachedUser(p.userId);
      if (!user) throw notFound(`user ${p.userId}`);
      return {
        user: userOut(user),
        auth_method: p.method,
        credential_source: p.credentialSource,
        token_id: p.tokenId ?? null,
        session_id: p.sessionId ?? null,
        permissions: [...p.permissions].sort(),
      };
    },
  );

  r.get(
    '/api/v1/auth/sessions/',
    {
      config: { permission: 'sessions:read' },
      schema: {
        tags: ['auth'],
        summary: 'List live login sessions',
        description: "Your own sessions; admins see everyone's, or one user's with `user_id`.",
        querystring: StrictObject({ user_id: Type.Optional(Id()) }),
        response: { 200: Type.Array(Session), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request) => sessions.list(principalOf(request), request.query.user_id),
  );

  r.delete(
    '/api/v1/auth/sessions/:id/',
    {
      config: { permission: 'sessions:write', credential: 'end' },
      schema: {
        tags: ['auth'],
        summary: 'End a login session',
        description: "Ends one of your sessions, or anyone's for admins. Its token stops working at once.",
        params: IdParams,
        response: { 204: Type.Null({ description: 'Ended' }), ...ErrorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await sessions.end(actorOf(request), principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
