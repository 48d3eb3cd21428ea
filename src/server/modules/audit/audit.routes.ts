import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { type Static, Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ExportQuery, ExportResponse, sendExport } from '../../http/export.js';
import {
  CursorQuery,
  decodeCursor,
  encodeCursor,
  linkTo,
  PageOf,
  PageQuery,
  parsePage,
  sendPage,
} from '../../http/pagination.js';
import { ErrorResponses, Id, Nullable } from '../../http/schemas.js';
import type { AuditFilter, AuditService } from './audit.service.js';

export const AuditRecord = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    action: Type.String({ description: 'What happened, e.g. `token.created`, `auth.login_failed`' }),
    outcome: Type.String({ description: '`success`, `failure` or `denied`' }),
    user_id: Nullable(Type.Integer()),
    username: Nullable(Type.String()),
    token_id: Nullable(Type.Integer(), {
      description: 'Id of the API token used (never the secret)',
    }),
    auth_method: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    method: Nullable(Type.String()),
    path: Nullable(Type.String()),
    status: Nullable(Type.Integer()),
    target_type: Nullable(Type.String()),
    target_id: Nullable(Type.String()),
    summary: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
    request_id: Nullable(Type.String()),
  },
  {
    examples: [
      {
        id: 42,
        at: '2026-11-24T10:00:00.000Z',
        action: 'token.created',
        outcome: 'success',
        user_id: 1,
        username: 'admin',
        token_id: null,
        auth_method: 'session',
        ip: '192.0.2.10',
        user_agent: 'curl/8.5.0',
        method: 'POST',
        path: '/api/v1/tokens/',
        status: 201,
        target_type: 'token',
        target_id: '7',
        summary: 'created token "siem-export" for admin',
        details: {},
        request_id: '3f0c…',
      },
    ],
  },
);

export const AuditQuery = Type.Object(
  {
    ...PageQuery,
    ...CursorQuery,
    user_id: Type.Optional(Id({ description: 'Only records of this user' })),
    username: Type.Optional(Type.String({ maxLength: 150 })),
    token_id: Type.Optional(Id({ description: 'Only requests made with this API token' })),
    action: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'Action, exactly, or a prefix ending in `*` such as `token.*`',
      }),
    ),
    outcome: Type.Optional(
      Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
    ),
    target_type: Type.Optional(Type.String({ maxLength: 50 })),
    target_id: Type.Optional(Type.String({ maxLength: 100 })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Records at or after this time' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Records before this time' })),
  },
  { additionalProperties: false },
);

type AuditFilterQuery = Omit<
  Static<typeof AuditQuery>,
  'page' | 'page_size' | 'size' | 'limit' | 'offset' | 'cursor'
>;

const filterOf = (q: AuditFilterQuery): AuditFilter => ({
  userId: q.user_id,
  username: q.username,
  tokenId: q.token_id,
  action: q.action,
  outcome: q.outcome,
  targetType: q.target_type,
  targetId: q.target_id,
  since: q.since ? new Date(q.since) : undefined,
  until: q.until ? new Date(q.until) : undefined,
});

export const auditRoutes: FastifyPluginAsync<{ audit: AuditService }> = async (app, { audit }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/audit/',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['audit'],
        summary: 'List audit records',
        description:
          'Newest first. Every authentication event and every mutating request leaves one record. ' +
          'Use `cursor` (the `next` link) to walk a long history without deep offsets; `page`/`limit` work too.',
        querystring: AuditQuery,
        response: { 200: PageOf(AuditRecord), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const filter = filterOf(q);
      if (q.cursor !== undefined) {
        const c = decodeCursor(q.cursor, { before: 'id' });
        const limit = q.limit ?? q.page_size ?? q.size ?? 20;
        const [results, count] = await Promise.all([
          audit.list({ ...filter, beforeId: c.before }, limit),
          audit.count(filter),
        ]);
        const last = results.at(-1);
        const next =
          results.length === limit && last
            ? linkTo(request, app.baseUrl(), { cursor: encodeCursor({ before: last.id }) })
            : null;
        reply.header('x-total-count', String(count));
        return { count, next, previous: null, results };
      }
      const page = parsePage(q);
      const [results, count] = await Promise.all([
        audit.list(filter, page.limit, page.offset),
        audit.count(filter),
      ]);
      const body = sendPage(request, reply, page, count, results);
      // Offer a keyset cursor as the next link for offset-free walking of the rest.
      const last = results.at(-1);
      if (body.next && last)
        body.next = linkTo(request, app.baseUrl(), {
          cursor: encodeCursor({ before: last.id }),
          page: null,
          offset: null,
        });
      return body;
    },
  );

  r.get(
    '/api/v1/audit/export/',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['audit'],
        summary: 'Export audit records (CSV or JSON)',
        description:
          'Every record the list would show with the same filters, newest first, as one file ' +
          '(`steward-audit-<date>.csv` or `.json`), streamed: the manager reads it in batches, so an ' +
          'export of the whole log takes no more memory than a page. Same fields as the list items; ' +
          '`details` is a JSON cell in CSV. The export is itself recorded (`audit.exported`, with the ' +
          'format and filters) before the first row is read. A bad filter is a 400 before any byte ' +
          'is sent; a failure part-way aborts the connection, so a download is never silently cut short.',
        querystring: ExportQuery(AuditQuery),
        response: {
          200: ExportResponse(AuditRecord),
          ...ErrorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { format, ...filters } = request.query;
      const batches = await audit.exportRecords(actorOf(request), filterOf(filters), { format, filters });
      return sendExport(reply, { name: 'audit', format, item: AuditRecord, batches });
    },
  );
};
