// POST /api/v1/system/upload/ (one flow.js chunk per request) and GET (is this chunk there?).

import type { MultipartFile } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { storableText } from '../../http/input-guard.js';
import { ErrorResponses } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';
import { IDENTIFIER_RE, parseChunkFields, type UploadStore, validateFilename } from './upload.js';

const FIELD_NAMES = [
  'flowIdentifier',
  'flowFilename',
  'flowTotalSize',
  'flowCurrentChunkSize',
  'flowChunkNumber',
];
// flow.js also sends these; they are accepted and not needed (sizes decide completeness).
const FLOWJS_EXTRA = ['flowChunkSize', 'flowTotalChunks', 'flowRelativePath'];

const ChunkResult = Type.Object(
  {
    complete: Type.Boolean({ description: 'Whether every chunk has arrived and the file is assembled' }),
    filename: Type.String({ description: 'Name of the assembled file: `<flowIdentifier>.<flowFilename>`' }),
    received: Type.Integer({ description: 'Bytes received so far for this identifier' }),
  },
  {
    examples: [
      { complete: true, filename: 'ce2e9dc99cf44b64ab09b67ff58370f7.valid_cert.pem', received: 892 },
    ],
  },
);

/** Reads the multipart parts: flow fields, and the `file` part streamed to a temporary file. */
export async function readMultipart(
  request: FastifyRequest,
  store: UploadStore,
): Promise<{ fields: Record<string, string>; file?: { path: string; size: number; filename: string } }> {
  const fields: Record<string, string> = {};
  let file: { path: string; size: number; filename: string } | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const f = part as MultipartFile;
        if (f.fieldname !== 'file' || file) {
          f.file.resume();
          throw badField(
            `body.${f.fieldname}`,
            file ? 'only one file per request' : 'unexpected file field; send it as `file`',
          );
        }
        const got = await store.receive(f.file);
        file = { ...got, filename: f.filename };
        if (f.file.truncated) {
          throw new AppError({
            code: 'payload_too_large',
            message: 'the file part is larger than this route accepts',
          });
        }
      } else {
        if (fields[part.fieldname] !== undefined) throw badField(`body.${part.fieldname}`, 'given twice');
        fields[part.fieldname] = storableText(part.value, `body.${part.fieldname}`);
      }
    }
  } catch (err) {
    await store.discard(file?.path);
    throw err;
  }
  return { fields, ...(file ? { file } : {}) };
}

export const uploadRoutes: FastifyPluginAsync<{ store: UploadStore }> = async (app, { store }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/api/v1/system/upload/',
    {
      config: { permission: 'system:write' },
      schema: {
        tags: ['system'],
        summary: 'Upload a file chunk',
        description:
          'multipart/form-data with `flowIdentifier` (32 hex characters), `flowFilename`, `flowTotalSize`, ' +
          '`flowCurrentChunkSize`, `flowChunkNumber` (from 1) and `file`. A small file is one chunk ' +
          '(`flowCurrentChunkSize` = `flowTotalSize`, `flowChunkNumber` = 1). When the chunks cover the total size ' +
          'the file is stored as `<flowIdentifier>.<flowFilename>`, the name the network settings take. ' +
          'A file over the size limit is refused with 413.',
        consumes: ['multipart/form-data'],
        response: { 200: ChunkResult, ...ErrorResponses(400, 401, 403, 409, 413, 415) },
      },
    },
    async (request) => {
      if (!request.isMultipart()) {
        throw new AppError({
          code: 'unsupported_media_type',
          message: 'this route expects multipart/form-data',
        });
      }
      const { fields, file } = await readMultipart(request, store);
      try {
        const unknown = Object.keys(fields).filter(
          (k) => !FIELD_NAMES.includes(k) && !FLOWJS_EXTRA.includes(k),
        );
        if (unknown.length) throw badField(`body.${unknown[0]}`, 'unknown field');
        const f = parseChunkFields(fields, store.limits);
        if (!file) throw badField('body.file', 'is required');
        const res = await store.storeChunk(f, file.path, file.size);
        if (res.complete) {
          app.log.info({ file: res.filename }, 'upload complete');
        }
        return res;
      } catch (err) {
        await store.discard(file?.path);
        throw err;
      }
    },
  );

  r.get(
    '/api/v1/system/upload/',
    {
      config: { permission: 'system:read' },
      schema: {
        tags: ['system'],
        summary: 'Test whether a chunk is already uploaded',
        description:
          'The flow.js `testChunks` request: 200 when the chunk (or the whole file) is already stored, 204 when it ' +
          'still has to be sent. Lets an interrupted upload resume where it stopped.',
        querystring: Type.Object(
          {
            flowIdentifier: Type.String({ maxLength: 32, description: '32 hex characters' }),
            flowFilename: Type.String({ maxLength: 120 }),
            flowChunkNumber: Type.Integer({ minimum: 1 }),
            flowCurrentChunkSize: Type.Optional(Type.Integer({ minimum: 1 })),
            flowTotalSize: Type.Optional(Type.Integer({ minimum: 1 })),
            flowChunkSize: Type.Optional(Type.Integer({ minimum: 1 })),
            flowTotalChunks: Type.Optional(Type.Integer({ minimum: 1 })),
            flowRelativePath: Type.Optional(Type.String({ maxLength: 300 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ detail: Type.String() }, { examples: [{ detail: 'chunk present' }] }),
          204: Type.Null({ description: 'Chunk not stored yet: send it' }),
          ...ErrorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (!IDENTIFIER_RE.test(q.flowIdentifier))
        throw badField('query.flowIdentifier', 'must be 32 hexadecimal characters');
      validateFilename(q.flowFilename, 'query.flowFilename');
      const present = await store.hasChunk(
        q.flowIdentifier.toLowerCase(),
        q.flowFilename,
        q.flowChunkNumber,
        q.flowCurrentChunkSize,
      );
      if (!present) return reply.code(204).send(null);
      return { detail: 'chunk present' };
    },
  );
};
