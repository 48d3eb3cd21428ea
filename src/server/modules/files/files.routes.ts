// /api/v1/files/: upload (multipart or raw body), list with filters, download, delete.

import type { MultipartFile } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { storableText } from '../../http/input-guard.js';
import { PageOf, PageQuery, parsePage, SearchQuery, sendPage } from '../../http/pagination.js';
import { ErrorResponses, Id, IdParams, Nullable } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { Principal } from '../../shared/principal.js';
import { type FileService, type NewFileMeta, parseTags, type Visibility } from './files.service.js';
import { validateFilename } from './upload.js';

const FileSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    size: Type.Integer({ description: 'Bytes' }),
    sha256: Type.String(),
    file_type: Type.String({
      description:
        'Detected from the content: pcap, pcapng, gzip, zip, pdf, elf, pe, png, jpeg, pem, text, binary',
    }),
    mime_type: Type.String(),
    tags: Type.Array(Type.String()),
    profile: Nullable(Type.String()),
    owner_id: Nullable(Type.Integer()),
    group_id: Nullable(Type.Integer()),
    visibility: Type.String({ description: '`private`, `group` or `public`' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  {
    examples: [
      {
        id: 7,
        name: 'capture.pcap',
        size: 24576,
        sha256: 'a3f1…',
        file_type: 'pcap',
        mime_type: 'application/vnd.tcpdump.pcap',
        tags: ['soc', 'incident-42'],
        profile: 'default',
        owner_id: 1,
        group_id: null,
        visibility: 'private',
        created_at: '2026-11-24T10:00:00.000Z',
      },
    ],
  },
);

const META_FIELDS = ['tags', 'profile', 'visibility', 'owner_id', 'group_id', 'filename'];

const RawQuery = Type.Object(
  {
    filename: Type.Optional(Type.String({ maxLength: 120, description: 'File name (raw-body uploads)' })),
    tags: Type.Optional(Type.String({ maxLength: 4000, description: 'Comma-separated tags' })),
    profile: Type.Optional(Type.String({ maxLength: 100 })),
    visibility: Type.Optional(
      Type.Union([Type.Literal('private'), Type.Literal('group'), Type.Literal('public')]),
    ),
    owner_id: Type.Optional(Id()),
    group_id: Type.Optional(Id()),
  },
  { additionalProperties: false },
);

function metaFrom(
  raw: Record<string, string | number | undefined>,
  where: 'body' | 'query',
): Omit<NewFileMeta, 'filename'> {
  const vis = raw.visibility;
  if (vis !== undefined && !['private', 'group', 'public'].includes(String(vis))) {
    throw badField(`${where}.visibility`, 'must be private, group or public');
  }
  const int = (k: string) => {
    const v = raw[k];
    if (v === undefined || v === '') return undefined;
    if (!/^\d{1,9}$/.test(String(v))) throw badField(`${where}.${k}`, 'must be a positive integer');
    return Number(v);
  };
  const tags = parseTags(raw.tags === undefined ? undefined : String(raw.tags), `${where}.tags`);
  const profile =
    raw.profile === undefined || raw.profile === '' ? undefined : String(raw.profile).slice(0, 100);
  const ownerId = int('owner_id');
  const groupId = int('group_id');
  return {
    ...(tags?.length ? { tags } : {}),
    ...(profile ? { profile } : {}),
    ...(vis ? { visibility: vis as Visibility } : {}),
    ...(ownerId !== undefined ? { ownerId } : {}),
    ...(groupId !== undefined ? { groupId } : {}),
  };
}

export const filesRoutes: FastifyPluginAsync<{ files: FileService; maxFileBytes?: number }> = async (
  app,
  { files, maxFileBytes },
) => {
  // Raw uploads: the body stays a stream; the service enforces the size while writing.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/api/v1/files/',
    {
      config: { permission: 'files:write' },
      schema: {
        tags: ['files'],
        summary: 'Upload a file',
        description:
          'multipart/form-data with `file` and optional `tags` (comma-separated), `profile`, `visibility`, ' +
          '`owner_id` (admins), `group_id`; or a raw `application/octet-stream` body with the same values in the ' +
          "query and `filename`. When no tags/profile/group are given, the API token's `default_tags`, " +
          '`default_profile` and group apply. The type is detected from the content.',
        consumes: ['multipart/form-data', 'application/octet-stream'],
        querystring: RawQuery,
        response: { 201: FileSchema, ...ErrorResponses(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      let out: Awaited<ReturnType<FileService['create']>>;
      if (request.isMultipart()) {
        const fields: Record<string, string> = {};
        out = await (async () => {
          for await (const part of request.parts({ limits: { fileSize: maxFileBytes ?? 64 * 1024 ** 3 } })) {
            if (part.type === 'file') {
              const f = part as MultipartFile;
              if (f.fieldname !== 'file') {
                f.file.resume();
                throw badField(`body.${f.fieldname}`, 'send the file as `file`');
              }
              // Metadata fields must come before the file, so the stream can go straight to disk.
              const filename = validateFilename(fields.filename ?? f.filename ?? '', 'body.file (filename)');
              const created = await files.create(actorOf(request), f.file, {
                ...metaFrom(fields, 'body'),
                filename,
              });
              for await (const rest of request.parts()) {
                if (rest.type === 'file') (rest as MultipartFile).file.resume();
              }
              return created;
            }
            if (!META_FIELDS.includes(part.fieldname))
              throw badField(`body.${part.fieldname}`, 'unknown field');
            fields[part.fieldname] = storableText(part.value, `body.${part.fieldname}`);
          }
          throw badField('body.file', 'is required');
        })();
      } else {
        const ct = String(request.headers['content-type'] ?? '');
        if (!ct.startsWith('application/octet-stream')) {
          throw new AppError({
            code: 'unsupported_media_type',
            message: 'send multipart/form-data or application/octet-stream',
          });
        }
        const q = request.query;
        if (!q.filename) throw badField('query.filename', 'is required for a raw-body upload');
        const filename = validateFilename(q.filename, 'query.filename');
        out = await files.create(actorOf(request), request.body as NodeJS.ReadableStream, {
          ...metaFrom(q as Record<string, string>, 'query'),
          filename,
        });
      }
      reply.code(201);
      return out;
    },
  );

  r.get(
    '/api/v1/files/',
    {
      config: { permission: 'files:read' },
      schema: {
        tags: ['files'],
        summary: 'List files',
        description:
          'Files visible to the caller (own, group-visible, public; admins see all), newest first.',
        querystring: Type.Object(
          {
            ...PageQuery,
            ...SearchQuery,
            tag: Type.Optional(Type.String({ maxLength: 64, description: 'Only files with this tag' })),
            owner_id: Type.Optional(Id()),
            type: Type.Optional(Type.String({ maxLength: 20, description: 'Detected type, e.g. `pcap`' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(FileSchema), ...ErrorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = parsePage(q);
      const { results, count } = await files.list(
        request.principal as Principal,
        { tag: q.tag, ownerId: q.owner_id, type: q.type, search: q.search },
        page.limit,
        page.offset,
      );
      return sendPage(request, reply, page, count, results);
    },
  );

  r.get(
    '/api/v1/files/:id/',
    {
      config: { permission: 'files:read' },
      schema: {
        tags: ['files'],
        summary: "Get a file's details",
        description: 'Metadata of one file visible to the caller.',
        params: IdParams,
        response: { 200: FileSchema, ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { stored_name: _s, ...out } = await files.get(request.principal as Principal, request.params.id);
      return out;
    },
  );

  r.get(
    '/api/v1/files/:id/download/',
    {
      config: { permission: 'files:read' },
      schema: {
        tags: ['files'],
        summary: 'Download a file',
        description:
          "The file's bytes, always as an attachment (`Content-Disposition` set by the server), never rendered.",
        params: IdParams,
        produces: ['application/octet-stream'],
        response: {
          200: Type.String({ contentMediaType: 'application/octet-stream' }),
          ...ErrorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const f = await files.get(request.principal as Principal, request.params.id);
      const ascii = f.name.replace(/[^\x20-\x7e]|["\\]/g, '_');
      reply
        .type('application/octet-stream')
        .header('content-length', String(f.size))
        .header('x-content-type-options', 'nosniff')
        .header(
          'content-disposition',
          `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(f.name)}`,
        );
      return reply.send(files.open(f.stored_name) as never);
    },
  );

  r.delete(
    '/api/v1/files/:id/',
    {
      config: { permission: 'files:write' },
      schema: {
        tags: ['files'],
        summary: 'Delete a file',
        description: 'Owner or admin.',
        params: IdParams,
        response: { 204: Type.Null(), ...ErrorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await files.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
